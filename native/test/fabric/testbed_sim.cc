// The sim fabric as a conformance testbed: two nodes of one seeded world.
#include <cstdlib>

#include "fabric/testbed.h"
#include "mu/fabric/sim.h"

namespace mu::fabric::testing {
namespace {

class SimTestBed final : public TestBed {
 public:
  explicit SimTestBed(uint64_t seed) : world_(seed, faults()) {
    devices_[0] = world_.create_device("sim-a");
    devices_[1] = world_.create_device("sim-b");
  }
  std::string fabric() const override { return "sim"; }
  Device& device(int i) override { return *devices_[i]; }
  void progress() override {
    for (int i = 0; i < 16; ++i) world_.step();
  }
  bool hold_outgoing(int i, bool hold) override {
    if (hold) {
      world_.pause(*devices_[i]);
    } else {
      world_.resume(*devices_[i]);
    }
    return true;
  }

 private:
  static SimFaults faults() {
    SimFaults f;
    f.max_delay_steps = 3;
    f.tear_probability = 0.5;  // torn WRITEs must not change any outcome the suite checks
    return f;
  }
  SimWorld world_;
  std::unique_ptr<Device> devices_[2];
};

uint64_t seed_from_env() {
  const char* s = std::getenv("MU_SIM_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 1;
}

const TestBedRegistration kSim("sim", [] { return std::make_unique<SimTestBed>(seed_from_env()); });

}  // namespace
}  // namespace mu::fabric::testing
