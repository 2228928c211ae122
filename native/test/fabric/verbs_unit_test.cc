// Host-side tests of the verbs backend: nothing here needs an RDMA device (the backend runs for
// real in the Soft-RoCE VM, see testbed_verbs.cc). Discovery is checked against a fake sysfs tree.
#include <gtest/gtest.h>

#if MU_WITH_VERBS

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mu/fabric/verbs.h"

namespace mu::fabric {
namespace {

namespace fs = std::filesystem;

class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mu-verbs-sysfs-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void file(const std::string& rel, const std::string& content) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content << "\n";
  }
  // A port as rdma_rxe shows it: link-local GIDs (v1 and v2), then IPv4-mapped ones.
  void rxe_port(const std::string& dev, const std::string& state = "4: ACTIVE") {
    const std::string port = dev + "/ports/1/";
    file(dev + "/node_guid", "5054:00ff:fe12:3456");
    file(port + "state", state);
    file(port + "phys_state", "5: LinkUp");
    file(port + "link_layer", "Ethernet");
    file(port + "lid", "0x0");
    const char* gids[] = {"fe80:0000:0000:0000:5054:00ff:fe12:3456",
                          "fe80:0000:0000:0000:5054:00ff:fe12:3456",
                          "0000:0000:0000:0000:0000:ffff:0a0b:0c01",
                          "0000:0000:0000:0000:0000:ffff:0a0b:0c01",
                          "0000:0000:0000:0000:0000:0000:0000:0000"};
    const char* types[] = {"IB/RoCE v1", "RoCE v2", "IB/RoCE v1", "RoCE v2", nullptr};
    for (int i = 0; i < 5; ++i) {
      file(port + "gids/" + std::to_string(i), gids[i]);
      if (types[i] != nullptr) {
        file(port + "gid_attrs/types/" + std::to_string(i), types[i]);
        file(port + "gid_attrs/ndevs/" + std::to_string(i), "dummy0");
      }
    }
  }

  fs::path root_;
};

TEST_F(FakeSysfs, ReadsPortsGidsAndTypes) {
  rxe_port("rxe0");
  auto devices = read_verbs_sysfs(root_.string());
  ASSERT_TRUE(devices.ok()) << devices.status().to_string();
  ASSERT_EQ(devices->size(), 1u);
  const VerbsDeviceInfo& d = (*devices)[0];
  EXPECT_EQ(d.name, "rxe0");
  EXPECT_EQ(d.node_guid, "5054:00ff:fe12:3456");
  ASSERT_EQ(d.ports.size(), 1u);
  const VerbsPortInfo& p = d.ports[0];
  EXPECT_EQ(p.port, 1);
  EXPECT_EQ(p.state, "ACTIVE");
  EXPECT_TRUE(p.active());
  EXPECT_EQ(p.phys_state, "LinkUp");
  EXPECT_EQ(p.link_layer, "Ethernet");
  ASSERT_EQ(p.gids.size(), 4u) << "the all-zero slot is not a GID";
  EXPECT_EQ(p.gids[3].index, 3);
  EXPECT_EQ(p.gids[3].type, "RoCE v2");
  EXPECT_EQ(p.gids[3].netdev, "dummy0");
  EXPECT_TRUE(p.gids[3].ipv4_mapped());
  EXPECT_FALSE(p.gids[1].ipv4_mapped());
  EXPECT_EQ(p.gids[2].to_string(), "0000:0000:0000:0000:0000:ffff:0a0b:0c01");
  EXPECT_EQ(p.gids[3].gid[15], 0x01);
  EXPECT_EQ(p.gids[3].gid[12], 0x0a);
}

TEST_F(FakeSysfs, PrefersRoceV2WithIpv4MappedGid) {
  rxe_port("rxe0");
  auto devices = read_verbs_sysfs(root_.string());
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(choose_gid_index((*devices)[0].ports[0]), 3);
}

TEST(ChooseGid, FallsBackInOrder) {
  VerbsPortInfo port;
  EXPECT_EQ(choose_gid_index(port), -1);
  VerbsGidInfo link_local_v1{0, {0xfe, 0x80}, "IB/RoCE v1", ""};
  VerbsGidInfo link_local_v2{1, {0xfe, 0x80}, "RoCE v2", ""};
  VerbsGidInfo mapped_untyped{2, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, "", ""};
  port.gids = {link_local_v1};
  EXPECT_EQ(choose_gid_index(port), 0);  // InfiniBand-like: the only (port) GID
  port.gids = {link_local_v1, mapped_untyped};
  EXPECT_EQ(choose_gid_index(port), 2);
  port.gids = {link_local_v1, link_local_v2, mapped_untyped};
  EXPECT_EQ(choose_gid_index(port), 1);  // RoCE v2 beats an untyped IPv4-mapped GID
}

TEST_F(FakeSysfs, DownPortAndUnreadableTypesAndMissingRoot) {
  rxe_port("rxe1", "1: DOWN");
  fs::remove(root_ / "rxe1/ports/1/gid_attrs/types/3");
  auto devices = read_verbs_sysfs(root_.string());
  ASSERT_TRUE(devices.ok());
  const VerbsPortInfo& p = (*devices)[0].ports[0];
  EXPECT_FALSE(p.active());
  EXPECT_EQ(p.state, "DOWN");
  EXPECT_EQ(p.gids[3].type, "");
  EXPECT_EQ(choose_gid_index(p), 1);  // the link-local RoCE v2 GID now ranks first

  auto none = read_verbs_sysfs((root_ / "does-not-exist").string());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(FakeSysfs, MalformedGidsAreIgnoredAndJsonDescribesTheTree) {
  rxe_port("rxe0");
  file("rxe0/ports/1/gids/4", "not-a-gid");
  auto devices = read_verbs_sysfs(root_.string());
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ((*devices)[0].ports[0].gids.size(), 4u);
  const std::string json = to_json(*devices);
  EXPECT_NE(json.find("\"name\":\"rxe0\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"preferredGidIndex\":3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"type\":\"RoCE v2\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"ipv4Mapped\":true"), std::string::npos) << json;
  EXPECT_EQ(json.front(), '[');
  EXPECT_EQ(json.back(), ']');
}

TEST(VerbsQpAddress, RoundTripsAndRejectsForeignBlocks) {
  VerbsQpAddress a;
  a.port = 1;
  a.mtu = 3;  // IBV_MTU_1024
  a.ethernet = true;
  a.qp_num = 0x123456;
  a.psn = 0xabcdef;
  a.lid = 0x1234;
  a.gid_index = 3;
  a.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 11, 12, 1};
  const QpAddress block = a.encode();
  auto b = VerbsQpAddress::decode(block);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->port, 1);
  EXPECT_EQ(b->mtu, 3);
  EXPECT_TRUE(b->ethernet);
  EXPECT_EQ(b->qp_num, 0x123456u);
  EXPECT_EQ(b->psn, 0xabcdefu);
  EXPECT_EQ(b->lid, 0x1234);
  EXPECT_EQ(b->gid_index, 3);
  EXPECT_EQ(b->gid, a.gid);

  EXPECT_EQ(VerbsQpAddress::decode(QpAddress{}).status().code, ErrorCode::kInvalidArgument);
  QpAddress bad_mtu = block;
  bad_mtu.bytes[6] = 9;
  EXPECT_FALSE(VerbsQpAddress::decode(bad_mtu).ok());
  QpAddress trailing = block;
  trailing.bytes[63] = 1;
  EXPECT_FALSE(VerbsQpAddress::decode(trailing).ok());
}

TEST(OpenVerbsDevice, UnknownDeviceIsAClearErrorNotACrash) {
  VerbsConfig config;
  config.device = "mu-no-such-rdma-device";
  auto dev = open_verbs_device(config);
  ASSERT_FALSE(dev.ok());
  EXPECT_FALSE(dev.status().message.empty());
}

}  // namespace
}  // namespace mu::fabric

#endif  // MU_WITH_VERBS
