// mu-bench-fabric: the fabric benchmark as a standalone tool (the `mu bench fabric` command runs
// the same code through the Node addon). Progress on stderr, the JSON document on stdout and,
// with --json FILE, in FILE.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_fabric.h"
#include "tool_cli.h"

namespace {

const char kUsage[] =
    "usage: mu-bench-fabric [--fabric soft|sim] [--iters N] [--warmup N] [--perm-iters N]\n"
    "                       [--seed N] [--busy-poll] [--json FILE]\n"
    "\n"
    "Measures signaled one-sided WRITE round trips (64 B and 8 B..4 KiB) and the cost of a\n"
    "permission change on the responder (fast path: access flags in RTS; slow path: QP cycle).\n"
    "\n"
    "  --fabric soft|sim  backend (default soft: two soft NICs over TCP on 127.0.0.1;\n"
    "                     sim reports virtual time)\n"
    "  --iters N          timed WRITEs per payload size (default 10000)\n"
    "  --warmup N         untimed WRITEs before each size (default 1000)\n"
    "  --perm-iters N     timed permission changes per mechanism (default 200)\n"
    "  --seed N           sim: the world's seed (default 1)\n"
    "  --busy-poll        soft: NIC threads spin instead of blocking (needs free cores)\n"
    "  --json FILE        also write the JSON document to FILE\n";

const mu::tools::ToolCli cli("mu-bench-fabric", kUsage);

}  // namespace

using mu::tools::kExitOk;
using mu::tools::kExitUsage;

int main(int argc, char** argv) {
  mu::tools::FabricBenchConfig config;
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
    const bool takes_value = flag == "--fabric" || flag == "--iters" || flag == "--warmup" ||
                             flag == "--perm-iters" || flag == "--seed" || flag == "--json";
    if (!takes_value) return cli.usage_error("unknown flag '" + flag + "'");
    if (i + 1 >= argc) return cli.usage_error("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    uint64_t number = 0;
    const uint64_t max_iters = mu::tools::FabricBenchConfig::kMaxIterations;
    if (flag == "--fabric") {
      if (!mu::tools::parse_bench_fabric(value, &config.fabric)) {
        return cli.usage_error("--fabric must be soft or sim, got '" + value + "'");
      }
    } else if (flag == "--json") {
      json_path = value;
    } else if (flag == "--seed") {
      if (!cli.uint_flag(flag, value, 0, UINT64_MAX, &number)) return kExitUsage;
      config.seed = number;
    } else {
      const uint64_t min = flag == "--iters" ? 1 : 0;
      if (!cli.uint_flag(flag, value, min, max_iters, &number)) return kExitUsage;
      uint32_t& target = flag == "--iters"    ? config.iterations
                         : flag == "--warmup" ? config.warmup_iterations
                                              : config.permission_iterations;
      target = static_cast<uint32_t>(number);
    }
  }
  config.progress = [](const std::string& line) { cli.progress(line); };

  auto result = mu::tools::run_fabric_bench(config);
  if (!result.ok()) return cli.failed(result.status().to_string());
  return cli.emit_json(mu::tools::to_json(result.value()) + "\n", json_path);
}
