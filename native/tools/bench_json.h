// A minimal JSON writer for the benchmark tools: objects, arrays, strings, numbers, booleans.
// Non-finite numbers are written as null.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "bench_fabric.h"

namespace mu::tools {

class JsonWriter {
 public:
  void open_object() { separator(); out_ << '{'; first_ = true; }
  void open_object(const char* k) { key(k); out_ << '{'; first_ = true; }
  void close_object() { out_ << '}'; first_ = false; }
  void open_array(const char* k) { key(k); out_ << '['; first_ = true; }
  void close_array() { out_ << ']'; first_ = false; }
  void key(const char* k) { separator(); string(k); out_ << ':'; first_ = true; }
  void field(const char* k, const std::string& v) { key(k); string(v); first_ = false; }
  void field(const char* k, const char* v) { field(k, std::string(v)); }
  void field(const char* k, bool v) { key(k); out_ << (v ? "true" : "false"); first_ = false; }
  void field(const char* k, uint64_t v) { key(k); out_ << v; first_ = false; }
  void field(const char* k, uint32_t v) { field(k, static_cast<uint64_t>(v)); }
  void field(const char* k, int v) { key(k); out_ << v; first_ = false; }
  void field(const char* k, double v, int decimals) { key(k); number(v, decimals); first_ = false; }
  void value(double v, int decimals) { separator(); number(v, decimals); first_ = false; }
  void value(const std::string& v) { separator(); string(v); first_ = false; }
  void null_field(const char* k) { key(k); out_ << "null"; first_ = false; }
  std::string str() const { return out_.str(); }

  // p50_us, p99_us, mean_us, min_us, max_us and samples of a distribution (prefix: e.g. "floor_").
  void latency(const LatencySummary& s, const std::string& prefix = "") {
    field((prefix + "samples").c_str(), s.samples);
    field((prefix + "p50_us").c_str(), s.p50_us, 3);
    field((prefix + "p99_us").c_str(), s.p99_us, 3);
    field((prefix + "mean_us").c_str(), s.mean_us, 3);
    field((prefix + "min_us").c_str(), s.min_us, 3);
    field((prefix + "max_us").c_str(), s.max_us, 3);
  }

 private:
  void separator() {
    if (!first_) out_ << ',';
  }
  void number(double v, int decimals) {
    if (!std::isfinite(v)) {
      out_ << "null";
      return;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    out_ << text;
  }
  void string(const std::string& s) {
    out_ << '"';
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out_ << '\\' << c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
        out_ << escaped;
      } else {
        out_ << c;
      }
    }
    out_ << '"';
  }
  std::ostringstream out_;
  bool first_ = true;
};

}  // namespace mu::tools
