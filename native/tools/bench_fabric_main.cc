// mu-bench-fabric: the fabric benchmark as a standalone tool (the `mu bench fabric` command runs
// the same code through the Node addon). Progress on stderr, the JSON document on stdout and,
// with --json FILE, in FILE.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "bench_fabric.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

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

int usage_error(const std::string& message) {
  std::fprintf(stderr, "mu-bench-fabric: %s\n\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

// Parses a decimal unsigned integer in [min, max]; false on anything else.
bool parse_uint(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0') return false;
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  mu::tools::FabricBenchConfig config;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (flag == "--busy-poll") {
      config.busy_poll = true;
      continue;
    }
    const bool takes_value = flag == "--fabric" || flag == "--iters" || flag == "--warmup" ||
                             flag == "--perm-iters" || flag == "--seed" || flag == "--json";
    if (!takes_value) return usage_error("unknown flag '" + flag + "'");
    if (i + 1 >= argc) return usage_error("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    uint64_t number = 0;
    const uint64_t max_iters = mu::tools::FabricBenchConfig::kMaxIterations;
    if (flag == "--fabric") {
      if (!mu::tools::parse_bench_fabric(value, &config.fabric)) {
        return usage_error("--fabric must be soft or sim, got '" + value + "'");
      }
    } else if (flag == "--json") {
      json_path = value;
    } else if (flag == "--seed") {
      if (!parse_uint(value, 0, UINT64_MAX, &number)) {
        return usage_error("--seed must be an unsigned integer, got '" + value + "'");
      }
      config.seed = number;
    } else {
      const uint64_t min = flag == "--iters" ? 1 : 0;
      if (!parse_uint(value, min, max_iters, &number)) {
        return usage_error(flag + " must be an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max_iters) + "], got '" + value + "'");
      }
      uint32_t& target = flag == "--iters"    ? config.iterations
                         : flag == "--warmup" ? config.warmup_iterations
                                              : config.permission_iterations;
      target = static_cast<uint32_t>(number);
    }
  }
  config.progress = [](const std::string& line) {
    std::fprintf(stderr, "mu-bench-fabric: %s\n", line.c_str());
  };

  auto result = mu::tools::run_fabric_bench(config);
  if (!result.ok()) {
    std::fprintf(stderr, "mu-bench-fabric: failed: %s\n", result.status().to_string().c_str());
    return kExitFailure;
  }
  const std::string json = mu::tools::to_json(result.value()) + "\n";
  std::fputs(json.c_str(), stdout);
  if (!json_path.empty()) {
    std::ofstream file(json_path, std::ios::binary | std::ios::trunc);
    file << json;
    file.close();
    if (!file) {
      std::fprintf(stderr, "mu-bench-fabric: cannot write %s: %s\n", json_path.c_str(),
                   std::strerror(errno));
      return kExitFailure;
    }
    std::fprintf(stderr, "mu-bench-fabric: wrote %s\n", json_path.c_str());
  }
  return kExitOk;
}
