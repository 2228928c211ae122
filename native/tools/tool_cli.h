// What the standalone benchmark tools (mu-bench-*) share on their command line: exit codes, a
// usage error that prints the usage, unsigned integer flags checked against a range, progress
// lines on stderr, and the JSON document on stdout and optionally in a file.
#pragma once

#include <cstdint>
#include <string>

namespace mu::tools {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Parses a decimal unsigned integer in [min, max]; false on anything else (signs, junk, range).
bool parse_uint(const std::string& text, uint64_t min, uint64_t max, uint64_t* out);

class ToolCli {
 public:
  ToolCli(const char* name, const char* usage) : name_(name), usage_(usage) {}

  // Prints "<name>: <message>" and the usage on stderr; returns kExitUsage.
  int usage_error(const std::string& message) const;
  // `value` of `flag` as an integer in [min, max]; on failure prints why (usage_error).
  bool uint_flag(const std::string& flag, const std::string& value, uint64_t min, uint64_t max,
                 uint64_t* out) const;
  void print_usage() const;
  void progress(const std::string& line) const;
  // The benchmark failed to run: prints why; returns kExitFailure.
  int failed(const std::string& why) const;
  // The JSON document on stdout and, when path is not empty, in that file (announced on stderr).
  int emit_json(const std::string& json, const std::string& path) const;

 private:
  const char* name_;
  const char* usage_;
};

}  // namespace mu::tools
