// Command classification (write / read / local), Redis error texts, and the local commands the
// front end answers itself, against a fake FrontEnd.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/kv/commands.h"
#include "apps/kv/local_commands.h"

namespace mu::kv {
namespace {

TEST(Commands, LookupIsCaseInsensitive) {
  ASSERT_NE(find_command("get"), nullptr);
  EXPECT_EQ(find_command("GeT"), find_command("get"));
  EXPECT_EQ(find_command("nosuchcommand"), nullptr);
  EXPECT_EQ(find_command(""), nullptr);
  EXPECT_EQ(find_command(std::string(100, 'a')), nullptr);
}

TEST(Commands, Classification) {
  for (const char* w : {"set", "setnx", "setex", "psetex", "mset", "msetnx", "del", "incr",
                        "incrby", "decr", "decrby", "append", "getset", "getdel", "expire",
                        "pexpire", "expireat", "pexpireat", "persist", "flushall", "flushdb"}) {
    EXPECT_EQ(find_command(w)->command_class, CommandClass::kWrite) << w;
  }
  for (const char* r : {"get", "mget", "strlen", "exists", "ttl", "pttl", "type", "keys",
                        "dbsize"}) {
    EXPECT_EQ(find_command(r)->command_class, CommandClass::kRead) << r;
  }
  for (const char* l : {"ping", "echo", "command", "hello", "client", "select", "config", "info",
                        "quit", "reset", "auth"}) {
    EXPECT_EQ(find_command(l)->command_class, CommandClass::kLocal) << l;
  }
  for (const CommandInfo& c : all_commands()) {
    EXPECT_EQ(find_command(c.name), &c);
    EXPECT_NE(c.arity, 0) << c.name;
  }
}

TEST(Commands, Arity) {
  const CommandInfo& get = *find_command("get");
  EXPECT_TRUE(arity_ok(get, 2));
  EXPECT_FALSE(arity_ok(get, 1));
  EXPECT_FALSE(arity_ok(get, 3));
  const CommandInfo& set = *find_command("set");
  EXPECT_FALSE(arity_ok(set, 2));
  EXPECT_TRUE(arity_ok(set, 3));
  EXPECT_TRUE(arity_ok(set, 9));
}

TEST(Commands, RedisErrorTexts) {
  EXPECT_EQ(wrong_arity_error("get"), "ERR wrong number of arguments for 'get' command");
  Command argv{"xyz", "a", "b c"};
  EXPECT_EQ(unknown_command_error(argv),
            "ERR unknown command 'xyz', with args beginning with: 'a' 'b c' ");
  std::string long_arg(300, 'x');
  Command many{"xyz", long_arg, "next"};
  const std::string e = unknown_command_error(many);
  EXPECT_LT(e.size(), 300u);  // arguments are cut at 128 bytes, as Redis does
  EXPECT_EQ(unknown_subcommand_error("foo", "client"),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP.");
}

class FakeFrontEnd final : public FrontEnd {
 public:
  ReplicationView replication_view() const override {
    ++view_calls;
    return view;
  }
  ServerFacts server_facts() const override { return facts; }
  void describe_clients(std::string* out) const override { out->append("id=1 name=x\n"); }
  uint64_t now_ms() const override { return 5000; }
  ReplicationView view;
  ServerFacts facts;
  mutable int view_calls = 0;
};

struct Local {
  FakeFrontEnd front_end;
  ClientState client;
  std::string operator()(std::vector<std::string> args) {
    Command argv(args.begin(), args.end());
    const CommandInfo* info = find_command(argv[0]);
    EXPECT_NE(info, nullptr);
    EXPECT_TRUE(arity_ok(*info, argv.size()));
    std::string reply;
    execute_local(*info, argv, client, front_end, &reply);
    return reply;
  }
};

TEST(LocalCommands, Hello) {
  Local l;
  l.client.id = 9;
  EXPECT_EQ(l({"HELLO", "x"}), "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(l({"HELLO", "1"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(l({"HELLO", "3", "SETNAME"}), "-ERR Syntax error in HELLO option 'SETNAME'\r\n");
  EXPECT_EQ(l.client.resp_version, 2);  // errors change nothing
  const std::string r = l({"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"});
  EXPECT_EQ(l.client.resp_version, 3);
  EXPECT_EQ(l.client.name, "app");
  EXPECT_EQ(r,
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"
            "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:9\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
            "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
  // HELLO with no version reports, in the current protocol.
  EXPECT_EQ(l({"HELLO"}).substr(0, 4), "%7\r\n");
  l.front_end.view.is_leader = false;
  EXPECT_NE(l({"HELLO", "2"}).find("$4\r\nrole\r\n$7\r\nreplica\r\n"), std::string::npos);
  EXPECT_EQ(l.client.resp_version, 2);
}

TEST(LocalCommands, Client) {
  Local l;
  l.client.id = 4;
  l.client.peer_address = "127.0.0.1:5555";
  EXPECT_EQ(l({"CLIENT", "ID"}), ":4\r\n");
  EXPECT_EQ(l({"CLIENT", "GETNAME"}), "$-1\r\n");
  EXPECT_EQ(l({"CLIENT", "SETNAME", "bad name"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(l({"CLIENT", "SETNAME"}),
            "-ERR wrong number of arguments for 'client|setname' command\r\n");
  EXPECT_EQ(l({"CLIENT", "SETNAME", "w1"}), "+OK\r\n");
  EXPECT_EQ(l({"CLIENT", "GETNAME"}), "$2\r\nw1\r\n");
  EXPECT_NE(l({"CLIENT", "INFO"}).find("id=4 addr=127.0.0.1:5555"), std::string::npos);
  EXPECT_EQ(l({"CLIENT", "LIST"}), "$12\r\nid=1 name=x\n\r\n");
  EXPECT_EQ(l({"CLIENT", "SETINFO", "lib-name", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(l({"CLIENT", "KILL", "x"}), "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n");
}

TEST(LocalCommands, CommandConfigSelectAuth) {
  Local l;
  l.front_end.facts.max_clients = 77;
  EXPECT_EQ(l({"COMMAND"}), "*0\r\n");
  EXPECT_EQ(l({"COMMAND", "DOCS"}), "*0\r\n");
  l.client.resp_version = 3;
  EXPECT_EQ(l({"COMMAND", "DOCS", "get"}), "%0\r\n");
  l.client.resp_version = 2;
  EXPECT_EQ(l({"COMMAND", "COUNT"}), ":" + std::to_string(all_commands().size()) + "\r\n");
  EXPECT_EQ(l({"COMMAND", "INFO", "get", "x"}), "*2\r\n*-1\r\n*-1\r\n");
  EXPECT_EQ(l({"CONFIG", "GET", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(l({"CONFIG", "GET", "MAXCLIENTS", "appendonly"}),
            "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n");
  EXPECT_EQ(l({"CONFIG", "GET", "maxmemory*"}),
            "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n");
  EXPECT_EQ(l({"CONFIG", "GET", "nothing"}), "*0\r\n");
  EXPECT_EQ(l({"CONFIG", "GET"}), "-ERR wrong number of arguments for 'config|get' command\r\n");
  EXPECT_EQ(l({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(l({"SELECT", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(l({"AUTH", "pw"}).substr(0, 32), "-ERR AUTH <password> called with");
  EXPECT_EQ(l({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(l.client.close_after_reply);
}

TEST(LocalCommands, InfoSections) {
  Local l;
  l.front_end.facts.port = 6380;
  l.front_end.facts.connected_clients = 3;
  l.front_end.view.mu_role = "leader";
  l.front_end.view.self_id = 0;
  l.front_end.view.leader_id = 0;
  l.front_end.view.leader_address = "10.0.0.1:6380";
  l.front_end.view.connected_followers = 2;
  l.front_end.view.keyspace_fields.emplace_back("db0", "keys=5,expires=1,avg_ttl=0");
  const std::string all = l({"INFO"});
  for (const char* s : {"# Server\r\n", "redis_version:7.0.0\r\n", "tcp_port:6380\r\n",
                        "# Clients\r\n", "connected_clients:3\r\n", "# Replication\r\n",
                        "role:master\r\n", "mu_role:leader\r\n", "mu_leader_id:0\r\n",
                        "connected_slaves:2\r\n", "# Keyspace\r\n",
                        "db0:keys=5,expires=1,avg_ttl=0\r\n"}) {
    EXPECT_NE(all.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(all.find("master_host"), std::string::npos);  // a leader has no master
  l.front_end.view_calls = 0;
  const std::string server = l({"INFO", "server"});
  EXPECT_NE(server.find("redis_version"), std::string::npos);
  EXPECT_EQ(server.find("# Replication"), std::string::npos);
  EXPECT_EQ(l.front_end.view_calls, 0);  // the engine is not asked when not needed
  EXPECT_EQ(l({"INFO", "nosuchsection"}), "$0\r\n\r\n");
}

TEST(LocalCommands, ResetAndPing) {
  Local l;
  l.client.resp_version = 3;
  l.client.name = "x";
  EXPECT_EQ(l({"PING"}), "+PONG\r\n");
  EXPECT_EQ(l({"PING", "a"}), "$1\r\na\r\n");
  EXPECT_EQ(l({"PING", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(l({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(l.client.resp_version, 2);
  EXPECT_EQ(l.client.name, "");
}

}  // namespace
}  // namespace mu::kv
