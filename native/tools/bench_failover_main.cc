// mu-bench-failover: the failover benchmark as a standalone tool (`mu bench failover` runs the
// same code through the Node addon). Progress on stderr, JSON on stdout (and in --json FILE).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_failover.h"
#include "tool_cli.h"

namespace {

const char kUsage[] =
    "usage: mu-bench-failover [--fabric soft|sim] [--replicas N] [--trials N] [--fault kill|pause]\n"
    "           [--pause-ms N] [--quiet-seconds S] [--load N] [--read-period-us N]\n"
    "           [--failure-threshold N] [--recovery-threshold N] [--score-max N]\n"
    "           [--base-port P] [--busy-poll] [--idle-sleep-us N] [--seed N] [--json FILE]\n"
    "\n"
    "Time from a fault of the leader to the first commit by the new leader, broken down into\n"
    "detection, election, permission switch, catch-up and first commit; then the number of\n"
    "spurious leader changes under a quiet load (--quiet-seconds 0 skips it).\n";

const mu::tools::ToolCli cli("mu-bench-failover", kUsage);

}  // namespace

using mu::tools::kExitOk;
using mu::tools::kExitUsage;

int main(int argc, char** argv) {
  mu::tools::FailoverBenchConfig config;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      cli.print_usage();
      return kExitOk;
    }
    if (flag == "--busy-poll") {
      config.busy_poll = true;
      continue;
    }
    if (i + 1 >= argc) return cli.usage_error("unknown flag or missing value: '" + flag + "'");
    const std::string value = argv[++i];
    uint64_t n = 0;
    auto number = [&](uint64_t min, uint64_t max) { return cli.uint_flag(flag, value, min, max, &n); };
    if (flag == "--fabric") {
      if (!mu::tools::parse_bench_fabric(value, &config.fabric)) return cli.usage_error("--fabric must be soft or sim");
    } else if (flag == "--fault") {
      if (!mu::tools::parse_failover_fault(value, &config.fault)) return cli.usage_error("--fault must be kill or pause");
    } else if (flag == "--json") {
      json_path = value;
    } else if (flag == "--quiet-seconds") {
      char* end = nullptr;
      config.quiet_seconds = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return cli.usage_error("--quiet-seconds must be a number");
    } else if (flag == "--replicas") {
      if (!number(2, 7)) return kExitUsage;
      config.replicas = uint32_t(n);
    } else if (flag == "--trials") {
      if (!number(0, 100000)) return kExitUsage;
      config.trials = uint32_t(n);
    } else if (flag == "--pause-ms") {
      if (!number(1, 60000)) return kExitUsage;
      config.pause_ms = uint32_t(n);
    } else if (flag == "--load") {
      if (!number(0, 1000000)) return kExitUsage;
      config.load_per_second = uint32_t(n);
    } else if (flag == "--read-period-us") {
      if (!number(1, 10'000'000)) return kExitUsage;
      config.detector.read_period_ns = n * 1000;
    } else if (flag == "--failure-threshold") {
      if (!number(0, 1000)) return kExitUsage;
      config.detector.failure_threshold = uint32_t(n);
    } else if (flag == "--recovery-threshold") {
      if (!number(1, 1000)) return kExitUsage;
      config.detector.recovery_threshold = uint32_t(n);
    } else if (flag == "--score-max") {
      if (!number(1, 1000)) return kExitUsage;
      config.detector.score_max = uint32_t(n);
    } else if (flag == "--base-port") {
      if (!number(1024, 32767)) return kExitUsage;
      config.base_port = uint16_t(n);
    } else if (flag == "--idle-sleep-us") {
      if (!number(0, 100000)) return kExitUsage;
      config.idle_sleep_us = uint32_t(n);
    } else if (flag == "--seed") {
      if (!number(0, UINT64_MAX)) return kExitUsage;
      config.seed = n;
    } else {
      return cli.usage_error("unknown flag '" + flag + "'");
    }
  }
  config.progress = [](const std::string& line) { cli.progress(line); };
  auto result = mu::tools::run_failover_bench(config);
  if (!result.ok()) return cli.failed(result.status().to_string());
  return cli.emit_json(mu::tools::to_json(result.value()) + "\n", json_path);
}
