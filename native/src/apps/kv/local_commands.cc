#include "apps/kv/local_commands.h"

#include <unistd.h>

#include <string_view>

#include "apps/kv/kv_store.h"

namespace mu::kv {

namespace {

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";

std::string subcommand_arity_error(std::string_view command, std::string_view sub) {
  std::string name(command);
  name.push_back('|');
  for (char c : sub) name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  return wrong_arity_error(name);
}

void help(ReplyWriter& w, std::initializer_list<std::string_view> lines) {
  w.array(lines.size());
  for (std::string_view l : lines) w.simple(l);
}

// CONFIG GET answers from this fixed table: what tools probe, with values true of Mu (no
// persistence: the log is in memory and replicated, DESIGN.md §3.6).
void config_get(Argv patterns, const ServerFacts& facts, ReplyWriter& w) {
  const std::string maxclients = std::to_string(facts.max_clients);
  const std::string bulk = std::to_string(facts.max_bulk_bytes);
  const std::string port = std::to_string(facts.port);
  const std::pair<std::string_view, std::string_view> table[] = {
      {"appendonly", "no"},         {"save", ""},
      {"databases", "1"},           {"maxclients", maxclients},
      {"maxmemory", "0"},           {"maxmemory-policy", "noeviction"},
      {"port", port},               {"proto-max-bulk-len", bulk},
      {"timeout", "0"},             {"cluster-enabled", "no"},
  };
  std::vector<const std::pair<std::string_view, std::string_view>*> hits;
  for (const auto& entry : table) {
    for (std::string_view p : patterns) {
      std::string lower(p);
      for (char& c : lower) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
      if (glob_match(lower, entry.first)) {
        hits.push_back(&entry);
        break;
      }
    }
  }
  w.map(hits.size());
  for (const auto* h : hits) {
    w.bulk(h->first);
    w.bulk(h->second);
  }
}

void field(std::string* s, std::string_view name, std::string_view value) {
  s->append(name);
  s->push_back(':');
  s->append(value);
  s->append("\r\n");
}
void field(std::string* s, std::string_view name, uint64_t value) {
  field(s, name, std::to_string(value));
}

void cmd_info(Argv sections, const FrontEnd& front_end, ReplyWriter& w) {
  bool want_server = false, want_clients = false, want_stats = false, want_replication = false,
       want_keyspace = false;
  if (sections.empty()) {
    want_server = want_clients = want_stats = want_replication = want_keyspace = true;
  }
  for (std::string_view s : sections) {
    const bool all = equals_ignore_case(s, "all") || equals_ignore_case(s, "everything") ||
                     equals_ignore_case(s, "default");
    want_server |= all || equals_ignore_case(s, "server");
    want_clients |= all || equals_ignore_case(s, "clients");
    want_stats |= all || equals_ignore_case(s, "stats");
    want_replication |= all || equals_ignore_case(s, "replication");
    want_keyspace |= all || equals_ignore_case(s, "keyspace");
  }
  const ServerFacts facts = front_end.server_facts();
  std::string text;
  auto section = [&text](std::string_view title) {
    if (!text.empty()) text.append("\r\n");
    text.append("# ");
    text.append(title);
    text.append("\r\n");
  };
  if (want_server) {
    section("Server");
    field(&text, "redis_version", kRedisCompatibleVersion);
    field(&text, "mu_version", kMuVersion);
    field(&text, "redis_mode", "standalone");
    field(&text, "arch_bits", "64");
    field(&text, "process_id", static_cast<uint64_t>(getpid()));
    field(&text, "tcp_port", facts.port);
    field(&text, "uptime_in_seconds", facts.uptime_s);
    field(&text, "uptime_in_days", facts.uptime_s / 86400);
  }
  if (want_clients) {
    section("Clients");
    field(&text, "connected_clients", facts.connected_clients);
    field(&text, "maxclients", facts.max_clients);
  }
  if (want_stats) {
    section("Stats");
    field(&text, "total_connections_received", facts.total_connections);
    field(&text, "total_commands_processed", facts.total_commands);
    field(&text, "rejected_connections", facts.rejected_connections);
    field(&text, "mu_protocol_errors", facts.protocol_errors);
    field(&text, "mu_rejected_commands", facts.rejected_commands);
    field(&text, "mu_replies_dropped", facts.replies_dropped);
  }
  // The replication view is only asked for when needed: it calls into the engine.
  std::optional<ReplicationView> view;
  if (want_replication || want_keyspace) view = front_end.replication_view();
  if (want_replication) {
    section("Replication");
    field(&text, "role", view->is_leader ? "master" : "slave");
    field(&text, "mu_role", view->mu_role);
    if (view->self_id) field(&text, "mu_replica_id", *view->self_id);
    field(&text, "mu_leader_id", view->leader_id ? std::to_string(*view->leader_id) : "-1");
    field(&text, "mu_leader_address", view->leader_address);
    if (!view->is_leader) {
      // Redis's replica fields, so tools that look for the master find the leader.
      const size_t colon = view->leader_address.rfind(':');
      field(&text, "master_host",
            colon == std::string::npos ? view->leader_address
                                       : view->leader_address.substr(0, colon));
      field(&text, "master_port",
            colon == std::string::npos ? "" : view->leader_address.substr(colon + 1));
      field(&text, "master_link_status", view->leader_id ? "up" : "down");
    }
    field(&text, "connected_slaves", view->connected_followers);
    for (const auto& [k, v] : view->replication_fields) field(&text, k, v);
  }
  if (want_keyspace) {
    section("Keyspace");
    for (const auto& [k, v] : view->keyspace_fields) field(&text, k, v);
  }
  w.bulk(text);
}

void cmd_hello(Argv argv, ClientState& client, const FrontEnd& front_end, std::string* reply) {
  int version = client.resp_version;
  std::string_view new_name;
  bool set_name = false;
  if (argv.size() >= 2) {
    int64_t v = 0;
    if (!parse_int64(argv[1], &v)) {
      ReplyWriter(reply, client.resp_version)
          .error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (v < 2 || v > 3) {
      ReplyWriter(reply, client.resp_version).error("NOPROTO unsupported protocol version");
      return;
    }
    version = static_cast<int>(v);
    for (size_t j = 2; j < argv.size(); ++j) {
      const size_t more = argv.size() - j - 1;  // words after this option
      if (equals_ignore_case(argv[j], "auth") && more >= 2) {
        j += 2;  // no passwords configured: the default user takes any (as Redis's nopass user)
      } else if (equals_ignore_case(argv[j], "setname") && more >= 1) {
        new_name = argv[++j];
        set_name = true;
      } else {
        ReplyWriter(reply, client.resp_version)
            .error("ERR Syntax error in HELLO option '" + std::string(argv[j]) + "'");
        return;
      }
    }
  }
  if (set_name) client.name.assign(new_name);
  client.resp_version = version;
  const ReplicationView view = front_end.replication_view();
  ReplyWriter w(reply, client.resp_version);
  w.map(7);
  w.bulk("server");
  w.bulk("redis");
  w.bulk("version");
  w.bulk(kRedisCompatibleVersion);
  w.bulk("proto");
  w.integer(client.resp_version);
  w.bulk("id");
  w.integer(client.id);
  w.bulk("mode");
  w.bulk("standalone");
  w.bulk("role");
  w.bulk(view.is_leader ? "master" : "replica");
  w.bulk("modules");
  w.array(0);
}

bool valid_client_name(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

void cmd_client(Argv argv, ClientState& client, const FrontEnd& front_end, ReplyWriter& w) {
  const std::string_view sub = argv[1];
  if (equals_ignore_case(sub, "id") && argv.size() == 2) {
    w.integer(client.id);
  } else if (equals_ignore_case(sub, "getname") && argv.size() == 2) {
    client.name.empty() ? w.null() : w.bulk(client.name);
  } else if (equals_ignore_case(sub, "setname")) {
    if (argv.size() != 3) {
      w.error(subcommand_arity_error("client", sub));
    } else if (!valid_client_name(argv[2])) {
      w.error("ERR Client names cannot contain spaces, newlines or special characters.");
    } else {
      client.name.assign(argv[2]);
      w.ok();
    }
  } else if (equals_ignore_case(sub, "info") && argv.size() == 2) {
    std::string line;
    describe_client(client, front_end.now_ms(), &line);
    w.bulk(line);
  } else if (equals_ignore_case(sub, "list")) {
    std::string lines;
    front_end.describe_clients(&lines);
    w.bulk(lines);
  } else if ((equals_ignore_case(sub, "setinfo") || equals_ignore_case(sub, "no-evict") ||
              equals_ignore_case(sub, "no-touch")) &&
             argv.size() >= 3) {
    w.ok();  // client libraries announce themselves; nothing to keep
  } else if (equals_ignore_case(sub, "help")) {
    help(w, {"CLIENT <subcommand> [<arg> ...]. Subcommands are:", "ID", "GETNAME",
             "SETNAME <name>", "INFO", "LIST", "SETINFO <attr> <value>"});
  } else {
    w.error(unknown_subcommand_error(sub, "client"));
  }
}

void cmd_command(Argv argv, ReplyWriter& w) {
  if (argv.size() == 1) {
    w.array(0);  // the full command table is not needed by the tools we serve
    return;
  }
  const std::string_view sub = argv[1];
  if (equals_ignore_case(sub, "count") && argv.size() == 2) {
    w.integer(static_cast<int64_t>(all_commands().size()));
  } else if (equals_ignore_case(sub, "docs")) {
    w.map(0);  // redis-cli probes this at start; an empty map makes it use its built-in hints
  } else if (equals_ignore_case(sub, "info")) {
    w.array(argv.size() - 2);
    for (size_t i = 2; i < argv.size(); ++i) w.null_array();
  } else if (equals_ignore_case(sub, "list")) {
    w.array(all_commands().size());
    for (const CommandInfo& c : all_commands()) w.bulk(c.name);
  } else if (equals_ignore_case(sub, "help")) {
    help(w, {"COMMAND <subcommand> [<arg> ...]. Subcommands are:", "(no subcommand)", "COUNT",
             "DOCS [<command-name> ...]", "INFO [<command-name> ...]", "LIST"});
  } else {
    w.error(unknown_subcommand_error(sub, "command"));
  }
}

void cmd_config(Argv argv, const FrontEnd& front_end, ReplyWriter& w) {
  const std::string_view sub = argv[1];
  if (equals_ignore_case(sub, "get")) {
    if (argv.size() < 3) {
      w.error(subcommand_arity_error("config", sub));
      return;
    }
    config_get(argv.subspan(2), front_end.server_facts(), w);
  } else if (equals_ignore_case(sub, "resetstat") && argv.size() == 2) {
    w.ok();
  } else if (equals_ignore_case(sub, "set")) {
    w.error("ERR CONFIG SET is not supported: configure the MuCluster resource instead");
  } else if (equals_ignore_case(sub, "help")) {
    help(w, {"CONFIG <subcommand> [<arg> ...]. Subcommands are:", "GET <pattern>", "RESETSTAT"});
  } else {
    w.error(unknown_subcommand_error(sub, "config"));
  }
}

}  // namespace

void describe_client(const ClientState& client, uint64_t now_ms, std::string* out) {
  const uint64_t age_s = now_ms > client.connected_ms ? (now_ms - client.connected_ms) / 1000 : 0;
  out->append("id=" + std::to_string(client.id));
  out->append(" addr=" + client.peer_address);
  out->append(" laddr=" + client.local_address);
  out->append(" fd=" + std::to_string(client.fd));
  out->append(" name=" + client.name);
  out->append(" age=" + std::to_string(age_s));
  out->append(" db=0");
  out->append(" resp=" + std::to_string(client.resp_version));
  out->append("\n");
}

void execute_local(const CommandInfo& info, Argv argv, ClientState& client,
                   const FrontEnd& front_end, std::string* reply) {
  ReplyWriter w(reply, client.resp_version);
  switch (info.id) {
    case CommandId::kPing:
      if (argv.size() > 2) {
        w.error(wrong_arity_error(info.name));
      } else if (argv.size() == 2) {
        w.bulk(argv[1]);
      } else {
        w.simple("PONG");
      }
      return;
    case CommandId::kEcho:
      w.bulk(argv[1]);
      return;
    case CommandId::kHello:
      cmd_hello(argv, client, front_end, reply);
      return;
    case CommandId::kClient:
      cmd_client(argv, client, front_end, w);
      return;
    case CommandId::kCommand:
      cmd_command(argv, w);
      return;
    case CommandId::kConfig:
      cmd_config(argv, front_end, w);
      return;
    case CommandId::kInfo:
      cmd_info(argv.subspan(1), front_end, w);
      return;
    case CommandId::kSelect: {
      int64_t db = 0;
      if (!parse_int64(argv[1], &db)) {
        w.error(kNotInteger);
      } else if (db != 0) {
        w.error("ERR DB index is out of range");  // one database: the replicated one
      } else {
        w.ok();
      }
      return;
    }
    case CommandId::kQuit:
      w.ok();
      client.close_after_reply = true;
      return;
    case CommandId::kReset:
      client.resp_version = 2;
      client.name.clear();
      ReplyWriter(reply, 2).simple("RESET");
      return;
    case CommandId::kAuth:
      if (argv.size() == 2) {
        w.error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?");
      } else if (argv.size() == 3) {
        w.ok();  // the default user without a password accepts any (Redis's nopass)
      } else {
        w.error("ERR syntax error");
      }
      return;
    default:
      break;
  }
  w.error("ERR '" + std::string(info.name) + "' is not a front-end command");
}

}  // namespace mu::kv
