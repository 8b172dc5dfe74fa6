// SMTP client against a real SMTP server (aiosmtpd, tests/mss/smtp_server.py)
// started per test: delivery, STARTTLS, implicit TLS, AUTH PLAIN/LOGIN,
// failures (refused, timeout, rejected recipient, bad credentials,
// untrusted certificate) and header injection.
#include "mss/peers/smtp_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include <filesystem>
#include <set>

#include <picojson.h>

#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using test::child_process;
using test::json_field;
using test::temp_dir;

/// Messages the server stored, in arrival order.
std::vector<picojson::value> stored_mail(const temp_dir& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    if (entry.path().extension() == ".json") names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  std::vector<picojson::value> mails;
  for (const auto& name : names) {
    picojson::value value = test::parse_json(test::read_file(name));
    if (value.is<picojson::object>()) mails.push_back(std::move(value));
  }
  return mails;
}

class SmtpClientTest : public ::testing::Test {
 protected:
  /// Starts the server with extra arguments; returns false on failure.
  bool start_server(std::vector<std::string> args = {}) {
    std::vector<std::string> all{"--dir", mail_dir_.path()};
    all.insert(all.end(), args.begin(), args.end());
    port_ = test::start_server(server_, "smtp_server.py", all);
    return port_ > 0;
  }

  /// Server arguments enabling STARTTLS with a fresh self-signed certificate.
  std::vector<std::string> tls_args() {
    EXPECT_TRUE(test::make_self_signed(cert_dir_));
    return {"--cert", cert_dir_.file("cert.pem"), "--key", cert_dir_.file("key.pem")};
  }

  smtp_options options() const {
    smtp_options o;
    o.host = "127.0.0.1";
    o.port = static_cast<std::uint16_t>(port_);
    o.tls = smtp_tls::none;
    o.timeout = 5s;
    return o;
  }

  static mail_message simple_mail() {
    mail_message m;
    m.from = "alerts@courier.test";
    m.from_name = "Courier Alerts";
    m.to = {"alice@example.com", "bob@example.com"};
    m.subject = "Abnormal login";
    m.body = "Hello Alice,\nsomeone logged in from 10.0.0.1.\n";
    return m;
  }

  smtp_result send(const smtp_options& o, const mail_message& m) {
    auto future = send_mail_future(io_.executor(), o, m);
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "send did not complete";
      return {};
    }
    return future.get();
  }

  temp_dir mail_dir_;
  temp_dir cert_dir_;
  child_process server_;
  int port_ = -1;
  test::io_thread io_;
};

TEST_F(SmtpClientTest, PlainDeliveryHasFromToSubjectAndBody) {
  ASSERT_TRUE(start_server());
  const smtp_result result = send(options(), simple_mail());
  ASSERT_TRUE(result.ok()) << result.stage << ": " << result.message;
  EXPECT_EQ(result.reply_code, 250);
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  const auto mail = stored_mail(mail_dir_)[0];
  EXPECT_EQ(json_field(mail, "mail_from"), "alerts@courier.test");
  EXPECT_EQ(json_field(mail, "rcpt_tos"), R"(["alice@example.com","bob@example.com"])");
  EXPECT_EQ(json_field(mail, "subject"), "Abnormal login");
  EXPECT_EQ(json_field(mail, "from"), "Courier Alerts <alerts@courier.test>");
  EXPECT_EQ(json_field(mail, "to"), "alice@example.com, bob@example.com");
  EXPECT_EQ(json_field(mail, "body"), "Hello Alice,\nsomeone logged in from 10.0.0.1.\n");
  EXPECT_EQ(json_field(mail, "tls"), "false");
  EXPECT_NE(json_field(mail, "data").find("Message-ID: <"), std::string::npos);
}

TEST_F(SmtpClientTest, DotStuffingKeepsLinesThatStartWithDots) {
  ASSERT_TRUE(start_server());
  mail_message m = simple_mail();
  // A lone "." would end DATA early without dot-stuffing; ".." must stay "..".
  m.body = ".hidden\n.\n..two\nmiddle . dot\r\n.\r\nlast line without newline";
  const smtp_result result = send(options(), m);
  ASSERT_TRUE(result.ok()) << result.message;
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  EXPECT_EQ(json_field(stored_mail(mail_dir_)[0], "body"),
            ".hidden\n.\n..two\nmiddle . dot\n.\nlast line without newline\n");
}

TEST_F(SmtpClientTest, UnicodeSubjectAndLongLinesSurviveEncoding) {
  ASSERT_TRUE(start_server());
  mail_message m = simple_mail();
  m.subject = "Connexion inhabituelle détectée — vérifiez votre compte s'il vous plaît, ça urge ✓";
  m.body = "Grüße\n" + std::string(3000, 'x') + "\n=end= \n";
  const smtp_result result = send(options(), m);
  ASSERT_TRUE(result.ok()) << result.message;
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  const auto mail = stored_mail(mail_dir_)[0];
  EXPECT_EQ(json_field(mail, "subject"), m.subject);
  EXPECT_EQ(json_field(mail, "body"), m.body);
}

TEST_F(SmtpClientTest, StartTlsWithAuthPlainIsAccepted) {
  ASSERT_TRUE(start_server([&] {
    auto args = tls_args();
    args.insert(args.end(), {"--auth", "mailer:s3cret", "--require-starttls"});
    return args;
  }()));
  smtp_options o = options();
  o.tls = smtp_tls::starttls;
  o.verify_peer = true;
  o.ca_file = cert_dir_.file("cert.pem");
  o.username = "mailer";
  o.password = "s3cret";
  o.auth = smtp_auth::plain;
  const smtp_result result = send(o, simple_mail());
  ASSERT_TRUE(result.ok()) << result.stage << ": " << result.message;
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  const auto mail = stored_mail(mail_dir_)[0];
  EXPECT_EQ(json_field(mail, "tls"), "true");
  EXPECT_EQ(json_field(mail, "auth_user"), "mailer");
}

TEST_F(SmtpClientTest, StartTlsWithAuthLoginIsAccepted) {
  ASSERT_TRUE(start_server([&] {
    auto args = tls_args();
    args.insert(args.end(), {"--auth", "mailer:pa:ss word"});
    return args;
  }()));
  smtp_options o = options();
  o.tls = smtp_tls::starttls;
  o.ca_file = cert_dir_.file("cert.pem");
  o.username = "mailer";
  o.password = "pa:ss word";
  o.auth = smtp_auth::login;
  const smtp_result result = send(o, simple_mail());
  ASSERT_TRUE(result.ok()) << result.stage << ": " << result.message;
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  EXPECT_EQ(json_field(stored_mail(mail_dir_)[0], "auth_user"), "mailer");
  EXPECT_EQ(json_field(stored_mail(mail_dir_)[0], "tls"), "true");
}

TEST_F(SmtpClientTest, HostNameVerificationWorksForLocalhost) {
  ASSERT_TRUE(start_server(tls_args()));
  smtp_options o = options();
  o.host = "localhost";
  o.tls = smtp_tls::starttls;
  o.ca_file = cert_dir_.file("cert.pem");
  const smtp_result result = send(o, simple_mail());
  EXPECT_TRUE(result.ok()) << result.stage << ": " << result.message;
}

TEST_F(SmtpClientTest, WrongPasswordIsAuthFailedWithServerText) {
  ASSERT_TRUE(start_server([&] {
    auto args = tls_args();
    args.insert(args.end(), {"--auth", "mailer:s3cret"});
    return args;
  }()));
  smtp_options o = options();
  o.tls = smtp_tls::starttls;
  o.verify_peer = false;
  o.username = "mailer";
  o.password = "wrong";
  for (smtp_auth mechanism : {smtp_auth::plain, smtp_auth::login}) {
    o.auth = mechanism;
    const smtp_result result = send(o, simple_mail());
    EXPECT_EQ(result.error, smtp_error::auth_failed) << result.message;
    EXPECT_EQ(result.reply_code, 535);
    EXPECT_NE(result.message.find("535"), std::string::npos) << result.message;
    EXPECT_EQ(result.message.find("wrong"), std::string::npos) << "password leaked: " << result.message;
  }
  EXPECT_TRUE(stored_mail(mail_dir_).empty());
}

TEST_F(SmtpClientTest, AuthWithoutTlsIsUnavailableWhenServerRequiresTls) {
  ASSERT_TRUE(start_server([&] {
    auto args = tls_args();
    args.insert(args.end(), {"--auth", "mailer:s3cret"});
    return args;
  }()));
  smtp_options o = options();
  o.tls = smtp_tls::none;
  o.username = "mailer";
  o.password = "s3cret";
  const smtp_result result = send(o, simple_mail());
  EXPECT_EQ(result.error, smtp_error::auth_unavailable) << result.message;
}

TEST_F(SmtpClientTest, UntrustedCertificateFailsVerification) {
  ASSERT_TRUE(start_server(tls_args()));
  smtp_options o = options();
  o.tls = smtp_tls::starttls;
  o.verify_peer = true;  // system CAs do not include our self-signed cert
  const smtp_result result = send(o, simple_mail());
  EXPECT_EQ(result.error, smtp_error::tls_failed) << result.message;
  EXPECT_NE(result.message.find("certificate"), std::string::npos) << result.message;
  // Without verification the same server is accepted.
  o.verify_peer = false;
  EXPECT_TRUE(send(o, simple_mail()).ok());
}

TEST_F(SmtpClientTest, RequiredStartTlsNotOfferedIsAnError) {
  ASSERT_TRUE(start_server());
  smtp_options o = options();
  o.tls = smtp_tls::starttls;
  const smtp_result result = send(o, simple_mail());
  EXPECT_EQ(result.error, smtp_error::tls_unavailable) << result.message;
  // Opportunistic mode falls back to plain text.
  o.tls = smtp_tls::starttls_if_available;
  EXPECT_TRUE(send(o, simple_mail()).ok());
}

TEST_F(SmtpClientTest, ImplicitTlsDelivers) {
  auto args = tls_args();
  args.push_back("--implicit-tls");
  ASSERT_TRUE(start_server(args));
  smtp_options o = options();
  o.tls = smtp_tls::implicit;
  o.ca_file = cert_dir_.file("cert.pem");
  const smtp_result result = send(o, simple_mail());
  ASSERT_TRUE(result.ok()) << result.stage << ": " << result.message;
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  EXPECT_EQ(json_field(stored_mail(mail_dir_)[0], "tls"), "true");
}

TEST_F(SmtpClientTest, RejectedRecipientReportsServerText) {
  ASSERT_TRUE(start_server());
  mail_message m = simple_mail();
  m.to = {"alice@example.com", "reject-me@example.com"};
  const smtp_result result = send(options(), m);
  EXPECT_EQ(result.error, smtp_error::rejected);
  EXPECT_EQ(result.reply_code, 550);
  EXPECT_EQ(result.stage, "RCPT TO");
  EXPECT_NE(result.message.find("mailbox unavailable"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("reject-me@example.com"), std::string::npos) << result.message;
  EXPECT_TRUE(stored_mail(mail_dir_).empty());
}

TEST_F(SmtpClientTest, ServerDownIsConnectFailedQuickly) {
  smtp_options o = options();
  o.port = static_cast<std::uint16_t>(test::unused_port());
  const auto start = std::chrono::steady_clock::now();
  const smtp_result result = send(o, simple_mail());
  EXPECT_EQ(result.error, smtp_error::connect_failed) << result.message;
  EXPECT_NE(result.message.find("refused"), std::string::npos) << result.message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, o.timeout);
}

TEST_F(SmtpClientTest, SilentServerTimesOutWithinTheDeadline) {
  // A listening socket whose connections the kernel completes but nobody
  // ever answers: the greeting never comes.
  boost::asio::ip::tcp::acceptor silent(io_.context(), {boost::asio::ip::make_address("127.0.0.1"), 0});
  smtp_options o = options();
  o.port = silent.local_endpoint().port();
  o.timeout = 400ms;
  const auto start = std::chrono::steady_clock::now();
  const smtp_result result = send(o, simple_mail());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.error, smtp_error::timeout) << result.message;
  EXPECT_EQ(result.stage, "greeting");
  EXPECT_GE(elapsed, 350ms);
  EXPECT_LT(elapsed, 10s) << "the 400 ms deadline must end it";
}

TEST_F(SmtpClientTest, HeaderInjectionIsRejectedBeforeConnecting) {
  ASSERT_TRUE(start_server());
  struct injection {
    const char* what;
    std::function<void(mail_message&)> apply;
  };
  const std::vector<injection> cases = {
      {"subject", [](mail_message& m) { m.subject = "Hi\r\nBcc: victim@example.com"; }},
      {"subject LF", [](mail_message& m) { m.subject = "Hi\nBcc: victim@example.com"; }},
      {"from", [](mail_message& m) { m.from = "a@b.c\r\nRCPT TO:<victim@example.com>"; }},
      {"from name", [](mail_message& m) { m.from_name = "Eve\r\nBcc: x@y.z"; }},
      {"to", [](mail_message& m) { m.to = {"a@b.c>\r\nDATA"}; }},
      {"header value", [](mail_message& m) { m.headers = {{"X-Tag", "1\r\nBcc: x@y.z"}}; }},
      {"header name", [](mail_message& m) { m.headers = {{"X-Tag\r\nBcc", "x"}}; }},
  };
  for (const auto& c : cases) {
    mail_message m = simple_mail();
    c.apply(m);
    const smtp_result result = send(options(), m);
    EXPECT_EQ(result.error, smtp_error::invalid_message) << c.what << ": " << result.message;
    EXPECT_EQ(result.stage, "validate") << c.what;
    EXPECT_FALSE(result.message.empty());
  }
  // The server is still fine and received nothing from the refused mails.
  ASSERT_TRUE(send(options(), simple_mail()).ok());
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == 1; }));
  EXPECT_EQ(json_field(stored_mail(mail_dir_)[0], "subject"), "Abnormal login");
}

TEST_F(SmtpClientTest, ManySendsRunInParallelOnOneThread) {
  ASSERT_TRUE(start_server());
  constexpr int count = 12;
  std::vector<std::future<smtp_result>> futures;
  for (int i = 0; i < count; ++i) {
    mail_message m = simple_mail();
    m.subject = "parallel " + std::to_string(i);
    futures.push_back(send_mail_future(io_.executor(), options(), m));
  }
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    const auto r = f.get();
    EXPECT_TRUE(r.ok()) << r.message;
  }
  ASSERT_TRUE(test::wait_until([&] { return stored_mail(mail_dir_).size() == count; }));
  std::set<std::string> subjects;
  for (const auto& mail : stored_mail(mail_dir_)) subjects.insert(json_field(mail, "subject"));
  EXPECT_EQ(subjects.size(), static_cast<std::size_t>(count));
}

}  // namespace
}  // namespace courier::mss
