// The runner (what main calls) on the shipped configs and on broken ones:
// conf/courier.conf and conf/identity-service.conf build and subscribe on
// an embedded broker; config mistakes are clear startup errors.
#include "mss/service/runner.hpp"

#include <gtest/gtest.h>

#include "broker/server.hpp"
#include "conf/config_error.hpp"
#include "conf/config_loader.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

std::set<std::string> subjects(runner& r) {
  std::set<std::string> out;
  for (const auto& sub : r.services().subscriptions()) {
    EXPECT_EQ(sub.queue, "mss") << sub.subject;
    out.insert(sub.subject);
  }
  return out;
}

struct embedded_server {
  explicit embedded_server(conf::server_options options) : server((options.port = -1, options)) { server.start(); }
  ~embedded_server() { server.shutdown(); }
  broker::server server;
};

TEST(Runner, ShippedDefaultConfigRunsLogOnlyServices) {
  conf::server_options options;
  conf::load_config_file(std::string(COURIER_SOURCE_DIR) + "/conf/courier.conf", options);
  embedded_server embedded(options);
  auto services = start_message_services(&embedded.server, options);
  ASSERT_NE(services, nullptr);
  EXPECT_FALSE(services->external());
  EXPECT_EQ(subjects(*services), (std::set<std::string>{"mss.action.>", "mss.event.>", "mss.audit.>"}));
}

TEST(Runner, ShippedIdentityServiceConfigBuilds) {
  test::temp_dir dir;
  std::string text = test::read_file(std::string(COURIER_SOURCE_DIR) + "/conf/identity-service.conf");
  const std::string audit_path = "/var/lib/courier/kiam-audit.jsonl";
  ASSERT_NE(text.find(audit_path), std::string::npos);
  text.replace(text.find(audit_path), audit_path.size(), dir.file("audit.jsonl"));
  conf::server_options options;
  conf::load_config_string(text, options);
  embedded_server embedded(options);
  auto services = start_message_services(&embedded.server, options);
  ASSERT_NE(services, nullptr);
  EXPECT_EQ(subjects(*services),
            (std::set<std::string>{"kiam.action.email.send", "kiam.action.mail", "kiam.event.login.abnormal",
                                   "kiam.event.account.>", "kiam.audit.>"}));
}

TEST(Runner, NoMssBlockMeansNoServices) {
  conf::server_options options;
  conf::load_config_string("listen: 127.0.0.1:4222\n", options);
  EXPECT_EQ(start_message_services(nullptr, options), nullptr);
  EXPECT_FALSE(message_services_only(options));
}

TEST(Runner, ConfigMistakesAreClearStartupErrors) {
  const auto error_of = [](const std::string& mss, const std::string& url = {}) -> std::string {
    conf::server_options options;
    conf::load_config_string(mss, options);
    options.mss_only_url = url;
    try {
      embedded_server embedded(options);
      start_message_services(url.empty() ? &embedded.server : nullptr, options);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(R"(mss { handlers { log { type: log } }, events: [ { event: a, handlers: mail } ] })")
                .find("unknown handler 'mail'"),
            std::string::npos);
  EXPECT_NE(error_of(R"(mss { handlers { x { type: carrier_pigeon } } })").find("unknown handler type"),
            std::string::npos);
  EXPECT_NE(error_of(R"(mss { prefix: "a.*" })").find("mss.prefix"), std::string::npos);
  EXPECT_NE(error_of(R"(mss { server: 42 })").find("mss.server"), std::string::npos);
  EXPECT_NE(error_of(R"(mss { })", "ws://somewhere:4222").find("scheme"), std::string::npos);
}

// Issue 18: the check `courier -t` and a reload run is the code start-up
// runs, so it fails on the same mistakes with the same text, which puts the
// key's file, line and column in front.
TEST(Runner, CheckFailsAsStartUpDoesWithTheKeysPosition) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mss {\n  handlers {\n    h { type: log, colour: red }\n  }\n}\n",
       "app.conf:3:20: mss.handlers.h: unknown key 'colour'"},
      {"mss {\n  handlers {\n    h {\n      type: fax\n    }\n  }\n}\n",
       "app.conf:4:7: mss.handlers.h: unknown handler type 'fax'"},
      {"mss {\n  handlers { h { type: log } }\n  actions: [\n    { action: a, handlers: nobody }\n  ]\n}\n",
       "app.conf:4:18: mss.actions: rule 'a' names unknown handler 'nobody'"},
      {"mss {\n  smtp {\n    port: 99999\n  }\n}\n", "app.conf:3:5: mss.smtp: 'port' must be an integer"},
      {"mss {\n  prefix: \"a.>\"\n}\n", "app.conf:2:3: mss.prefix: 'a.>' is not a valid literal subject"},
      {"mss {\n  retry { attempts: 2 }\n}\n", "app.conf:2:3: mss: unknown key 'retry'"},
      {"mss {\n  event_retry {\n    attempts: 0\n  }\n}\n", "app.conf:3:5: mss.event_retry: 'attempts'"},
      // The connection's files (issue 17) load when the block is read.
      {"mss {\n  tls {\n    ca_file: \"/nonexistent/ca.pem\"\n  }\n}\n",
       "app.conf:2:3: mss.tls: failed to parse root ca certificate: /nonexistent/ca.pem"},
      {"mss {\n  tls {\n    verify: false\n  }\n}\n", "app.conf:3:5: mss.tls: unknown key 'verify'"},
      {"mss {\n  nkey_seed_file: \"/nonexistent/mss.nk\"\n}\n",
       "app.conf:2:3: mss.nkey_seed_file: cannot read '/nonexistent/mss.nk'"},
      {"mss {\n  credentials: \"/nonexistent/mss.creds\"\n}\n",
       "app.conf:2:3: mss.credentials: cannot read '/nonexistent/mss.creds'"},
  };
  for (const auto& [text, expected] : cases) {
    conf::server_options options;
    conf::load_config_string(text, options, "app.conf");
    std::string checked = "no error", started = "no error";
    try {
      check_message_services(options);
    } catch (const conf::config_error& e) {
      checked = e.what();
    }
    try {
      embedded_server embedded(options);
      start_message_services(&embedded.server, options);
    } catch (const std::runtime_error& e) {
      started = e.what();
    }
    EXPECT_EQ(checked.rfind(expected, 0), 0u) << text << "-> " << checked;
    EXPECT_EQ(started, checked) << text;
  }
}

TEST(Runner, CheckAcceptsTheShippedDefaultConfig) {
  conf::server_options options;
  conf::load_config_file(std::string(COURIER_SOURCE_DIR) + "/conf/courier.conf", options);
  EXPECT_NO_THROW(check_message_services(options));
}

}  // namespace
}  // namespace courier::mss
