#include "tool_cli.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace mu::tools {

bool parse_uint(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

int ToolCli::usage_error(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n\n%s", name_, message.c_str(), usage_);
  return kExitUsage;
}

bool ToolCli::uint_flag(const std::string& flag, const std::string& value, uint64_t min, uint64_t max,
                        uint64_t* out) const {
  if (parse_uint(value, min, max, out)) return true;
  usage_error(flag + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
              "], got '" + value + "'");
  return false;
}

void ToolCli::print_usage() const { std::fputs(usage_, stdout); }

void ToolCli::progress(const std::string& line) const { std::fprintf(stderr, "%s: %s\n", name_, line.c_str()); }

int ToolCli::failed(const std::string& why) const {
  std::fprintf(stderr, "%s: failed: %s\n", name_, why.c_str());
  return kExitFailure;
}

int ToolCli::emit_json(const std::string& json, const std::string& path) const {
  std::fputs(json.c_str(), stdout);
  if (path.empty()) return kExitOk;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << json;
  file.close();
  if (!file) {
    std::fprintf(stderr, "%s: cannot write %s: %s\n", name_, path.c_str(), std::strerror(errno));
    return kExitFailure;
  }
  std::fprintf(stderr, "%s: wrote %s\n", name_, path.c_str());
  return kExitOk;
}

}  // namespace mu::tools
