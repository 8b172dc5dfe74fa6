#include "conf/config_loader.hpp"

#include <algorithm>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace courier::conf {
namespace {

using namespace std::chrono_literals;

server_options load(const std::string& text) {
  server_options options;
  load_config_string(text, options, "test.conf");
  return options;
}

/// The problems of a text that must fail to load.
std::vector<config_problem> problems_of(const std::string& text) {
  try {
    load(text);
  } catch (const config_error& e) {
    return e.problems();
  }
  ADD_FAILURE() << "loaded, but must fail: " << text;
  return {};
}

TEST(config_loader, empty_file_keeps_nats_server_defaults) {
  const server_options defaults;
  const auto options = load("# nothing\n");
  EXPECT_EQ(options.host, defaults.host);
  EXPECT_EQ(options.port, 4222);
  EXPECT_EQ(options.max_payload, 1024 * 1024);
  EXPECT_EQ(options.max_pending, 64 * 1024 * 1024);
  EXPECT_EQ(options.ping_interval, 2min);
  EXPECT_TRUE(options.config_warnings.empty());
  ASSERT_TRUE(options.config_source);
  EXPECT_TRUE(options.document.is<picojson::object>());
}

TEST(config_loader, maps_every_supported_option) {
  const auto options = load(
      "host: 127.0.0.1\n"
      "port: 4333\n"
      "server_name: courier-1\n"
      "max_payload: 2MB\n"
      "max_pending: 128MB\n"
      "max_connections: 100\n"
      "max_control_line: 8KB\n"
      "max_subscriptions: 1000\n"
      "ping_interval: \"30s\"\n"
      "ping_max: 5\n"
      "write_deadline: \"2.5s\"\n"
      "lame_duck_duration: \"1m\"\n"
      "lame_duck_grace_period: \"5s\"\n"
      "debug: true\n"
      "trace: on\n"
      "logtime: false\n"
      "logfile: /tmp/courier.log\n"
      "pidfile: \"/tmp/courier.pid\"\n"
      "http_port: 8222\n"
      "no_auth_user: bob\n"
      "authorization { user: a, password: b }\n"
      "accounts { A { users = [{user: x}] } }\n"
      "tls { cert_file: c.pem }\n"
      "mss { url: \"http://localhost\" }\n");
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 4333);
  EXPECT_EQ(options.server_name, "courier-1");
  EXPECT_EQ(options.max_payload, 2 * 1024 * 1024);
  EXPECT_EQ(options.max_pending, 128 * 1024 * 1024);
  EXPECT_EQ(options.max_connections, 100);
  EXPECT_EQ(options.max_control_line, 8192);
  EXPECT_EQ(options.max_subscriptions, 1000);
  EXPECT_EQ(options.ping_interval, 30s);
  EXPECT_EQ(options.ping_max, 5);
  EXPECT_EQ(options.write_deadline, 2500ms);
  EXPECT_EQ(options.lame_duck_duration, 1min);
  EXPECT_EQ(options.lame_duck_grace_period, 5s);
  EXPECT_TRUE(options.debug);
  EXPECT_TRUE(options.trace);
  EXPECT_FALSE(options.logtime);
  EXPECT_EQ(options.log_file, "/tmp/courier.log");
  EXPECT_EQ(options.pid_file, "/tmp/courier.pid");
  EXPECT_EQ(options.http_port, 8222);
  EXPECT_EQ(options.no_auth_user, "bob");
  EXPECT_EQ(options.authorization.serialize(), R"({"password":"b","user":"a"})");
  EXPECT_TRUE(options.accounts.is<picojson::object>());
  EXPECT_EQ(options.tls.serialize(), R"({"cert_file":"c.pem"})");
  EXPECT_EQ(options.mss.get("url").get<std::string>(), "http://localhost");
  EXPECT_TRUE(options.config_warnings.empty());
  // The source keeps positions for the blocks' owners.
  ASSERT_TRUE(options.config_source);
  const auto* user = options.config_source->position_of("authorization/user");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->line, 21);
  EXPECT_EQ(user->column, 17);
}

TEST(config_loader, aliases_and_case) {
  const auto options = load("NET: ::1\nMax_Conn: 7\nmax_subs: 9\nlog_file: a\npid_file: b\nmonitor_port: 1\nPORT: 5");
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.max_connections, 7);
  EXPECT_EQ(options.max_subscriptions, 9);
  EXPECT_EQ(options.log_file, "a");
  EXPECT_EQ(options.pid_file, "b");
  EXPECT_EQ(options.http_port, 1);
  EXPECT_EQ(options.port, 5);
}

TEST(config_loader, listen_forms) {
  auto options = load("listen: 127.0.0.1:4333");
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 4333);
  options = load("listen: \"[::1]:4334\"");
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.port, 4334);
  options = load("listen: localhost:4335");
  EXPECT_EQ(options.host, "localhost");
  EXPECT_EQ(options.port, 4335);
  options = load("listen: \":4336\"");
  EXPECT_EQ(options.host, "0.0.0.0");
  EXPECT_EQ(options.port, 4336);
  options = load("listen: 4337");
  EXPECT_EQ(options.port, 4337);

  EXPECT_EQ(problems_of("listen: \"abc\"")[0].message, "could not parse address string \"abc\"");
  EXPECT_EQ(problems_of("listen: \"::1\"")[0].message, "could not parse address string \"::1\"");
  EXPECT_EQ(problems_of("listen: \"host:x\"")[0].message, "could not parse port \"x\"");
  EXPECT_EQ(problems_of("listen: [1]")[0].message, "expected port or host:port, got array");
}

TEST(config_loader, nats_server_port_numbers) {
  EXPECT_EQ(load("port: 0").port, 4222);  // nats-server: 0 is the default
  EXPECT_EQ(load("port: -1").port, 0);    // nats-server: -1 is random, our 0
  EXPECT_EQ(problems_of("port: 70000").size(), 1u);
  EXPECT_EQ(problems_of("port: -2").size(), 1u);
}

TEST(config_loader, unknown_field_has_nats_server_message_and_position) {
  const auto problems = problems_of("port: 4222\nfoo: bar\n  baz {\n  }\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].to_string(), "test.conf:2:1: unknown field \"foo\"");
  EXPECT_EQ(problems[1].to_string(), "test.conf:3:3: unknown field \"baz\"");
}

TEST(config_loader, variable_definitions_are_not_unknown) {
  const auto options = load("PORT_VAR = 4555\nport: $PORT_VAR\n");
  EXPECT_EQ(options.port, 4555);
  // Used from inside a block too.
  const auto nested = load("SECRET = s3cret\nauthorization { token: $SECRET }\n");
  EXPECT_EQ(nested.authorization.serialize(), R"({"token":"s3cret"})");
  // Defined but never used: unknown, as in nats-server.
  EXPECT_EQ(problems_of("UNUSED = 1\nport: 1")[0].message, "unknown field \"UNUSED\"");
}

TEST(config_loader, unsupported_options_are_errors_with_position) {
  const auto problems = problems_of("port: 4222\ncluster {\n  port: 6222\n}\njetstream: enabled\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].where.line, 2);
  EXPECT_EQ(problems[0].where.column, 1);
  EXPECT_NE(problems[0].message.find("unsupported option \"cluster\""), std::string::npos) << problems[0].message;
  EXPECT_EQ(problems[1].where.line, 5);
  EXPECT_NE(problems[1].message.find("unsupported option \"jetstream\""), std::string::npos);
  // Every listed option is refused, whatever its value.
  for (const auto name : unsupported_options()) {
    SCOPED_TRACE(std::string(name));
    const auto found = problems_of(std::string(name) + " = 1\n");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_NE(found[0].message.find("unsupported option"), std::string::npos);
  }
}

TEST(config_loader, wrong_types_are_errors_with_position) {
  struct type_case {
    const char* text;
    const char* message;
  };
  const type_case cases[] = {
      {"max_payload: \"abc\"", "invalid value for \"max_payload\": expected an integer, got string"},
      {"port: 1.5", "invalid value for \"port\": expected an integer, got float64"},
      {"debug: 5", "invalid value for \"debug\": expected a boolean, got int64"},
      {"server_name: [a]", "invalid value for \"server_name\": expected a string, got array"},
      {"host {}", "invalid value for \"host\": expected a string, got map"},
      {"lame_duck_duration: 40", "invalid value for \"lame_duck_duration\": expected a duration string"},
      {"ping_interval: true", "invalid value for \"ping_interval\": expected a duration string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto problems = problems_of(std::string("\n  ") + c.text);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].where.line, 2);
    EXPECT_EQ(problems[0].where.column, 3);
    EXPECT_NE(problems[0].message.find(c.message), std::string::npos) << problems[0].message;
  }
}

TEST(config_loader, value_checks_use_nats_server_wording) {
  EXPECT_EQ(problems_of("max_payload: 3GB")[0].message, "max_payload value is too big");
  EXPECT_EQ(problems_of("max_control_line: 3GB")[0].message, "max_control_line value is too big");
  EXPECT_EQ(problems_of("max_connections: 5000000000")[0].message, "max_connections value is too big");
  EXPECT_EQ(problems_of("ping_interval: \"abc\"")[0].message,
            "error parsing ping_interval: time: invalid duration \"abc\"");
  EXPECT_EQ(problems_of("write_deadline: \"5\"")[0].message,
            "error parsing write_deadline: time: missing unit in duration \"5\"");
  EXPECT_EQ(problems_of("lame_duck_duration: \"10s\"")[0].message,
            "invalid lame_duck_duration of 10s, minimum is 30 seconds");
  EXPECT_EQ(problems_of("lame_duck_grace_period: \"-1s\"")[0].message,
            "invalid lame_duck_grace_period, needs to be positive");
  EXPECT_EQ(problems_of("max_payload: 2MB\nmax_pending: 1MB")[0].to_string(),
            "test.conf:1:1: max_payload (2097152) cannot be higher than max_pending (1048576)");
  EXPECT_EQ(problems_of("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"30s\"")[0].message,
            "lame duck grace period (30s) should be strictly lower than lame duck duration (30s)");
}

TEST(config_loader, seconds_as_integers_work_with_a_warning) {
  const auto options = load("ping_interval: 60\nwrite_deadline: 3");
  EXPECT_EQ(options.ping_interval, 60s);
  EXPECT_EQ(options.write_deadline, 3s);
  ASSERT_EQ(options.config_warnings.size(), 2u);
  const bool found = std::any_of(options.config_warnings.begin(), options.config_warnings.end(), [](const auto& w) {
    return w.to_string() == "test.conf:1:1: invalid use of field \"ping_interval\": ping_interval should be converted to a duration";
  });
  EXPECT_TRUE(found) << options.config_warnings[0].to_string();
}

TEST(config_loader, all_errors_reported_together_in_file_order) {
  const auto problems = problems_of("zeta: 1\nport: \"x\"\nalpha: 2\n");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].where.line, 1);
  EXPECT_EQ(problems[1].where.line, 2);
  EXPECT_EQ(problems[2].where.line, 3);
  try {
    load("zeta: 1\nport: \"x\"\nalpha: 2\n");
  } catch (const config_error& e) {
    EXPECT_EQ(std::count(e.what(), e.what() + std::strlen(e.what()), '\n'), 2);
  }
}

TEST(config_loader, loads_a_file_and_its_includes) {
  const auto dir = std::filesystem::temp_directory_path() / ("courier-loader-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "conf.d");
  std::ofstream(dir / "conf.d" / "limits.conf") << "max_payload: 512KB\nbogus: 1\n";
  std::ofstream(dir / "main.conf") << "port: 4999\ninclude conf.d/limits.conf\n";
  server_options options;
  try {
    load_config_file((dir / "main.conf").string(), options);
    ADD_FAILURE() << "must fail on bogus";
  } catch (const config_error& e) {
    // The unknown key is reported in the included file, at its line.
    EXPECT_EQ(std::string(e.what()), (dir / "conf.d" / "limits.conf").string() + ":2:1: unknown field \"bogus\"");
  }
  std::ofstream(dir / "conf.d" / "limits.conf") << "max_payload: 512KB\n";
  load_config_file((dir / "main.conf").string(), options);
  EXPECT_EQ(options.port, 4999);
  EXPECT_EQ(options.max_payload, 512 * 1024);
  EXPECT_EQ(options.config_file, (dir / "main.conf").string());
  std::filesystem::remove_all(dir);
}

TEST(config_loader, shipped_default_config_loads) {
  server_options options;
  load_config_file(std::string(COURIER_SOURCE_DIR) + "/conf/courier.conf", options);
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 4222);
}

TEST(config_loader, example_config_loads) {
  server_options options;
  load_config_file(std::string(COURIER_SOURCE_DIR) + "/conf/examples/full.conf", options);
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 4333);
  EXPECT_EQ(options.server_name, "courier-example");
  EXPECT_EQ(options.max_payload, 2 * 1024 * 1024);
  EXPECT_EQ(options.max_connections, 1000);
  EXPECT_EQ(options.ping_interval, 30s);
  EXPECT_EQ(options.http_port, 8222);
  const auto& users = options.authorization.get("users").get<picojson::array>();
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[1].get("password").get<std::string>().rfind("$2a$11$", 0), 0u);
  const auto* bob = options.config_source->position_of("authorization/users/1/user");
  ASSERT_NE(bob, nullptr);
  EXPECT_NE(bob->file.find("users.conf"), std::string::npos);
  EXPECT_EQ(bob->line, 6);
}

}  // namespace
}  // namespace courier::conf
