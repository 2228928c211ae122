// mu-kv-replica: one replica of the replicated KV service (KvReplica: engine + KV + RESP) in a
// process of its own, configured from flags. For chaos tests on real processes (test/chaos/),
// where a replica must be SIGKILLed, SIGSTOPped and restarted on its own, and as a small
// stand-in for the node agent.
//
//   mu-kv-replica --id N --members HOST:BOOTSTRAP:FABRIC:RESP,... --secret S [--bootstrap]
//                 [--resp-bind ADDR] [--netns NAME] [--log-bytes N] [--max-request-bytes N]
//                 [--heartbeat-period-us N] [--failure-threshold N] [--recovery-threshold N]
//                 [--fate-share-ms N] [--connection-timeout-ms N] [--bootstrap-timeout-ms N]
//                 [--busy-poll] [--stats-interval-ms N] [--exit-on-stdin-eof]
//
// --members lists every replica in id order (this one included). --bootstrap only when creating
// a brand-new cluster; a restarted replica must start without it (it rejoins as a learner,
// DESIGN.md §3.6). The secret may also come from MU_SECRET.
//
// stdout: one JSON object per line — {"type":"started",...}, {"type":"event",...} for every
// engine event (leader changes, failovers, peers failed/recovered, quorum lost), and
// {"type":"stats",...} on request or every --stats-interval-ms.
// stdin: control commands, one per line (soft fabric fault hooks and introspection):
//   delay US            add US microseconds to every outgoing fabric operation (0: off)
//   hold 0|1            hold every outgoing fabric operation until released
//   loss PPM RETRANS_US lose each transmission with probability PPM/10^6, retransmit after
//                       RETRANS_US (RC semantics: the QP fails after 7 retransmissions)
//   stats               print a stats line now
//   leave               graceful hand-over (as on SIGTERM, without exiting)
// SIGTERM/SIGINT: leave, then exit 0.
#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/kv_replica.h"
#include "fabric/soft/soft_stats.h"
#include "mu/fabric/soft.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int usage(const char* argv0, const std::string& problem) {
  std::fprintf(stderr, "mu-kv-replica: %s\n", problem.c_str());
  std::fprintf(stderr,
               "usage: %s --id N --members HOST:BOOTSTRAP:FABRIC:RESP,... --secret S [--bootstrap]\n"
               "          [--resp-bind ADDR] [--netns NAME] [--log-bytes N] [--max-request-bytes N]\n"
               "          [--heartbeat-period-us N] [--failure-threshold N] [--recovery-threshold N]\n"
               "          [--fate-share-ms N] [--connection-timeout-ms N] [--bootstrap-timeout-ms N]\n"
               "          [--busy-poll] [--stats-interval-ms N] [--exit-on-stdin-eof]\n",
               argv0);
  return 2;
}

bool parse_u64(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  *out = v;
  return true;
}

bool parse_members(const std::string& text, std::vector<mu::engine::Member>* out,
                   std::string* error) {
  std::stringstream list(text);
  std::string item;
  uint32_t id = 0;
  while (std::getline(list, item, ',')) {
    std::vector<std::string> parts;
    std::stringstream fields(item);
    std::string f;
    while (std::getline(fields, f, ':')) parts.push_back(f);
    uint64_t ports[3];
    if (parts.size() != 4 || parts[0].empty() || !parse_u64(parts[1].c_str(), &ports[0]) ||
        !parse_u64(parts[2].c_str(), &ports[1]) || !parse_u64(parts[3].c_str(), &ports[2]) ||
        ports[0] > 65535 || ports[1] > 65535 || ports[2] > 65535) {
      *error = "--members: '" + item + "' is not HOST:BOOTSTRAP_PORT:FABRIC_PORT:RESP_PORT";
      return false;
    }
    out->push_back({id++, parts[0], static_cast<uint16_t>(ports[0]),
                    static_cast<uint16_t>(ports[1]), static_cast<uint16_t>(ports[2])});
  }
  if (out->empty()) {
    *error = "--members: empty";
    return false;
  }
  return true;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

uint64_t wall_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string replica_json(uint32_t id) {
  return id == mu::core::kNoReplica ? "null" : std::to_string(id);
}

void print_stats(uint32_t id, mu::engine::KvReplica& replica) {
  const mu::engine::KvReplicaStats s = replica.stats();
  std::string soft = "null";
  if (const mu::fabric::SoftDevice* device = replica.engine().soft_device()) {
    const mu::fabric::SoftStats f = mu::fabric::soft_stats(*device);
    soft = "{\"refused_connections\":" + std::to_string(f.refused_connections) +
           ",\"unreachable_requests\":" + std::to_string(f.unreachable_requests) +
           ",\"auth_failures\":" + std::to_string(f.auth_failures) +
           ",\"cq_overflows\":" + std::to_string(f.cq_overflows) + ",\"last_error\":\"" +
           json_escape(f.last_error) + "\"}";
  }
  const auto& r = s.engine.replication;
  std::string peers;
  for (const auto& p : s.engine.peers) {
    if (!peers.empty()) peers += ",";
    peers += "{\"id\":" + std::to_string(p.id) + ",\"alive\":" + (p.alive ? "true" : "false") +
             ",\"score\":" + std::to_string(p.score) + "}";
  }
  std::printf(
      "{\"type\":\"stats\",\"id\":%u,\"wall_us\":%llu,\"role\":\"%s\",\"leader\":%s,\"voter\":%s,"
      "\"phase\":\"%s\",\"proposal\":%llu,\"next_index\":%llu,\"commit_index\":%llu,"
      "\"applied_index\":%llu,\"confirmed_followers\":%u,\"pending\":%llu,\"aborts\":%llu,"
      "\"failovers\":%llu,\"heartbeat\":%llu,\"heartbeat_stopped\":%s,\"leader_view\":%s,"
      "\"keys\":%llu,\"resp_connections\":%llu,\"catch_up_impossible\":%llu,"
      "\"state_transfers\":%llu,\"self_catch_ups\":%llu,\"self_transfers\":%llu,\"peers\":[%s],"
      "\"soft\":%s}\n",
      id, static_cast<unsigned long long>(wall_us()), mu::core::to_string(r.role),
      r.leader ? std::to_string(*r.leader).c_str() : "null", r.voter ? "true" : "false",
      r.phase, static_cast<unsigned long long>(r.proposal),
      static_cast<unsigned long long>(r.next_index),
      static_cast<unsigned long long>(r.commit_index),
      static_cast<unsigned long long>(r.applied_index), r.confirmed_followers,
      static_cast<unsigned long long>(r.pending_requests),
      static_cast<unsigned long long>(r.aborts),
      static_cast<unsigned long long>(s.engine.failovers),
      static_cast<unsigned long long>(s.engine.heartbeat),
      s.engine.heartbeat_stopped ? "true" : "false", replica_json(s.engine.leader_view).c_str(),
      static_cast<unsigned long long>(s.keys),
      static_cast<unsigned long long>(s.resp_connections),
      static_cast<unsigned long long>(r.catch_up_impossible),
      static_cast<unsigned long long>(s.engine.state_transfers),
      static_cast<unsigned long long>(r.self_catch_ups),
      static_cast<unsigned long long>(r.self_transfers), peers.c_str(), soft.c_str());
}

void print_events(uint32_t id, mu::engine::KvReplica& replica) {
  for (const mu::core::Event& e : replica.take_events()) {
    std::printf(
        "{\"type\":\"event\",\"id\":%u,\"wall_us\":%llu,\"kind\":\"%s\",\"at_ns\":%llu,\"a\":%s,"
        "\"b\":%s,\"value\":%llu,\"detail\":\"%s\"}\n",
        id, static_cast<unsigned long long>(wall_us()), mu::core::to_string(e.kind),
        static_cast<unsigned long long>(e.at_ns), replica_json(e.a).c_str(),
        replica_json(e.b).c_str(), static_cast<unsigned long long>(e.value),
        json_escape(e.detail).c_str());
  }
}

// One control command; returns a JSON reply line.
std::string control(const std::string& line, uint32_t id, mu::engine::KvReplica& replica) {
  std::stringstream in(line);
  std::string cmd;
  in >> cmd;
  mu::fabric::SoftDevice* soft = replica.engine().soft_device();
  auto reply = [&](bool ok, const std::string& detail) {
    return "{\"type\":\"control\",\"id\":" + std::to_string(id) + ",\"command\":\"" +
           json_escape(line) + "\",\"ok\":" + (ok ? "true" : "false") + ",\"detail\":\"" +
           json_escape(detail) + "\"}";
  };
  if (cmd.empty()) return "";
  if (cmd == "stats") {
    print_stats(id, replica);
    return "";
  }
  if (cmd == "leave") {
    replica.leave();
    return reply(true, "leaving");
  }
  if (soft == nullptr) return reply(false, "fault hooks need the soft fabric");
  uint64_t a = 0, b = 0;
  std::string ta, tb;
  in >> ta >> tb;
  if (cmd == "delay" && parse_u64(ta.c_str(), &a) && a <= 10'000'000) {
    soft->set_outgoing_delay_us(static_cast<uint32_t>(a));
    return reply(true, "outgoing delay " + std::to_string(a) + " us");
  }
  if (cmd == "hold" && (ta == "0" || ta == "1")) {
    soft->hold_outgoing(ta == "1");
    return reply(true, ta == "1" ? "holding outgoing operations" : "released");
  }
  if (cmd == "loss" && parse_u64(ta.c_str(), &a) && a <= 1'000'000 &&
      parse_u64(tb.c_str(), &b) && b <= 10'000'000) {
    soft->set_outgoing_loss(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
    return reply(true, "loss " + std::to_string(a) + " ppm, retransmit after " +
                           std::to_string(b) + " us");
  }
  return reply(false, "unknown or malformed command");
}

}  // namespace

int main(int argc, char** argv) {
  mu::engine::KvReplicaConfig config;
  mu::engine::EngineConfig& e = config.engine;
  e.fabric = "soft";
  e.busy_poll = false;
  e.log_bytes = 16u << 20;
  if (const char* s = std::getenv("MU_SECRET")) e.secret = s;
  bool have_id = false;
  uint64_t stats_interval_ms = 0;
  bool exit_on_eof = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    uint64_t v = 0;
    auto number = [&](uint64_t max) {
      if (!has_value || !parse_u64(argv[i + 1], &v) || v > max) return false;
      ++i;
      return true;
    };
    if (a == "--bootstrap") {
      e.bootstrap = true;
    } else if (a == "--busy-poll") {
      e.busy_poll = true;
    } else if (a == "--exit-on-stdin-eof") {
      exit_on_eof = true;
    } else if (a == "--id") {
      if (!number(mu::core::kMaxReplicas)) return usage(argv[0], "--id: a replica id");
      e.id = static_cast<uint32_t>(v);
      have_id = true;
    } else if (a == "--members" && has_value) {
      std::string error;
      if (!parse_members(argv[++i], &e.members, &error)) return usage(argv[0], error);
    } else if (a == "--secret" && has_value) {
      e.secret = argv[++i];
    } else if (a == "--resp-bind" && has_value) {
      config.resp_bind = argv[++i];
    } else if (a == "--netns" && has_value) {
      e.netns = argv[++i];
    } else if (a == "--log-bytes") {
      if (!number(uint64_t{1} << 34)) return usage(argv[0], "--log-bytes: bytes");
      e.log_bytes = v;
    } else if (a == "--max-request-bytes") {
      if (!number(uint64_t{1} << 24)) return usage(argv[0], "--max-request-bytes: bytes");
      e.replication.max_request_bytes = static_cast<uint32_t>(v);
      e.replication.max_batch_bytes = std::max<uint32_t>(e.replication.max_batch_bytes,
                                                         static_cast<uint32_t>(v));
    } else if (a == "--heartbeat-period-us") {
      if (!number(10'000'000)) return usage(argv[0], "--heartbeat-period-us: microseconds");
      e.detector.read_period_ns = v * 1000;
    } else if (a == "--failure-threshold") {
      if (!number(1000)) return usage(argv[0], "--failure-threshold: a score");
      e.detector.failure_threshold = static_cast<uint32_t>(v);
    } else if (a == "--recovery-threshold") {
      if (!number(1000)) return usage(argv[0], "--recovery-threshold: a score");
      e.detector.recovery_threshold = static_cast<uint32_t>(v);
    } else if (a == "--fate-share-ms") {
      if (!number(600'000)) return usage(argv[0], "--fate-share-ms: milliseconds");
      e.detector.fate_share_ns = v * 1'000'000;
    } else if (a == "--connection-timeout-ms") {
      if (!number(600'000)) return usage(argv[0], "--connection-timeout-ms: milliseconds");
      e.detector.connection_timeout_ns = v * 1'000'000;
    } else if (a == "--bootstrap-timeout-ms") {
      if (!number(3'600'000)) return usage(argv[0], "--bootstrap-timeout-ms: milliseconds");
      e.bootstrap_timeout_ms = static_cast<int>(v);
    } else if (a == "--stats-interval-ms") {
      if (!number(3'600'000)) return usage(argv[0], "--stats-interval-ms: milliseconds");
      stats_interval_ms = v;
    } else {
      return usage(argv[0], "unknown or incomplete argument '" + a + "'");
    }
  }
  if (!have_id) return usage(argv[0], "--id is required");
  if (e.members.empty()) return usage(argv[0], "--members is required");
  // Started by a test driver: die with it rather than linger as an orphan.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, nullptr, _IOLBF, 0);

  auto started = mu::engine::KvReplica::start(config);
  if (!started.ok()) {
    std::printf("{\"type\":\"error\",\"id\":%u,\"message\":\"%s\"}\n", e.id,
                json_escape(started.status().to_string()).c_str());
    std::fprintf(stderr, "mu-kv-replica %u: %s\n", e.id, started.status().to_string().c_str());
    return 1;
  }
  std::unique_ptr<mu::engine::KvReplica> replica = std::move(started.value());
  std::printf("{\"type\":\"started\",\"id\":%u,\"pid\":%d,\"wall_us\":%llu,\"resp_port\":%u,"
              "\"bootstrap\":%s}\n",
              e.id, static_cast<int>(getpid()), static_cast<unsigned long long>(wall_us()),
              replica->resp_port(), e.bootstrap ? "true" : "false");

  std::string input;
  bool stdin_open = true;
  auto last_stats = std::chrono::steady_clock::now();
  while (!g_stop) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int ready = stdin_open ? ::poll(&p, 1, 20) : 0;
    if (!stdin_open) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ready > 0) {
      char buf[4096];
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;
        if (exit_on_eof) break;
      } else {
        input.append(buf, static_cast<size_t>(n));
        for (size_t nl; (nl = input.find('\n')) != std::string::npos;) {
          const std::string line = input.substr(0, nl);
          input.erase(0, nl + 1);
          const std::string out = control(line, e.id, *replica);
          if (!out.empty()) std::printf("%s\n", out.c_str());
        }
      }
    }
    print_events(e.id, *replica);
    const auto now = std::chrono::steady_clock::now();
    if (stats_interval_ms > 0 && now - last_stats >= std::chrono::milliseconds(stats_interval_ms)) {
      last_stats = now;
      print_stats(e.id, *replica);
    }
  }
  replica->leave();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  print_events(e.id, *replica);
  replica->stop();
  std::printf("{\"type\":\"stopped\",\"id\":%u}\n", e.id);
  return 0;
}
