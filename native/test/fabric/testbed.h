// A pair of fabric devices on two "hosts" for the conformance suite, whatever the backend:
// sim (two nodes of one simulated world), soft (two soft NICs, optionally in two network
// namespaces joined by a veth pair), verbs (one rxe/RDMA device, loopback path).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mu/fabric/fabric.h"

namespace mu::fabric::testing {

class TestBed {
 public:
  virtual ~TestBed() = default;
  virtual std::string fabric() const = 0;
  // Device i in {0, 1}; each stands for a different host where the backend allows.
  virtual Device& device(int i) = 0;
  // Drives backends that do not progress on their own (sim: a bounded number of scheduler steps).
  // No-op on soft and verbs, whose NICs run by themselves.
  virtual void progress() = 0;
  // Fault hook: hold every operation device i sends (they stay posted but do not reach the wire /
  // the peer) until released. Models a writer paused mid-flight. False if the backend cannot.
  virtual bool hold_outgoing(int /*i*/, bool /*hold*/) { return false; }
  // Seconds of wall time a test may wait for a completion on this backend.
  virtual double completion_timeout_s() const { return 10.0; }
};

using TestBedFactory = std::function<std::unique_ptr<TestBed>()>;

// Backends register their factory by name at static-initialisation time (see testbed_*.cc).
struct TestBedRegistration {
  TestBedRegistration(const std::string& name, TestBedFactory factory);
};
std::unique_ptr<TestBed> make_testbed(const std::string& name);
// Names selected by MU_FABRICS (comma-separated), defaulting to every registered backend.
std::vector<std::string> selected_testbeds();

}  // namespace mu::fabric::testing
