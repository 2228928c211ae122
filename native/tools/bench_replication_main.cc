// mu-bench-replication: the replication benchmark as a standalone tool (`mu bench replication`
// runs the same code through the Node addon). Progress on stderr, JSON on stdout (and in --json).
//
// Engine cost in instructions (callgrind; leader-side calls only, the measured run only):
//   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=cg.out
//     native/build/mu-bench-replication --cost-only --callgrind-leader --cost-requests 20000
//   callgrind_annotate cg.out | head -20     # "PROGRAM TOTALS" Ir ÷ 20000 per mode
// (bench/replication/callgrind.sh does this and divides; it runs each mode separately.)
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "bench_json.h"
#include "bench_replication.h"
#include "tool_cli.h"

namespace {

const char kUsage[] =
    "usage: mu-bench-replication [--fabric soft|sim] [--replicas N] [--payload B] [--sweep]\n"
    "           [--iters N] [--warmup N] [--rounds N] [--no-floor] [--windows W,W,...]\n"
    "           [--tput-requests N] [--cost-requests N] [--cost-batch N] [--cost-only]\n"
    "           [--cost-mode serial|batched|both]\n"
    "           [--callgrind-leader] [--seed N] [--busy-poll] [--follower-poll-every N]\n"
    "           [--yield-after N] [--nic-cpu C] [--poll-cpu C] [--json FILE]\n"
    "\n"
    "Propose latency on the leader of an in-process group (one outstanding), the fabric's\n"
    "WRITE round trip floor in the same run, throughput with several outstanding, and the\n"
    "engine's CPU cost per request over the sim fabric.\n"
    "\n"
    "  --cost-only         only the engine cost (serial and batched) over sim\n"
    "  --cost-batch N      requests per leader poll in the batched cost run (1: serial only)\n"
    "  --callgrind-leader  toggle callgrind collection around the leader's calls in the\n"
    "                      measured cost run (run under valgrind --collect-atstart=no)\n"
    "  --windows W,...     outstanding proposals per throughput run ('' or 0: none)\n"
    "  --yield-after N     the driver yields its CPU after N empty polls (0: it spins); the\n"
    "                      floor and fan-out waits do the same, so the ratio compares alike\n";

const mu::tools::ToolCli cli("mu-bench-replication", kUsage);

}  // namespace

using mu::tools::kExitOk;
using mu::tools::kExitUsage;
using mu::tools::parse_uint;

int main(int argc, char** argv) {
  mu::tools::ReplicationBenchConfig config;
  std::string json_path;
  bool cost_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      cli.print_usage();
      return kExitOk;
    }
    if (flag == "--sweep") { config.sweep = true; continue; }
    if (flag == "--no-floor") { config.floor = false; continue; }
    if (flag == "--busy-poll") { config.busy_poll = true; continue; }
    if (flag == "--cost-only") { cost_only = true; continue; }
    if (flag == "--callgrind-leader") { config.callgrind_leader = true; continue; }
    if (i + 1 >= argc) return cli.usage_error("unknown flag or missing value: '" + flag + "'");
    const std::string value = argv[++i];
    uint64_t n = 0;
    auto number = [&](uint64_t min, uint64_t max) { return cli.uint_flag(flag, value, min, max, &n); };
    const uint64_t kMax = mu::tools::ReplicationBenchConfig::kMaxIterations;
    if (flag == "--fabric") {
      if (!mu::tools::parse_bench_fabric(value, &config.fabric)) {
        return cli.usage_error("--fabric must be soft or sim, got '" + value + "'");
      }
    } else if (flag == "--json") {
      json_path = value;
    } else if (flag == "--windows") {
      config.windows.clear();
      std::stringstream list(value);
      std::string item;
      while (std::getline(list, item, ',')) {
        if (item.empty() || item == "0") continue;
        if (!parse_uint(item, 1, 4096, &n)) return cli.usage_error("--windows: bad entry '" + item + "'");
        config.windows.push_back(static_cast<uint32_t>(n));
      }
    } else if (flag == "--replicas") {
      if (!number(1, 7)) return kExitUsage;
      config.replicas = static_cast<uint32_t>(n);
    } else if (flag == "--payload") {
      if (!number(1, mu::tools::ReplicationBenchConfig::kMaxPayloadBytes)) return kExitUsage;
      config.payload_bytes = static_cast<uint32_t>(n);
    } else if (flag == "--iters") {
      if (!number(1, kMax)) return kExitUsage;
      config.iterations = static_cast<uint32_t>(n);
    } else if (flag == "--warmup") {
      if (!number(0, kMax)) return kExitUsage;
      config.warmup_iterations = static_cast<uint32_t>(n);
    } else if (flag == "--rounds") {
      if (!number(1, 1000)) return kExitUsage;
      config.rounds = static_cast<uint32_t>(n);
    } else if (flag == "--tput-requests") {
      if (!number(0, kMax)) return kExitUsage;
      config.throughput_requests = static_cast<uint32_t>(n);
    } else if (flag == "--cost-requests") {
      if (!number(0, kMax)) return kExitUsage;
      config.cost_requests = static_cast<uint32_t>(n);
    } else if (flag == "--cost-batch") {
      if (!number(1, 1024)) return kExitUsage;
      config.cost_batch = static_cast<uint32_t>(n);
    } else if (flag == "--follower-poll-every") {
      if (!number(1, 1'000'000)) return kExitUsage;
      config.follower_poll_every = static_cast<uint32_t>(n);
    } else if (flag == "--yield-after") {
      if (!number(0, 1'000'000)) return kExitUsage;
      config.yield_after_idle_polls = static_cast<uint32_t>(n);
    } else if (flag == "--nic-cpu" || flag == "--poll-cpu") {
      if (!number(0, 1023)) return kExitUsage;
      (flag == "--nic-cpu" ? config.nic_cpu : config.poll_cpu) = static_cast<int>(n);
    } else if (flag == "--cost-mode") {
      if (value != "serial" && value != "batched" && value != "both") {
        return cli.usage_error("--cost-mode must be serial, batched or both, got '" + value + "'");
      }
      config.cost_serial = value != "batched";
      config.cost_batched = value != "serial";
    } else if (flag == "--seed") {
      if (!number(0, UINT64_MAX)) return kExitUsage;
      config.seed = n;
    } else {
      return cli.usage_error("unknown flag '" + flag + "'");
    }
  }
  config.progress = [](const std::string& line) { cli.progress(line); };

  std::string json;
  if (cost_only) {
    if (config.cost_requests == 0) return cli.usage_error("--cost-only needs --cost-requests > 0");
    auto cost = mu::tools::run_engine_cost(config);
    if (!cost.ok()) return cli.failed(cost.status().to_string());
    mu::tools::ReplicationBenchResult r;
    r.fabric = mu::tools::BenchFabric::kSim;
    r.time_base = "virtual";
    r.replicas = config.replicas;
    r.headline.payload_bytes = config.payload_bytes;
    r.engine_cost = cost.value();
    json = mu::tools::to_json(r) + "\n";
  } else {
    auto result = mu::tools::run_replication_bench(config);
    if (!result.ok()) return cli.failed(result.status().to_string());
    json = mu::tools::to_json(result.value()) + "\n";
  }
  return cli.emit_json(json, json_path);
}
