// End to end through the courier executable itself: the message services
// embedded in `courier -c <conf>` (as the README runs it), and
// `courier --mss-only <url>` processes against Debian's nats-server 2.9.10
// (two of them: each action runs once), and one over TLS with a client
// certificate and an nkey. The stock client is libnats; mail goes to
// aiosmtpd, webhooks/SMS to the python HTTP recorder.
#include <gtest/gtest.h>

#include <openssl/rand.h>

#include <filesystem>
#include <fstream>

#include <picojson.h>

#include "auth/nkeys.hpp"
#include "broker_process.hpp"
#include "client/tcp_bus.hpp"
#include "libnats_client.hpp"
#include "mss/service/client.hpp"
#include "test_support.hpp"
#include "tests/test_pki.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

using test::json_field;
using test::parse_json;

class CourierBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    smtp_port_ = test::start_server(smtp_, "smtp_server.py", {"--dir", mail_dir_.path()});
    ASSERT_GT(smtp_port_, 0);
    http_port_ = test::start_server(http_, "http_recorder.py", {"--log", work_.file("http.jsonl")});
    ASSERT_GT(http_port_, 0);
  }

  std::string mss_block(const std::string& extra = {}) const {
    return R"(
mss {
  prefix: kiam
  )" + extra + R"(
  smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_port_) + R"(, tls: none }
  handlers {
    mail { type: email, from: "noreply@courier.test", to: "{{to}}", subject: "{{subject}}", body: "{{body}}" }
    hook { type: webhook, url: "http://127.0.0.1:)" + std::to_string(http_port_) + R"(/hook" }
    sms  { type: sms, url: "http://127.0.0.1:)" + std::to_string(http_port_) + R"(/sms", body: "{\"to\":\"{{user.phone}}\"}" }
    audit { type: audit, file: ")" + work_.file("audit.jsonl") + R"(" }
  }
  actions: [ { action: "email.send", handlers: mail } ]
  events: [ { event: "login.abnormal", handlers: [mail, sms, hook] } ]
}
)";
  }

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = work_.file(name);
    std::ofstream(path) << text;
    return path;
  }

  std::size_t mail_count() const {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(mail_dir_.path()))
      n += entry.path().extension() == ".json";
    return n;
  }

  test::temp_dir mail_dir_;
  test::temp_dir work_;
  test::child_process smtp_;
  test::child_process http_;
  int smtp_port_ = -1;
  int http_port_ = -1;
};

TEST_F(CourierBinary, EmbeddedServicesAnswerAStockClient) {
  const std::string conf = write("courier.conf", R"(
authorization {
  users: [
    { user: app, password: app-pass, permissions: {
        publish: ["kiam.action.>", "kiam.event.>", "kiam.audit.>"], subscribe: ["_INBOX.>"] } }
  ]
}
)" + mss_block());
  test::broker_process courier;
  ASSERT_TRUE(courier.start(test::courier_binary(), {"-c", conf}, 0, work_.file("courier.log")));
  test::libnats_client app(courier.url(), "app", "app-pass");
  ASSERT_TRUE(app.connected());

  const auto r = app.request("kiam.action.email.send",
                             R"({"to":"alice@example.com","subject":"Hi","body":"b","correlationId":"bin-1"})", 10s);
  ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status) << "\n" << test::read_file(work_.file("courier.log"));
  EXPECT_EQ(json_field(parse_json(r.data), "ok"), "true") << r.data;
  EXPECT_EQ(mail_count(), 1u) << "the reply comes after the mail was accepted";

  ASSERT_EQ(app.publish("kiam.event.login.abnormal",
                        R"({"to":"bob@example.com","subject":"Login","body":"b","user":{"phone":"+1"}})"),
            NATS_OK);
  ASSERT_TRUE(test::wait_until([&] {
    return mail_count() == 2 && test::read_lines(work_.file("http.jsonl")).size() == 2;
  }));

  const auto audited = app.request("kiam.audit.user.deleted", R"({"user":"carol"})", 10s);
  ASSERT_EQ(audited.status, NATS_OK);
  EXPECT_EQ(json_field(parse_json(audited.data), "ok"), "true");
  EXPECT_EQ(test::read_lines(work_.file("audit.jsonl")).size(), 1u);

  natsSubscription* snoop = app.subscribe("kiam.audit.>");
  ASSERT_NE(snoop, nullptr);
  app.flush();
  ASSERT_TRUE(test::wait_until([&] { return !app.async_errors().empty(); }, 5s));
  EXPECT_NE(app.async_errors()[0].find("Permissions Violation"), std::string::npos);

  EXPECT_EQ(app.request("kiam.action.unknown", "{}", 5s).status, NATS_NO_RESPONDERS);
}

TEST_F(CourierBinary, DefaultConfigRunsTheLogOnlyServices) {
  test::broker_process courier;
  ASSERT_TRUE(courier.start(test::courier_binary(), {"-c", std::string(COURIER_SOURCE_DIR) + "/conf/courier.conf"}, 0,
                            work_.file("courier.log")));
  test::libnats_client app(courier.url());
  ASSERT_TRUE(app.connected());
  const auto r = app.request("mss.action.hello", R"({"name":"world","correlationId":"readme-1"})", 10s);
  ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status);
  EXPECT_EQ(json_field(parse_json(r.data), "ok"), "true") << r.data;
  EXPECT_EQ(json_field(parse_json(r.data), "correlationId"), "readme-1");
  ASSERT_EQ(app.publish("mss.event.user.created", R"({"user":"ann"})"), NATS_OK);
  app.flush();
  ASSERT_TRUE(test::wait_until(
      [&] { return test::read_file(work_.file("courier.log")).find("subject=mss.event.user.created") != std::string::npos; }));
  EXPECT_NE(test::read_file(work_.file("courier.log")).find("correlationId=readme-1"), std::string::npos);
}

TEST_F(CourierBinary, TwoMssOnlyProcessesAgainstNatsServerRunEachActionOnce) {
  const std::string server_conf = write("nats.conf", R"(
authorization {
  users: [
    { user: mss, password: mss-pass }
    { user: app, password: app-pass, permissions: {
        publish: ["kiam.action.>", "kiam.event.>", "kiam.audit.>"], subscribe: ["_INBOX.>"] } }
  ]
}
)");
  test::broker_process nats;
  ASSERT_TRUE(nats.start(test::nats_server_binary(), {"-c", server_conf}, 0, work_.file("nats.log")));
  const std::string mss_conf = write("mss.conf", mss_block());
  const std::string url = "nats://mss:mss-pass@127.0.0.1:" + std::to_string(nats.port());
  // --mss-only: no listener of its own; -p is given only because
  // broker_process waits for a port, so it waits on nats-server's.
  std::vector<std::unique_ptr<test::child_process>> instances;
  for (int i = 0; i < 2; ++i) {
    instances.push_back(std::make_unique<test::child_process>());
    ASSERT_TRUE(instances.back()->start({test::courier_binary(), "-c", mss_conf, "--mss-only", url}));
  }
  test::libnats_client app(nats.url(), "app", "app-pass");
  ASSERT_TRUE(app.connected());
  // Wait until both instances have subscribed (the queue group has members).
  ASSERT_TRUE(test::wait_until([&] {
    return app.request("kiam.action.email.send", R"({"to":"probe@example.com","subject":"probe","body":"b","correlationId":"probe"})", 1s)
               .status == NATS_OK;
  }));
  std::this_thread::sleep_for(500ms);  // the second instance too
  constexpr int actions = 20;
  for (int i = 0; i < actions; ++i) {
    const auto r = app.request("kiam.action.email.send",
                               R"({"to":"n)" + std::to_string(i) + R"(@example.com","subject":"N","body":"b"})", 10s);
    ASSERT_EQ(r.status, NATS_OK);
    EXPECT_EQ(json_field(parse_json(r.data), "ok"), "true") << r.data;
  }
  // A retried action (same correlationId) is sent once, whichever instance gets it.
  for (int i = 0; i < 6; ++i) {
    const auto r = app.request("kiam.action.email.send",
                               R"({"to":"retry@example.com","subject":"R","body":"b","correlationId":"retry-1"})", 10s);
    ASSERT_EQ(r.status, NATS_OK);
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(mail_count(), static_cast<std::size_t>(1 + actions + 1));
  for (auto& instance : instances) instance->stop(SIGTERM);
}

// Issue 17: `courier --mss-only tls://...` with the mss block's tls and
// nkey_seed_file, against a nats-server that requires a client certificate
// (verify: true) and knows the services only by their nkey.
TEST(CourierBinaryProductionClient, MssOnlyOverTlsWithAClientCertificateAndAnNkey) {
  courier::test::test_pki pki;
  ASSERT_TRUE(pki.ok() && pki.add_client("mss", "/O=Courier Tests/CN=mss") &&
              pki.add_client("app", "/O=Courier Tests/CN=app"))
      << pki.log_text();
  courier::test::scratch_dir dir;
  auth::nkeys::key_bytes raw{};
  ASSERT_EQ(RAND_bytes(raw.data(), static_cast<int>(raw.size())), 1);
  const auto public_key = auth::nkeys::public_key_from_seed(raw);
  ASSERT_TRUE(public_key.has_value());
  const std::string seed_file = dir.write("mss.nk", auth::nkeys::encode_seed(auth::nkeys::prefix::user, raw) + "\n");
  const std::string server_conf = dir.write(
      "server.conf", "tls {\n  " + pki.server_files() + "\n  verify: true\n}\n" +
                         "authorization {\n  users = [\n    { nkey: " +
                         auth::nkeys::encode_public_key(auth::nkeys::prefix::user, *public_key) +
                         " }\n    { user: app, password: app-pass }\n  ]\n}\n");
  test::broker_process nats;
  ASSERT_TRUE(nats.start(test::nats_server_binary(), {"-c", server_conf}));
  const std::string audit_file = dir.file("audit.jsonl");
  const std::string mss_conf = dir.write("mss.conf", R"(
mss {
  prefix: kiam
  nkey_seed_file: ")" + seed_file + R"("
  tls { ca_file: ")" + pki.ca() + R"(", cert_file: ")" + pki.cert("mss") + R"(", key_file: ")" + pki.key("mss") + R"(" }
  handlers { audit { type: audit, file: ")" + audit_file + R"(" } }
}
)");
  test::child_process services;
  ASSERT_TRUE(services.start({test::courier_binary(), "-c", mss_conf, "--mss-only",
                              "tls://localhost:" + std::to_string(nats.port())}));

  tcp_bus_options options;
  options.urls = "tls://app:app-pass@localhost:" + std::to_string(nats.port());
  options.tls.ca_file = pki.ca();
  options.tls.cert_file = pki.cert("app");
  options.tls.key_file = pki.key("app");
  tcp_bus bus(options);
  ASSERT_TRUE(bus.wait_connected(30s));
  client app(bus, "kiam");
  // Acknowledged once the services are connected and subscribed.
  ASSERT_TRUE(test::wait_until([&] { return static_cast<bool>(app.audit_confirmed("user.created", R"({"correlationId":"tls-1"})", 2s)); },
                               60s));
  const auto lines = test::read_lines(audit_file);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(json_field(parse_json(lines.back()), "message.correlationId"), "tls-1");
  services.stop(SIGTERM);
}

}  // namespace
}  // namespace courier::mss
