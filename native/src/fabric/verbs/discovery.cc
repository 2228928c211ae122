// Discovery of RDMA devices (sysfs + libibverbs), the automatic GID choice and the QpAddress
// layout of the verbs backend.
#include <infiniband/verbs.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "fabric/verbs/verbs_internal.h"
#include "mu/fabric/verbs.h"

namespace mu::fabric {

namespace fs = std::filesystem;

namespace {

// First line of a sysfs attribute, trailing whitespace removed; false if unreadable (sysfs
// refuses to read, e.g., the type of an empty GID slot).
bool read_line(const fs::path& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  if (!std::getline(in, out)) return false;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) {
    out.pop_back();
  }
  return true;
}

// "4: ACTIVE" → "ACTIVE"
std::string after_colon(const std::string& s) {
  const size_t colon = s.find(':');
  if (colon == std::string::npos) return s;
  size_t start = colon + 1;
  while (start < s.size() && s[start] == ' ') ++start;
  return s.substr(start);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "fe80:0000:0000:0000:5054:00ff:fe12:3456" (8 groups of 4 hex digits, sysfs spelling).
bool parse_gid(const std::string& s, std::array<uint8_t, 16>& gid) {
  if (s.size() != 39) return false;
  size_t pos = 0;
  for (int group = 0; group < 8; ++group) {
    if (group > 0) {
      if (s[pos] != ':') return false;
      ++pos;
    }
    int value = 0;
    for (int k = 0; k < 4; ++k) {
      const int d = hex_digit(s[pos++]);
      if (d < 0) return false;
      value = value * 16 + d;
    }
    gid[2 * group] = static_cast<uint8_t>(value >> 8);
    gid[2 * group + 1] = static_cast<uint8_t>(value & 0xff);
  }
  return true;
}

bool all_zero(const std::array<uint8_t, 16>& gid) {
  return std::all_of(gid.begin(), gid.end(), [](uint8_t b) { return b == 0; });
}

// Numeric directory entries of `dir`, ascending.
std::vector<int> numeric_entries(const fs::path& dir) {
  std::vector<int> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.empty() || n.size() > 6 || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    out.push_back(std::stoi(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

bool VerbsGidInfo::ipv4_mapped() const {
  for (int i = 0; i < 10; ++i) {
    if (gid[i] != 0) return false;
  }
  return gid[10] == 0xff && gid[11] == 0xff;
}

std::string VerbsGidInfo::to_string() const {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
                gid[0], gid[1], gid[2], gid[3], gid[4], gid[5], gid[6], gid[7], gid[8], gid[9],
                gid[10], gid[11], gid[12], gid[13], gid[14], gid[15]);
  return buf;
}

Result<std::vector<VerbsDeviceInfo>> read_verbs_sysfs(const std::string& sysfs_root) {
  std::vector<VerbsDeviceInfo> devices;
  std::error_code ec;
  const fs::path root(sysfs_root);
  if (!fs::exists(root, ec)) return devices;  // no RDMA stack loaded: no devices
  std::vector<std::string> names;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    return Status::Error(ErrorCode::kInternal, "reading " + sysfs_root + ": " + ec.message());
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const fs::path dev = root / name;
    VerbsDeviceInfo info;
    info.name = name;
    read_line(dev / "node_guid", info.node_guid);
    const std::vector<int> ports = numeric_entries(dev / "ports");
    if (ports.empty()) {
      return Status::Error(ErrorCode::kInternal, "reading " + (dev / "ports").string() +
                                                     ": no ports (not an RDMA device directory?)");
    }
    for (int p : ports) {
      const fs::path port = dev / "ports" / std::to_string(p);
      VerbsPortInfo pi;
      pi.port = static_cast<uint8_t>(p);
      std::string line;
      if (read_line(port / "state", line)) pi.state = after_colon(line);
      if (read_line(port / "phys_state", line)) pi.phys_state = after_colon(line);
      read_line(port / "link_layer", pi.link_layer);
      if (read_line(port / "lid", line)) {
        pi.lid = static_cast<uint16_t>(std::strtoul(line.c_str(), nullptr, 16));
      }
      for (int i : numeric_entries(port / "gids")) {
        VerbsGidInfo g;
        g.index = i;
        if (!read_line(port / "gids" / std::to_string(i), line) || !parse_gid(line, g.gid) ||
            all_zero(g.gid)) {
          continue;
        }
        read_line(port / "gid_attrs" / "types" / std::to_string(i), g.type);
        read_line(port / "gid_attrs" / "ndevs" / std::to_string(i), g.netdev);
        pi.gids.push_back(g);
      }
      info.ports.push_back(std::move(pi));
    }
    devices.push_back(std::move(info));
  }
  return devices;
}

Result<std::vector<VerbsDeviceInfo>> discover_verbs_devices(const std::string& sysfs_root) {
  Result<std::vector<VerbsDeviceInfo>> found = read_verbs_sysfs(sysfs_root);
  if (!found.ok()) return found;
  std::vector<VerbsDeviceInfo>& devices = *found;
  int count = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr) return devices;  // no uverbs: what sysfs says is all there is
  for (int i = 0; i < count; ++i) {
    const std::string name = ibv_get_device_name(list[i]);
    auto it = std::find_if(devices.begin(), devices.end(),
                           [&](const VerbsDeviceInfo& d) { return d.name == name; });
    if (it == devices.end()) {
      devices.push_back(VerbsDeviceInfo{name, "", {}});
      it = devices.end() - 1;
    }
    ibv_context* context = ibv_open_device(list[i]);
    if (context == nullptr) continue;
    ibv_device_attr dattr{};
    if (ibv_query_device(context, &dattr) == 0) {
      for (uint8_t p = 1; p <= dattr.phys_port_cnt; ++p) {
        ibv_port_attr pattr{};
        if (ibv_query_port(context, p, &pattr) != 0) continue;
        auto port = std::find_if(it->ports.begin(), it->ports.end(),
                                 [&](const VerbsPortInfo& x) { return x.port == p; });
        if (port == it->ports.end()) {
          it->ports.push_back(VerbsPortInfo{});
          port = it->ports.end() - 1;
          port->port = p;
          port->link_layer =
              pattr.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand";
          port->lid = pattr.lid;
        }
        port->state = verbs::port_state_name(pattr.state);
        port->active_mtu_bytes = 128u << pattr.active_mtu;  // IBV_MTU_256 = 1
      }
    }
    ibv_close_device(context);
  }
  ibv_free_device_list(list);
  return devices;
}

const char* verbs::port_state_name(ibv_port_state state) {
  switch (state) {
    case IBV_PORT_NOP: return "NOP";
    case IBV_PORT_DOWN: return "DOWN";
    case IBV_PORT_INIT: return "INIT";
    case IBV_PORT_ARMED: return "ARMED";
    case IBV_PORT_ACTIVE: return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER: return "ACTIVE_DEFER";
  }
  return "UNKNOWN";
}

int choose_gid_index(const VerbsPortInfo& port) {
  // Rank: RoCE v2 + IPv4-mapped (routable, what RoCE v2 fabrics use) > RoCE v2 > IPv4-mapped of
  // unknown type > any. Ties go to the lowest index.
  int best = -1, best_rank = -1;
  for (const VerbsGidInfo& g : port.gids) {
    const int rank = (g.roce_v2() ? 2 : 0) + (g.ipv4_mapped() ? 1 : 0);
    if (rank > best_rank || (rank == best_rank && g.index < best)) {
      best = g.index;
      best_rank = rank;
    }
  }
  return best;
}

std::string to_json(const std::vector<VerbsDeviceInfo>& devices) {
  std::string out = "[";
  for (size_t d = 0; d < devices.size(); ++d) {
    const VerbsDeviceInfo& dev = devices[d];
    if (d > 0) out += ',';
    out += "{\"name\":";
    json_string(out, dev.name);
    out += ",\"nodeGuid\":";
    json_string(out, dev.node_guid);
    out += ",\"ports\":[";
    for (size_t p = 0; p < dev.ports.size(); ++p) {
      const VerbsPortInfo& port = dev.ports[p];
      if (p > 0) out += ',';
      out += "{\"port\":" + std::to_string(port.port) + ",\"state\":";
      json_string(out, port.state);
      out += ",\"physState\":";
      json_string(out, port.phys_state);
      out += ",\"linkLayer\":";
      json_string(out, port.link_layer);
      out += ",\"lid\":" + std::to_string(port.lid) +
             ",\"activeMtu\":" + std::to_string(port.active_mtu_bytes) +
             ",\"preferredGidIndex\":" + std::to_string(choose_gid_index(port)) + ",\"gids\":[";
      for (size_t g = 0; g < port.gids.size(); ++g) {
        const VerbsGidInfo& gid = port.gids[g];
        if (g > 0) out += ',';
        out += "{\"index\":" + std::to_string(gid.index) + ",\"gid\":";
        json_string(out, gid.to_string());
        out += ",\"type\":";
        json_string(out, gid.type);
        out += ",\"netdev\":";
        json_string(out, gid.netdev);
        out += ",\"ipv4Mapped\":";
        out += gid.ipv4_mapped() ? "true" : "false";
        out += '}';
      }
      out += "]}";
    }
    out += "]}";
  }
  out += ']';
  return out;
}

// --- QpAddress layout ------------------------------------------------------------------------

namespace {
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
constexpr size_t kGidOffset = 20;  // after magic(4) version(1) port(1) mtu(1) flags(1)
                                   // qp_num(4) psn(4) lid(2) gid_index(1) reserved(1)
static_assert(4 + 1 + 1 + 1 + 1 + 4 + 4 + 2 + 1 + 1 == kGidOffset);
static_assert(kGidOffset + 16 <= QpAddress::kSize);
}  // namespace

QpAddress VerbsQpAddress::encode() const {
  QpAddress a;
  uint8_t* b = a.bytes;
  put32(b + 0, kMagic);
  b[4] = kVersion;
  b[5] = port;
  b[6] = mtu;
  b[7] = ethernet ? 1 : 0;
  put32(b + 8, qp_num);
  put32(b + 12, psn & 0xffffffu);
  b[16] = static_cast<uint8_t>(lid & 0xff);
  b[17] = static_cast<uint8_t>(lid >> 8);
  b[18] = gid_index;
  std::memcpy(b + kGidOffset, gid.data(), 16);
  return a;
}

Result<VerbsQpAddress> VerbsQpAddress::decode(const QpAddress& address) {
  const uint8_t* b = address.bytes;
  if (get32(b) != kMagic || b[4] != kVersion) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "not a verbs QP address (magic/version mismatch: built by another "
                         "fabric backend or another version?)");
  }
  if (b[6] < IBV_MTU_256 || b[6] > IBV_MTU_4096 || (b[7] & ~1u) != 0 || b[19] != 0) {
    return Status::Error(ErrorCode::kInvalidArgument, "malformed verbs QP address");
  }
  for (size_t i = kGidOffset + 16; i < QpAddress::kSize; ++i) {
    if (b[i] != 0) return Status::Error(ErrorCode::kInvalidArgument, "malformed verbs QP address");
  }
  VerbsQpAddress a;
  a.port = b[5];
  a.mtu = b[6];
  a.ethernet = (b[7] & 1) != 0;
  a.qp_num = get32(b + 8);
  a.psn = get32(b + 12);
  if (a.psn > 0xffffffu) {
    return Status::Error(ErrorCode::kInvalidArgument, "malformed verbs QP address (PSN)");
  }
  a.lid = static_cast<uint16_t>(b[16] | (b[17] << 8));
  a.gid_index = b[18];
  std::memcpy(a.gid.data(), b + kGidOffset, 16);
  return a;
}

}  // namespace mu::fabric
