// The `sim` fabric: in-process, deterministic, driven by a seeded scheduler (DESIGN.md §3.1, §3.2).
//
// Nothing happens until the driver calls step(): each step executes one pending event chosen by
// the seeded RNG among the eligible ones — the head operation of some QP's send queue reaching its
// responder (possibly one piece of a torn WRITE), or a response reaching its requester's CQ. Order
// within a QP is preserved; order across QPs is random. Same seed, same calls → same history.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mu/fabric/fabric.h"

namespace mu::fabric {

struct SimFaults {
  // Each operation waits a random number of scheduler steps in [0, max_delay_steps] before it
  // becomes eligible; larger values mean more reordering across QPs.
  uint32_t max_delay_steps = 4;
  // Probability that a WRITE lands in several pieces (in random order), visible in between.
  double tear_probability = 0.0;
  uint32_t max_tear_pieces = 4;
  // Virtual nanoseconds that one scheduler step takes.
  uint64_t step_ns = 100;
};

class SimWorld {
 public:
  explicit SimWorld(uint64_t seed, SimFaults faults = {});
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  // A new device (one "host"). The world must outlive it.
  std::unique_ptr<Device> create_device(const std::string& name);

  // Executes one pending event; false when nothing is pending (virtual time still advances).
  bool step();
  // Steps until nothing is pending or max_steps were taken; returns the number of events run.
  size_t run_until_idle(size_t max_steps);
  uint64_t now_ns() const;
  uint64_t seed() const;
  SimFaults& faults();

  // Fault injection. pause(): the device's NIC stops sending (operations already posted and any
  // posted later stay queued, as if the host froze mid-post) until resume(). crash(): the device
  // is gone — its memory is never touched again, its peers' operations fail with
  // kRetryExceeded, its own queued work is dropped. fail_qp(): moves a QP to ERR (flushing it).
  void pause(Device& device);
  void resume(Device& device);
  void crash(Device& device);
  void fail_qp(QueuePair& qp);
  // Every operation the device posts from now on starts delay_ns later (a slow host or link, as
  // the soft fabric's outgoing-delay hook); the responses it serves are not slowed. 0 clears it.
  void set_outgoing_delay(Device& device, uint64_t delay_ns);
  // The same for one QP's operations (one slow connection; order on the QP is kept as always).
  void set_qp_delay(QueuePair& qp, uint64_t delay_ns);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mu::fabric
