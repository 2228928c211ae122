// Commands the front end answers itself, on any replica, without the log (commands.h, kLocal):
// connection state (HELLO, CLIENT, SELECT, QUIT, RESET, AUTH), server facts (INFO, CONFIG GET),
// and the probes client tools send before their first real command (redis-cli: COMMAND DOCS;
// redis-benchmark: CONFIG GET save / appendonly).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/kv/commands.h"
#include "apps/kv/resp.h"

namespace mu::kv {

// What the engine tells the front end about replication, for INFO and HELLO. Supplied by a
// callback (RespServer::set_replication_view); the standalone default is a lone leader.
struct ReplicationView {
  std::string mu_role = "leader";  // leader | follower | candidate | standalone
  bool is_leader = true;           // INFO role:master (leader) or role:slave
  std::optional<uint32_t> self_id;
  std::optional<uint32_t> leader_id;
  std::string leader_address;  // the leader's RESP endpoint "host:port", when known
  uint32_t connected_followers = 0;
  // Extra "name:value" lines for INFO's replication section (e.g. mu_commit_index) and its
  // keyspace section (e.g. {"db0", "keys=3,expires=1,avg_ttl=0"}).
  std::vector<std::pair<std::string, std::string>> replication_fields;
  std::vector<std::pair<std::string, std::string>> keyspace_fields;
};

// The per-connection state local commands read and change.
struct ClientState {
  uint32_t id = 0;
  int resp_version = 2;
  std::string name;
  std::string peer_address;   // "ip:port"
  std::string local_address;  // "ip:port"
  int fd = -1;
  uint64_t connected_ms = 0;
  bool close_after_reply = false;  // QUIT: flush the replies, then close
};

// Server-wide numbers for INFO and CONFIG GET.
struct ServerFacts {
  uint16_t port = 0;
  uint64_t uptime_s = 0;
  uint64_t connected_clients = 0;
  uint64_t max_clients = 0;
  uint64_t total_connections = 0;
  uint64_t total_commands = 0;
  uint64_t rejected_connections = 0;
  uint64_t protocol_errors = 0;
  uint64_t rejected_commands = 0;
  uint64_t replies_dropped = 0;
  uint64_t max_bulk_bytes = 0;
};

// What local commands may ask of the server around them (RespServer implements it).
class FrontEnd {
 public:
  virtual ~FrontEnd() = default;
  virtual ReplicationView replication_view() const = 0;
  virtual ServerFacts server_facts() const = 0;
  // One CLIENT LIST line per connection, each ending in '\n'.
  virtual void describe_clients(std::string* out) const = 0;
  virtual uint64_t now_ms() const = 0;
};

// Appends the reply (in client.resp_version as it is after the command) to *reply.
void execute_local(const CommandInfo& info, Argv argv, ClientState& client,
                   const FrontEnd& front_end, std::string* reply);

// One CLIENT LIST / CLIENT INFO line for a client, ending in '\n'.
void describe_client(const ClientState& client, uint64_t now_ms, std::string* out);

constexpr std::string_view kRedisCompatibleVersion = "7.0.0";
constexpr std::string_view kMuVersion = "0.1.0";

}  // namespace mu::kv
