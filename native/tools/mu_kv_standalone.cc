// mu-kv-standalone: the RESP front end and the KV state machine in one process, without
// replication. For checking protocol compatibility with unmodified clients (redis-cli,
// redis-benchmark) and for measuring the front end alone.
//
//   mu-kv-standalone [--port 6379] [--bind 0.0.0.0] [--mode direct|log|follower]
//                    [--leader HOST:PORT] [--max-value BYTES]
//
// Modes:
//   direct    the handler executes each command on the store at once (the front end's cost);
//   log       each command takes the replicated path minus the network: encoded as a record,
//             queued with its ticket, applied on the next loop turn through KvStateMachine,
//             and its reply routed back through RespServer::complete — the same code the
//             engine runs, with a log that decides everything at once;
//   follower  every data command is refused with a redirect to --leader (MOVED).
//
// Busy-polls one thread (as the engine does). Ctrl-C prints the counters and exits.
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "apps/kv/kv_replicated.h"
#include "apps/kv/kv_store.h"
#include "apps/kv/resp_server.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Executes on the store right away, stamped with this process's wall clock.
class DirectHandler final : public mu::kv::CommandHandler {
 public:
  explicit DirectHandler(mu::kv::KvStore* store) : store_(store) {}
  mu::kv::Disposition handle(mu::kv::RequestId, const mu::kv::CommandInfo&, mu::kv::Argv argv,
                             int resp_version, std::string* reply) override {
    store_->execute(argv, wall_ms(), resp_version, reply);
    return mu::kv::Disposition::kReplied;
  }

 private:
  mu::kv::KvStore* store_;
};

struct Queued {
  std::vector<uint8_t> record;
  uint64_t ticket;
};

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--port N] [--bind ADDR] [--mode direct|log|follower] "
               "[--leader HOST:PORT] [--max-value BYTES]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  mu::kv::RespServerOptions options;
  std::string mode = "direct";
  std::string leader = "127.0.0.1:6379";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--port" && has_value) {
      options.port = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (a == "--bind" && has_value) {
      options.bind_address = argv[++i];
    } else if (a == "--mode" && has_value) {
      mode = argv[++i];
    } else if (a == "--leader" && has_value) {
      leader = argv[++i];
    } else if (a == "--max-value" && has_value) {
      options.parser.max_bulk_bytes = std::strtoull(argv[++i], nullptr, 10);
    } else {
      return usage(argv[0]);
    }
  }
  if (mode != "direct" && mode != "log" && mode != "follower") return usage(argv[0]);

  mu::kv::KvStore store;
  DirectHandler direct(&store);
  std::deque<Queued> log;
  uint64_t next_index = 0;
  // The server and the state machine point at each other: the handler proposes into `log`, the
  // state machine answers through the server.
  mu::kv::ReplicatedKvOptions replicated;
  replicated.self_id = mode == "follower" ? 1 : 0;
  replicated.resp_addresses = {leader, ""};
  mu::kv::ReplicatedKvHandler log_handler(
      replicated,
      [&](const void* request, uint32_t length, uint64_t ticket) {
        if (mode == "follower") {
          return mu::core::ProposeResult{mu::core::ProposeStatus::kNotLeader, 0u};
        }
        const auto* bytes = static_cast<const uint8_t*>(request);
        log.push_back({std::vector<uint8_t>(bytes, bytes + length), ticket});
        return mu::core::ProposeResult{mu::core::ProposeStatus::kQueued, 0u};
      },
      wall_ms);
  mu::kv::CommandHandler* handler =
      mode == "direct" ? static_cast<mu::kv::CommandHandler*>(&direct) : &log_handler;

  mu::kv::RespServer server(options, handler);
  mu::kv::KvStateMachine machine(&store, &server);
  server.set_replication_view([&] {
    mu::kv::ReplicationView v;
    v.mu_role = mode == "follower" ? "follower" : "standalone";
    v.is_leader = mode != "follower";
    v.self_id = replicated.self_id;
    v.leader_id = 0;
    v.leader_address = mode == "follower" ? leader : "";
    v.keyspace_fields.emplace_back(
        "db0", "keys=" + std::to_string(store.stored_keys()) +
                   ",expires=" + std::to_string(store.keys_with_expiry()) + ",avg_ttl=0");
    return v;
  });
  std::string error;
  if (!server.listen(&error)) {
    std::fprintf(stderr, "mu-kv-standalone: %s\n", error.c_str());
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::printf("mu-kv-standalone: serving RESP on %s:%u (mode %s)\n", options.bind_address.c_str(),
              server.port(), mode.c_str());
  std::fflush(stdout);

  while (!g_stop) {
    server.poll();
    // "Decide" everything queued since the last turn, in order, as the plane's apply would.
    for (size_t n = log.size(); n > 0; --n) {
      Queued q = std::move(log.front());
      log.pop_front();
      machine.apply(next_index++, q.record.data(), static_cast<uint32_t>(q.record.size()),
                    q.ticket);
    }
  }

  const mu::kv::RespServerStats& s = server.stats();
  std::printf(
      "mu-kv-standalone: connections %llu, commands %llu, pending %llu, protocol errors %llu, "
      "rejected %llu, replies dropped %llu, keys %zu\n",
      static_cast<unsigned long long>(s.connections_accepted),
      static_cast<unsigned long long>(s.commands), static_cast<unsigned long long>(s.pending),
      static_cast<unsigned long long>(s.protocol_errors),
      static_cast<unsigned long long>(s.rejected_commands),
      static_cast<unsigned long long>(s.replies_dropped), store.stored_keys());
  return 0;
}
