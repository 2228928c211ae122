#include "fabric/testbed.h"

#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>

namespace mu::fabric::testing {
namespace {

std::map<std::string, TestBedFactory>& registry() {
  static std::map<std::string, TestBedFactory> factories;
  return factories;
}

}  // namespace

TestBedRegistration::TestBedRegistration(const std::string& name, TestBedFactory factory) {
  registry()[name] = std::move(factory);
}

std::unique_ptr<TestBed> make_testbed(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) throw std::invalid_argument("no fabric testbed named '" + name + "'");
  return it->second();
}

std::vector<std::string> selected_testbeds() {
  std::vector<std::string> names;
  const char* env = std::getenv("MU_FABRICS");
  if (env == nullptr || *env == '\0') {
    for (const auto& [name, factory] : registry()) names.push_back(name);
    return names;
  }
  std::stringstream list(env);
  for (std::string name; std::getline(list, name, ',');) {
    if (name.empty()) continue;
    // An unknown name is a configuration error, never a silent skip.
    if (!registry().count(name)) {
      std::string known;
      for (const auto& [n, f] : registry()) known += " " + n;
      throw std::invalid_argument("MU_FABRICS names '" + name + "', built testbeds:" + known);
    }
    names.push_back(name);
  }
  return names;
}

}  // namespace mu::fabric::testing
