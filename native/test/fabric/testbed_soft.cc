// The soft fabric as conformance testbeds:
//  - "soft":       two soft NICs on 127.0.0.1 (different ports), blocking epoll;
//  - "soft-netns": two soft NICs in two network namespaces created here (mu-ct-a-<pid>,
//                  mu-ct-b-<pid>) joined by a veth pair 10.213.<x>.1/30 — 10.213.<x>.2/30, so the
//                  traffic crosses a real (virtual) link between two network stacks. Needs root;
//                  without it the testbed fails loudly, it never skips.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fabric/testbed.h"
#include "mu/fabric/soft.h"

extern char** environ;

namespace mu::fabric::testing {
namespace {

constexpr char kSecret[] = "conformance-cluster-secret";

std::unique_ptr<SoftDevice> open_or_throw(const SoftConfig& config) {
  auto device = open_soft_device(config);
  if (!device.ok()) {
    throw std::runtime_error("open_soft_device(" + config.name + "): " + device.status().to_string());
  }
  return std::move(device.value());
}

class SoftTestBed : public TestBed {
 public:
  std::string fabric() const override { return "soft"; }
  Device& device(int i) override { return *devices_[i]; }
  void progress() override {}  // the soft NICs run on their own threads
  bool hold_outgoing(int i, bool hold) override {
    devices_[i]->hold_outgoing(hold);
    return true;
  }

 protected:
  std::unique_ptr<SoftDevice> devices_[2];
};

class LoopbackSoftTestBed final : public SoftTestBed {
 public:
  LoopbackSoftTestBed() {
    for (int i = 0; i < 2; ++i) {
      SoftConfig config;
      config.name = i == 0 ? "soft-a" : "soft-b";
      config.listen_host = "127.0.0.1";
      config.listen_port = 0;  // ephemeral: distinct ports, no clash with parallel runs
      config.secret = kSecret;
      config.busy_poll = false;
      devices_[i] = open_or_throw(config);
    }
  }
};

// Runs a command (no shell), returns its exit status; its output goes to our stderr.
int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether `ip -n <ns> link show dev <dev>` reports the link operationally up. Until the kernel's
// link watcher has activated a fresh veth (up to about a second), packets sent on it are dropped,
// and a lost SYN would cost the first connection a TCP retransmission timeout.
bool link_operational(const std::string& ns, const std::string& dev) {
  const std::string command = "ip -n " + ns + " -o link show dev " + dev;
  FILE* out = ::popen(command.c_str(), "r");
  if (out == nullptr) return false;
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), out) != nullptr) text += buffer;
  ::pclose(out);
  return text.find("state UP") != std::string::npos;
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

class NetnsSoftTestBed final : public SoftTestBed {
 public:
  NetnsSoftTestBed() {
    const std::string pid = std::to_string(::getpid());
    ns_[0] = "mu-ct-a-" + pid;
    ns_[1] = "mu-ct-b-" + pid;
    // Interface names are at most 15 characters: "mu-va-" + a pid fits.
    const std::string veth_a = "mu-va-" + pid;
    const std::string veth_b = "mu-vb-" + pid;
    // The subnet only has to be unique within this pair of namespaces (nothing else is in
    // them); varying it with the pid keeps two concurrent runs visibly apart in `ip` output.
    const std::string subnet = "10.213." + std::to_string(::getpid() % 250) + ".";
    addr_[0] = subnet + "1";
    addr_[1] = subnet + "2";

    if (run({"ip", "netns", "add", ns_[0]}) != 0) {
      throw std::runtime_error(
          "soft-netns testbed: `ip netns add " + ns_[0] +
          "` failed. It needs root (CAP_SYS_ADMIN) and iproute2; run as root, or select other "
          "fabrics with MU_FABRICS (this testbed never skips silently).");
    }
    created_[0] = true;
    must({"ip", "netns", "add", ns_[1]});
    created_[1] = true;
    must({"ip", "link", "add", veth_a, "netns", ns_[0], "type", "veth", "peer", "name", veth_b,
          "netns", ns_[1]});
    for (int i = 0; i < 2; ++i) {
      const std::string& dev = i == 0 ? veth_a : veth_b;
      must({"ip", "-n", ns_[i], "addr", "add", addr_[i] + "/30", "dev", dev});
      must({"ip", "-n", ns_[i], "link", "set", dev, "up"});
      must({"ip", "-n", ns_[i], "link", "set", "lo", "up"});
    }
    for (int i = 0; i < 2; ++i) {
      const std::string& dev = i == 0 ? veth_a : veth_b;
      bool up = false;
      for (int attempt = 0; attempt < 500 && !up; ++attempt) {
        up = link_operational(ns_[i], dev);
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!up) fail("veth " + dev + " in " + ns_[i] + " did not come up within 5 s");
    }
    for (int i = 0; i < 2; ++i) {
      SoftConfig config;
      config.name = i == 0 ? "soft-netns-a" : "soft-netns-b";
      config.listen_host = addr_[i];
      config.listen_port = 0;
      config.secret = kSecret;
      config.netns = ns_[i];
      devices_[i] = open_or_throw(config);
    }
  }

  ~NetnsSoftTestBed() override {
    // Devices first: their NIC threads and sockets live in the namespaces.
    devices_[0].reset();
    devices_[1].reset();
    for (int i = 0; i < 2; ++i) {
      // Deleting a namespace destroys the veth end inside it (and with it the pair).
      if (created_[i] && run({"ip", "netns", "del", ns_[i]}) != 0) {
        std::fprintf(stderr, "soft-netns testbed: could not delete namespace %s\n", ns_[i].c_str());
      }
    }
  }

  std::string fabric() const override { return "soft-netns"; }

 private:
  void must(const std::vector<std::string>& argv) {
    if (run(argv) != 0) fail("`" + join(argv) + "` failed");
  }

  [[noreturn]] void fail(const std::string& what) {
    // The destructor does not run for a half-built object: clean up what exists.
    for (int i = 0; i < 2; ++i) {
      if (created_[i]) run({"ip", "netns", "del", ns_[i]});
    }
    throw std::runtime_error("soft-netns testbed: " + what);
  }

  std::string ns_[2];
  std::string addr_[2];
  bool created_[2] = {false, false};
};

const TestBedRegistration kSoft("soft", [] { return std::make_unique<LoopbackSoftTestBed>(); });
const TestBedRegistration kSoftNetns("soft-netns",
                                     [] { return std::make_unique<NetnsSoftTestBed>(); });

}  // namespace
}  // namespace mu::fabric::testing
