// Issue 18, part 1, through the courier executable: `courier -t -c FILE`
// builds the `mss` block as start-up does. For each broken block, -t exits
// non-zero with the message `courier -c FILE` dies with, and that message
// names the file, the line and the key; a SIGHUP reload refuses the file
// the same way and the server keeps serving its old message services. A
// valid file passes -t and starts.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "broker_process.hpp"
#include "libnats_client.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

/// A broken `mss` block, what its message must say, and where.
struct broken_block {
  const char* name;      ///< the case
  std::string text;      ///< the whole config file
  int line;              ///< the line of the offending key
  const char* key;       ///< a text the message must hold that names the key
};

/// The cases of issue 18. Every file has the same first lines, so that the
/// line numbers below are the files' own.
std::vector<broken_block> broken_blocks() {
  const std::string head = "# issue 18\nmss {\n  prefix: shop\n";  // lines 1-3
  const std::string handlers = "  handlers {\n    greet { type: log }\n";  // lines 4-5
  return {
      {"UnknownKeyInAHandler",
       head + handlers + "    hook { type: webhook, url: \"http://127.0.0.1:1/h\", secrett: \"k\" }\n  }\n}\n", 6,
       "mss.handlers.hook: unknown key 'secrett'"},
      {"UnknownHandlerType", head + handlers + "    fax {\n      type: telefax\n    }\n  }\n}\n", 7,
       "mss.handlers.fax: unknown handler type 'telefax'"},
      {"RuleNamingAMissingHandler",
       head + handlers + "  }\n  events: [\n    { event: \"order.*\", handlers: [greet, nobody] }\n  ]\n}\n", 8,
       "unknown handler 'nobody'"},
      {"BrokenTlsInAnSmtpBlock",
       head + "  smtp {\n    host: 127.0.0.1\n    tls { cert_file: \"/nonexistent/cert.pem\" }\n  }\n" + handlers +
           "  }\n}\n",
       6, "mss.smtp: smtp 'tls'"},
      {"BrokenTlsInTheNotificationGateway",
       head + "  notifications {\n    authorize { url: \"http://127.0.0.1:1/a\" }\n"
              "    tls { cert_file: \"/nonexistent/cert.pem\", key_file: \"/nonexistent/key.pem\" }\n  }\n" +
           handlers + "  }\n}\n",
       6, "mss.notifications: tls:"},
      {"InvalidSubjectPrefix", "# issue 18\nmss {\n  prefix: \"shop.*\"\n" + handlers + "  }\n}\n", 3,
       "mss.prefix: 'shop.*' is not a valid literal subject"},
  };
}

/// A valid file: a log handler behind an action.
std::string valid_file(const std::string& action = "hello") {
  return "# issue 18\nmss {\n  prefix: shop\n  handlers {\n    greet { type: log }\n  }\n  actions: [ { action: " +
         action + ", handlers: greet } ]\n}\n";
}

struct run_result {
  int status = -1;     ///< exit status (-1: did not exit normally)
  std::string output;  ///< stdout and stderr
};

/// Runs the courier binary with `args` to its end (it must end within 60 s:
/// a broken file is refused at start, well before).
run_result run_courier(const std::vector<std::string>& args, const std::string& output_file) {
  std::remove(output_file.c_str());
  std::vector<std::string> argv{test::courier_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  courier::test::spawn_options options;
  options.log = output_file;
  options.die_with_parent = false;
  const pid_t pid = courier::test::spawn(argv, options);
  run_result result;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.output = "still running after 60 s: " + test::read_file(output_file);
      return result;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (WIFEXITED(status)) result.status = WEXITSTATUS(status);
  result.output = test::read_file(output_file);
  return result;
}

/// The text -t printed after "nats-server: ", first line.
std::string checked_message(const std::string& output) {
  const std::string marker = "nats-server: ";
  const auto at = output.find(marker);
  if (at == std::string::npos) return {};
  const auto end = output.find('\n', at);
  return output.substr(at + marker.size(), end == std::string::npos ? std::string::npos : end - at - marker.size());
}

class ConfigCheck : public ::testing::TestWithParam<broken_block> {
 protected:
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = work_.file(name);
    std::ofstream(path) << text;
    return path;
  }
  test::temp_dir work_;
};

TEST_P(ConfigCheck, DashTFailsAsStartUpDoesNamingFileLineAndKey) {
  const broken_block& block = GetParam();
  const std::string conf = write("broken.conf", block.text);

  const run_result checked = run_courier({"-t", "-c", conf}, work_.file("t.out"));
  EXPECT_NE(checked.status, 0) << checked.output;
  EXPECT_EQ(checked.output.find("is valid"), std::string::npos) << checked.output;
  const std::string message = checked_message(checked.output);
  ASSERT_FALSE(message.empty()) << checked.output;
  // "FILE:LINE:COLUMN: mss...: what", as nats-server prints its own blocks' errors.
  EXPECT_EQ(message.rfind(conf + ":" + std::to_string(block.line) + ":", 0), 0u)
      << "expected " << conf << ":" << block.line << ": in front of: " << message;
  EXPECT_NE(message.find(block.key), std::string::npos) << message;

  const int port = test::unused_port();
  const run_result started =
      run_courier({"-c", conf, "-a", "127.0.0.1", "-p", std::to_string(port)}, work_.file("c.out"));
  EXPECT_NE(started.status, 0) << started.output;
  EXPECT_NE(started.output.find(message), std::string::npos)
      << "start-up's message differs from -t's (" << message << "):\n" << started.output;
}

TEST_P(ConfigCheck, ReloadRefusesTheFileAndKeepsTheOldServices) {
  const broken_block& block = GetParam();
  const std::string conf = write("live.conf", valid_file());
  test::broker_process courier;
  ASSERT_TRUE(courier.start(test::courier_binary(), {"-c", conf}, 0, work_.file("courier.log")))
      << test::read_file(work_.file("courier.log"));
  test::libnats_client app(courier.url());
  ASSERT_TRUE(app.connected());
  ASSERT_EQ(app.request("shop.action.hello", "{}", 10s).status, NATS_OK);

  write("live.conf", block.text);
  const std::string message = checked_message(run_courier({"-t", "-c", conf}, work_.file("t.out")).output);
  ASSERT_FALSE(message.empty());
  ::kill(courier.pid(), SIGHUP);
  const std::string refused = "Failed to reload server configuration: " + message;
  ASSERT_TRUE(test::wait_until(
      [&] { return test::read_file(work_.file("courier.log")).find(refused) != std::string::npos; }, 30s))
      << "expected \"" << refused << "\" in:\n" << test::read_file(work_.file("courier.log"));
  EXPECT_EQ(test::read_file(work_.file("courier.log")).find("Reloaded server configuration"), std::string::npos);

  // Still serving, on the old configuration: the action still answers.
  const auto r = app.request("shop.action.hello", R"({"correlationId":"after-reload"})", 10s);
  ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status);
  EXPECT_EQ(test::json_field(test::parse_json(r.data), "ok"), "true") << r.data;
  test::libnats_client late(courier.url());
  EXPECT_TRUE(late.connected()) << "a new client is still accepted";
}

INSTANTIATE_TEST_SUITE_P(Issue18, ConfigCheck, ::testing::ValuesIn(broken_blocks()),
                         [](const ::testing::TestParamInfo<broken_block>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigCheckValid, DashTPassesAndTheFileStarts) {
  test::temp_dir work;
  const std::string conf = work.file("valid.conf");
  std::ofstream(conf) << valid_file();
  const run_result checked = run_courier({"-t", "-c", conf}, work.file("t.out"));
  EXPECT_EQ(checked.status, 0) << checked.output;
  EXPECT_NE(checked.output.find("configuration file " + conf + " is valid"), std::string::npos) << checked.output;

  test::broker_process courier;
  ASSERT_TRUE(courier.start(test::courier_binary(), {"-c", conf}, 0, work.file("courier.log")));
  test::libnats_client app(courier.url());
  ASSERT_TRUE(app.connected());
  const auto r = app.request("shop.action.hello", "{}", 10s);
  ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status);
  EXPECT_EQ(test::json_field(test::parse_json(r.data), "ok"), "true") << r.data;

  // A valid file reloads; the services keep the block they started with.
  std::ofstream(conf) << valid_file("hello2");
  ::kill(courier.pid(), SIGHUP);
  ASSERT_TRUE(test::wait_until(
      [&] {
        return test::read_file(work.file("courier.log")).find("Reloaded server configuration") != std::string::npos;
      },
      30s))
      << test::read_file(work.file("courier.log"));
  EXPECT_NE(test::read_file(work.file("courier.log")).find("mss: the block changed"), std::string::npos);
  EXPECT_EQ(app.request("shop.action.hello", "{}", 10s).status, NATS_OK);
}

TEST(ConfigCheckValid, DashTDoesNotTouchAuditFiles) {
  // -t checks an audit handler's file without opening it: nothing is created.
  test::temp_dir work;
  const std::string conf = work.file("audit.conf");
  std::ofstream(conf) << "mss {\n  handlers {\n    trail { type: audit, file: \"" + work.file("trail.jsonl") +
                             "\" }\n  }\n}\n";
  const run_result checked = run_courier({"-t", "-c", conf}, work.file("t.out"));
  EXPECT_EQ(checked.status, 0) << checked.output;
  EXPECT_FALSE(std::filesystem::exists(work.file("trail.jsonl")));
  // A directory that does not exist is refused, at the file key's line.
  std::ofstream(conf) << "mss {\n  handlers {\n    trail {\n      type: audit\n      file: \"" +
                             work.file("missing-dir/trail.jsonl") + "\"\n    }\n  }\n}\n";
  const run_result refused = run_courier({"-t", "-c", conf}, work.file("t.out"));
  EXPECT_NE(refused.status, 0);
  EXPECT_EQ(checked_message(refused.output).rfind(conf + ":5:", 0), 0u) << refused.output;
  EXPECT_NE(refused.output.find("mss.handlers.trail: cannot open audit log"), std::string::npos) << refused.output;
}

TEST(ConfigCheckValid, UnknownTopLevelMssKeyIsRefused) {
  test::temp_dir work;
  const std::string conf = work.file("typo.conf");
  std::ofstream(conf) << "mss {\n  prefix: shop\n  event_rety { attempts: 2 }\n}\n";
  const run_result checked = run_courier({"-t", "-c", conf}, work.file("t.out"));
  EXPECT_NE(checked.status, 0) << checked.output;
  EXPECT_EQ(checked_message(checked.output).rfind(conf + ":3:", 0), 0u) << checked.output;
  EXPECT_NE(checked.output.find("mss: unknown key 'event_rety'"), std::string::npos) << checked.output;
}

}  // namespace
}  // namespace courier::mss
