// Issue 20, "Faults for the message services": the courier executable with
// its message services, driven by a stock client (libnats), while one peer
// misbehaves:
//  * the audit log's disk fills up (a 256 KiB tmpfs the test mounts, then a
//    filler file): no acknowledgment for a record that was not written, a
//    clear error (reply, dead letter, log line), nothing acknowledged lost,
//    recovery once the filler is deleted;
//  * an SMTP server that accepts the connection and never says a word;
//  * an HTTP peer that answers one byte per second.
// Each fault must end in a failure bounded by the handler's timeout (checked
// with a generous upper bound only: timeout + 20 s), the faulty peer must
// see exactly the tries the retry policy allows and get every connection
// back (nothing queued or held without limit), and the other handlers (a
// webhook to a working HTTP peer, the audit log) keep answering meanwhile.
// The faulty peers are tests/mss/fault_peer.py; the good ones are the usual
// smtp_server.py / http_recorder.py.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "broker_process.hpp"
#include "libnats_client.hpp"
#include "mss/peers/http_client.hpp"
#include "mss/peers/smtp_client.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using test::json_field;
using test::parse_json;

/// The generous margin every bounded wait adds to the configured timeout.
constexpr auto fault_margin = 20s;

/// A fault peer (fault_peer.py) and its state file.
struct fault_peer {
  test::child_process process;
  std::string state_file;
  int port = -1;

  /// Starts it in `mode`; false when it did not come up.
  bool start(const test::temp_dir& dir, const std::string& name, const std::string& mode,
             std::vector<std::string> extra = {}) {
    state_file = dir.file(name + ".state.json");
    std::vector<std::string> args{"--mode", mode, "--state", state_file};
    args.insert(args.end(), extra.begin(), extra.end());
    port = test::start_server(process, "fault_peer.py", args);
    return port > 0;
  }

  /// A counter of the state file ("opened", "closed", "bytes_sent").
  int count(const std::string& key) const {
    const std::string text = test::read_file(state_file);
    if (text.empty()) return 0;
    picojson::value v;
    if (!picojson::parse(v, text).empty() || !v.is<picojson::object>()) return 0;
    const auto& o = v.get<picojson::object>();
    const auto it = o.find(key);
    return it == o.end() || !it->second.is<double>() ? 0 : static_cast<int>(it->second.get<double>());
  }
};

/// Sends a request and checks that it is answered {"ok":true,...} within 30 s.
testing::AssertionResult answered_ok(test::libnats_client& app, const std::string& subject, const std::string& body) {
  const auto reply = app.request(subject, body, 30s);
  if (reply.status != NATS_OK) return testing::AssertionFailure() << subject << ": " << natsStatus_GetText(reply.status);
  if (json_field(parse_json(reply.data), "ok") != "true")
    return testing::AssertionFailure() << subject << " answered " << reply.data;
  return testing::AssertionSuccess();
}

/// Requests sent without waiting (several in flight at once), answers
/// collected later from one inbox subscription.
class request_burst {
 public:
  explicit request_burst(test::libnats_client& client) : client_(client) {
    natsInbox* inbox = nullptr;
    natsInbox_Create(&inbox);
    prefix_ = std::string(inbox) + ".";
    natsInbox_Destroy(inbox);
    sub_ = client_.subscribe(prefix_ + "*");
  }
  bool ok() const { return sub_ != nullptr; }

  /// Publishes request `id` to `subject`.
  natsStatus send(const std::string& subject, const std::string& payload, const std::string& id) {
    sent_at_[id] = std::chrono::steady_clock::now();
    return natsConnection_PublishRequest(client_.get(), subject.c_str(), (prefix_ + id).c_str(), payload.data(),
                                         static_cast<int>(payload.size()));
  }

  /// The next answer: {id, body, seconds since its request}; nullopt after `timeout`.
  struct answer {
    std::string id;
    std::string body;
    std::chrono::duration<double> took;
  };
  std::optional<answer> next(std::chrono::milliseconds timeout) {
    const auto reply = test::libnats_client::next(sub_, timeout);
    if (!reply) return std::nullopt;
    answer out;
    out.id = reply->subject.substr(prefix_.size());
    out.body = reply->data;
    out.took = std::chrono::steady_clock::now() - sent_at_[out.id];
    return out;
  }

 private:
  test::libnats_client& client_;
  natsSubscription* sub_ = nullptr;
  std::string prefix_;
  std::map<std::string, std::chrono::steady_clock::time_point> sent_at_;
};

/// The courier executable with `config`, its log in `dir`.
struct courier_under_test {
  test::broker_process process;
  std::string log;

  bool start(const test::temp_dir& dir, const std::string& config) {
    const std::string conf = dir.file("courier.conf");
    std::ofstream(conf) << config;
    log = dir.file("courier.log");
    return process.start(test::courier_binary(), {"-c", conf}, 0, log);
  }
  std::string log_text() const { return test::read_file(log); }
};

// ---- the audit log's disk fills up -----------------------------------------

/// A tmpfs of `options` (e.g. "size=256k") on a fresh directory, for this
/// process and its children. In order of preference:
///  1. a private mount namespace of our own (root; the mount vanishes with
///     the process even if the test crashes);
///  2. a plain mount (root in a multi-threaded process, where unshare is
///     refused), unmounted by the destructor;
///  3. a user namespace plus a mount namespace (not root, where the kernel
///     allows unprivileged user namespaces).
/// When none works, error() says what each attempt answered: the test fails
/// with it rather than skipping.
class tmpfs_mount {
 public:
  explicit tmpfs_mount(const std::string& options) {
    std::string pattern = (std::filesystem::temp_directory_path() / "courier-fault-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    path_ = pattern;
    if (::unshare(CLONE_NEWNS) == 0) {
      if (private_and_mount(options, "private mount namespace")) return;
    } else {
      error_ += std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno) + "; ";
      if (mount_tmpfs(options, "mount in the current namespace")) {
        unmount_ = true;
        return;
      }
      const uid_t uid = ::geteuid();
      const gid_t gid = ::getegid();
      if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
        if (write_file("/proc/self/setgroups", "deny") &&
            write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
            write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1") &&
            private_and_mount(options, "user + mount namespace"))
          return;
      } else {
        error_ += std::string("unshare(CLONE_NEWUSER|CLONE_NEWNS): ") + std::strerror(errno) + "; ";
      }
    }
  }
  ~tmpfs_mount() {
    if (unmount_) ::umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) {
      std::error_code ec;
      if (mounted_) std::filesystem::remove_all(path_, ec);  // empty the tmpfs (frees nothing on disk)
      ::rmdir(path_.c_str());
    }
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  /// Which way the mount was made.
  const std::string& how() const { return how_; }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  bool mount_tmpfs(const std::string& options, const char* how) {
    if (::mount("courier-fault", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
      mounted_ = true;
      how_ = how;
      return true;
    }
    error_ += std::string(how) + ": mount tmpfs: " + std::strerror(errno) + "; ";
    return false;
  }
  bool private_and_mount(const std::string& options, const char* how) {
    // Without this, a mount under a shared "/" would propagate to the host.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      error_ += std::string(how) + ": make / private: " + std::strerror(errno) + "; ";
      return false;
    }
    return mount_tmpfs(options, how);
  }
  bool write_file(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    const bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (!ok) error_ += "write " + path + ": " + std::strerror(errno) + "; ";
    if (fd >= 0) ::close(fd);
    return ok;
  }

  std::string path_;
  std::string error_;
  std::string how_;
  bool mounted_ = false;
  bool unmount_ = false;
};

/// Writes `path` until the filesystem has no room left; the bytes written.
std::uint64_t fill_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  const std::string chunk(4096, 'f');
  std::uint64_t total = 0;
  while (true) {
    const ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    total += static_cast<std::uint64_t>(n);
  }
  // Smaller writes take the last bytes of a partly used page, if any.
  while (::write(fd, "f", 1) == 1) ++total;
  ::close(fd);
  return total;
}

TEST(MssFaultAuditDiskFull, NoAckForWhatWasNotWrittenAClearErrorAndRecoveryWhenSpaceReturns) {
  // First, before any thread exists (unshare refuses a threaded process).
  tmpfs_mount disk("size=256k,mode=0755");
  ASSERT_TRUE(disk.mounted()) << "this test needs a 256 KiB tmpfs for the audit log and could not mount one ("
                              << disk.error()
                              << "). Run it as root, or where unprivileged user namespaces are allowed "
                                 "(sysctl kernel.unprivileged_userns_clone=1).";

  test::temp_dir work;
  test::child_process http;
  const int http_port =
      test::start_server(http, "http_recorder.py", {"--log", work.file("http.jsonl")});
  ASSERT_GT(http_port, 0) << "the HTTP recorder (python3) is required";
  const std::string audit_file = disk.file("audit.jsonl");
  courier_under_test courier;
  ASSERT_TRUE(courier.start(work, R"(
mss {
  prefix: shop
  handlers {
    trail { type: audit, file: ")" + audit_file + R"(" }
    hook  { type: webhook, url: "http://127.0.0.1:)" + std::to_string(http_port) + R"(/hook" }
  }
  actions: [ { action: "hook.send", handlers: hook } ]
}
)")) << courier.log_text();
  test::libnats_client app(courier.process.url());
  ASSERT_TRUE(app.connected());
  natsSubscription* dead = app.subscribe("shop.deadletter.>");
  ASSERT_NE(dead, nullptr);
  ASSERT_EQ(app.flush(), NATS_OK);

  std::set<std::string> acked, refused;
  std::vector<std::string> errors;
  int serial = 0;
  // ~300 bytes a record: a page holds about a dozen.
  const std::string padding(200, 'p');
  const auto record = [&](const std::string& phase) {
    const std::string id = phase + "-" + std::to_string(++serial);
    const auto reply =
        app.request("shop.audit.login", R"({"correlationId":")" + id + R"(","pad":")" + padding + R"("})", 30s);
    EXPECT_EQ(reply.status, NATS_OK) << id << ": " << natsStatus_GetText(reply.status);
    if (reply.status != NATS_OK) return std::string("no reply");
    const auto body = parse_json(reply.data);
    if (json_field(body, "ok") == "true") {
      acked.insert(id);
    } else {
      refused.insert(id);
      errors.push_back(json_field(body, "error"));
    }
    return json_field(body, "ok");
  };

  // Room: every record acknowledged.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(record("before"), "true");

  // Full: once the filler took every byte, records fail (the live file's
  // last page may still take a few first).
  const std::uint64_t filler = fill_disk(disk.file("filler"));
  ASSERT_GT(filler, 0u);
  int failures_in_a_row = 0;
  for (int i = 0; i < 200 && failures_in_a_row < 5; ++i)
    failures_in_a_row = record("full") == "false" ? failures_in_a_row + 1 : 0;
  ASSERT_EQ(failures_in_a_row, 5) << "the audit log kept acknowledging records on a full disk; acked "
                                  << acked.size() << "\n" << courier.log_text();
  for (const auto& error : errors) {
    EXPECT_NE(error.find("audit handler 'trail'"), std::string::npos) << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  }
  // A record published without a reply subject fails the same way. Every
  // failed record, answered or not, is also a dead letter with the error.
  ASSERT_EQ(app.publish("shop.audit.login", R"({"correlationId":"full-noreply","pad":")" + padding + R"("})"),
            NATS_OK);
  std::set<std::string> lettered;
  while (!lettered.count("full-noreply")) {
    const auto letter = test::libnats_client::next(dead, 30s);
    ASSERT_TRUE(letter.has_value()) << "no dead letter for the audit record sent without a reply subject";
    EXPECT_EQ(letter->subject, "shop.deadletter.trail");
    const auto body = parse_json(letter->data);
    lettered.insert(json_field(body, "correlationId"));
    EXPECT_NE(json_field(body, "error").find("No space left on device"), std::string::npos) << letter->data;
  }
  for (const auto& id : refused) EXPECT_TRUE(lettered.count(id)) << "refused without a dead letter: " << id;
  // Another handler is not affected by the audit disk.
  ASSERT_TRUE(answered_ok(app, "shop.action.hook.send", R"({"correlationId":"hook-while-full"})"));
  // The operator sees it in the log.
  EXPECT_TRUE(test::wait_until([&] { return courier.log_text().find("No space left on device") != std::string::npos; }))
      << courier.log_text();
  {
    const std::string log = courier.log_text();
    const std::size_t at = log.find("No space left on device");
    const std::size_t start = log.rfind('\n', at);
    std::printf("log line: %s\nmounted by: %s; acked so far %zu, refused %zu\n",
                log.substr(start + 1, log.find('\n', at) - start - 1).c_str(), disk.how().c_str(), acked.size(),
                refused.size());
  }

  // Space returns: records are acknowledged again, with no restart.
  ASSERT_EQ(::unlink(disk.file("filler").c_str()), 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(record("after"), "true");

  // The file: whole JSON lines only; every acknowledged record is there;
  // no refused record is.
  const std::string text = test::read_file(audit_file);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "torn last line";
  std::set<std::string> in_file;
  for (const auto& line : test::read_lines(audit_file)) {
    picojson::value v;
    ASSERT_TRUE(picojson::parse(v, line).empty()) << "not a JSON line: " << line;
    const std::string id = json_field(v, "correlationId");
    EXPECT_TRUE(in_file.insert(id).second) << "written twice: " << id;
  }
  for (const auto& id : acked) EXPECT_TRUE(in_file.count(id)) << "acknowledged but lost: " << id;
  for (const auto& id : refused) EXPECT_FALSE(in_file.count(id)) << "refused but written: " << id;
  EXPECT_FALSE(in_file.count("full-noreply"));
  EXPECT_EQ(in_file.size(), acked.size());
  EXPECT_GE(acked.size(), 25u);
  EXPECT_GE(refused.size(), 5u);
}

// ---- an SMTP server that never answers ---------------------------------------

TEST(MssFaultSilentSmtp, ActionsFailWithinTheTimeoutRetriesAreBoundedOthersKeepWorking) {
  test::temp_dir work;
  fault_peer silent, silent_retry;
  ASSERT_TRUE(silent.start(work, "silent", "silent"));
  ASSERT_TRUE(silent_retry.start(work, "silent_retry", "silent"));
  test::child_process http;
  const int http_port = test::start_server(http, "http_recorder.py", {"--log", work.file("http.jsonl")});
  ASSERT_GT(http_port, 0);

  constexpr auto smtp_timeout = 12s;      // long enough to see other handlers finish during it
  constexpr auto retry_timeout = 2s;
  courier_under_test courier;
  ASSERT_TRUE(courier.start(work, R"(
mss {
  prefix: shop
  event_retry { attempts: 5, initial_delay: "20ms", max_delay: "50ms" }
  smtp { host: 127.0.0.1, port: )" + std::to_string(silent.port) + R"(, tls: none, timeout: "12s" }
  handlers {
    mail { type: email, from: "shop@courier.test", to: "a@example.com", subject: "s", body: "b" }
    mail_retry {
      type: email, from: "shop@courier.test", to: "a@example.com", subject: "s", body: "b"
      smtp { host: 127.0.0.1, port: )" + std::to_string(silent_retry.port) + R"(, tls: none, timeout: "2s" }
      retry { attempts: 3, initial_delay: "20ms", max_delay: "50ms" }
    }
    hook  { type: webhook, url: "http://127.0.0.1:)" + std::to_string(http_port) + R"(/hook" }
    trail { type: audit, file: ")" + work.file("audit.jsonl") + R"(" }
  }
  actions: [ { action: "mail.send", handlers: mail }, { action: "hook.send", handlers: hook } ]
  events: [ { event: "mail.retry", handlers: mail_retry } ]
}
)")) << courier.log_text();
  test::libnats_client app(courier.process.url());
  ASSERT_TRUE(app.connected());
  natsSubscription* dead = app.subscribe("shop.deadletter.>");
  ASSERT_NE(dead, nullptr);
  request_burst burst(app);
  ASSERT_TRUE(burst.ok());
  ASSERT_EQ(app.flush(), NATS_OK);

  // Ten email actions at once, all stuck on the silent server.
  constexpr int mails = 10;
  for (int i = 0; i < mails; ++i)
    ASSERT_EQ(burst.send("shop.action.mail.send", R"({"correlationId":"m-)" + std::to_string(i) + R"("})",
                         "m-" + std::to_string(i)),
              NATS_OK);
  ASSERT_EQ(app.flush(), NATS_OK);
  ASSERT_TRUE(test::wait_until([&] { return silent.count("opened") == mails; }, 20s))
      << "the silent SMTP server saw " << silent.count("opened") << " connections";

  // Meanwhile the other handlers answer: a webhook, and the audit log.
  ASSERT_TRUE(answered_ok(app, "shop.action.hook.send", R"({"correlationId":"hook-1"})"));
  ASSERT_TRUE(answered_ok(app, "shop.audit.login", R"({"correlationId":"audit-1"})"));
  // ... while every email session is still waiting for its greeting.
  EXPECT_EQ(silent.count("closed"), 0) << "the webhook and audit answers came only after the SMTP timeout";

  // Every email action fails, bounded by the timeout, naming it.
  std::set<std::string> answered;
  for (int i = 0; i < mails; ++i) {
    const auto answer = burst.next(smtp_timeout + fault_margin);
    ASSERT_TRUE(answer.has_value()) << "only " << answered.size() << " of " << mails
                                    << " email actions were answered within the timeout + "
                                    << fault_margin.count() << " s\n" << courier.log_text();
    EXPECT_TRUE(answered.insert(answer->id).second);
    const auto body = parse_json(answer->body);
    EXPECT_EQ(json_field(body, "ok"), "false") << answer->body;
    EXPECT_NE(json_field(body, "error").find("timed out after 12000 ms during greeting"), std::string::npos)
        << answer->body;
    EXPECT_LE(answer->took, smtp_timeout + fault_margin);
  }
  // One connection per action (an action tries once), each given back.
  EXPECT_TRUE(test::wait_until([&] { return silent.count("closed") == mails; }, 20s))
      << "connections the client still holds: " << silent.count("opened") - silent.count("closed");
  EXPECT_EQ(silent.count("opened"), mails);

  // An event retried under its handler's policy: exactly 3 tries, then a
  // dead letter saying so; nothing more is queued.
  const auto event_sent = std::chrono::steady_clock::now();
  ASSERT_EQ(app.publish("shop.event.mail.retry", R"({"correlationId":"retry-1"})"), NATS_OK);
  const auto letter = test::libnats_client::next(dead, 3 * retry_timeout + fault_margin);
  ASSERT_TRUE(letter.has_value()) << "no dead letter within 3 x the timeout + " << fault_margin.count() << " s\n"
                                  << courier.log_text();
  EXPECT_LE(std::chrono::steady_clock::now() - event_sent, 3 * retry_timeout + fault_margin);
  const auto body = parse_json(letter->data);
  EXPECT_EQ(letter->subject, "shop.deadletter.mail_retry");
  EXPECT_EQ(json_field(body, "attempts"), "3");
  EXPECT_NE(json_field(body, "error").find("timed out"), std::string::npos) << letter->data;
  EXPECT_TRUE(test::wait_until([&] { return silent_retry.count("closed") == 3; }, 20s));
  std::this_thread::sleep_for(3s);  // a 4th try would have started by now
  EXPECT_EQ(silent_retry.count("opened"), 3);

  // Still healthy afterwards.
  ASSERT_TRUE(answered_ok(app, "shop.action.hook.send", R"({"correlationId":"hook-2"})"));
}

// ---- an HTTP peer that answers one byte per second ---------------------------

TEST(MssFaultSlowHttp, ClientGivesUpAtItsTotalDeadlineNotPerRead) {
  // The client itself: a response trickling in at 1 byte/s (every read
  // succeeds well within the timeout) must still end at the deadline.
  test::temp_dir work;
  fault_peer slow;
  ASSERT_TRUE(slow.start(work, "slow", "slow-http", {"--interval", "1", "--response-bytes", "120"}));
  test::io_thread io;
  http_request request;
  request.url = "http://127.0.0.1:" + std::to_string(slow.port) + "/hook";
  request.body = "{}";
  http_options options;
  options.timeout = 3000ms;
  const auto started = std::chrono::steady_clock::now();
  auto future = http_request_future(io.executor(), request, options);
  ASSERT_EQ(future.wait_for(options.timeout + fault_margin), std::future_status::ready)
      << "a 1 byte/s peer held the request past its 3 s timeout + " << fault_margin.count()
      << " s (the 120-byte answer takes 120 s)";
  const auto result = future.get();
  EXPECT_EQ(result.error, http_error::timeout) << result.message;
  EXPECT_NE(result.message.find("timed out after 3000 ms during read"), std::string::npos) << result.message;
  EXPECT_LE(std::chrono::steady_clock::now() - started, options.timeout + fault_margin);
  EXPECT_GE(slow.count("bytes_sent"), 1) << "the peer never started its answer: not the fault under test";
  EXPECT_TRUE(test::wait_until([&] { return slow.count("closed") == 1; }, 20s)) << "the client kept the connection";
}

TEST(MssFaultSlowHttp, WebhooksFailWithinTheTimeoutRetriesAreBoundedOthersKeepWorking) {
  test::temp_dir work;
  fault_peer slow, slow_retry;
  ASSERT_TRUE(slow.start(work, "slow", "slow-http", {"--interval", "1", "--response-bytes", "120"}));
  ASSERT_TRUE(slow_retry.start(work, "slow_retry", "slow-http", {"--interval", "1", "--response-bytes", "120"}));
  test::child_process http;
  const int http_port = test::start_server(http, "http_recorder.py", {"--log", work.file("http.jsonl")});
  ASSERT_GT(http_port, 0);
  test::child_process smtp;
  test::temp_dir mail_dir;
  const int smtp_port = test::start_server(smtp, "smtp_server.py", {"--dir", mail_dir.path()});
  ASSERT_GT(smtp_port, 0) << "aiosmtpd (python3-aiosmtpd) is required";

  constexpr auto hook_timeout = 6s;
  constexpr auto retry_timeout = 2s;
  const std::string slow_url = "http://127.0.0.1:" + std::to_string(slow.port);
  const std::string slow_retry_url = "http://127.0.0.1:" + std::to_string(slow_retry.port);
  courier_under_test courier;
  ASSERT_TRUE(courier.start(work, R"(
mss {
  prefix: shop
  smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_port) + R"(, tls: none, timeout: "10s" }
  handlers {
    slow_hook  { type: webhook, url: ")" + slow_url + R"(/hook", timeout: "6s" }
    slow_sms   { type: sms, url: ")" + slow_retry_url + R"(/sms", timeout: "2s",
                 retry { attempts: 2, initial_delay: "20ms" } }
    hook  { type: webhook, url: "http://127.0.0.1:)" + std::to_string(http_port) + R"(/hook" }
    mail  { type: email, from: "shop@courier.test", to: "a@example.com", subject: "s", body: "b" }
    trail { type: audit, file: ")" + work.file("audit.jsonl") + R"(" }
  }
  actions: [
    { action: "slow.send", handlers: slow_hook }
    { action: "hook.send", handlers: hook }
    { action: "mail.send", handlers: mail }
  ]
  events: [ { event: "sms.retry", handlers: slow_sms } ]
}
)")) << courier.log_text();
  test::libnats_client app(courier.process.url());
  ASSERT_TRUE(app.connected());
  natsSubscription* dead = app.subscribe("shop.deadletter.>");
  ASSERT_NE(dead, nullptr);
  request_burst burst(app);
  ASSERT_TRUE(burst.ok());
  ASSERT_EQ(app.flush(), NATS_OK);

  constexpr int hooks = 5;
  for (int i = 0; i < hooks; ++i)
    ASSERT_EQ(burst.send("shop.action.slow.send", "{}", "s-" + std::to_string(i)), NATS_OK);
  ASSERT_EQ(app.flush(), NATS_OK);
  // Each request is being answered, a byte at a time.
  ASSERT_TRUE(test::wait_until([&] { return slow.count("opened") == hooks && slow.count("bytes_sent") >= hooks; },
                               20s))
      << "opened " << slow.count("opened") << ", bytes sent " << slow.count("bytes_sent");

  // Meanwhile: a webhook to a working peer, an email, the audit log.
  ASSERT_TRUE(answered_ok(app, "shop.action.hook.send", "{}"));
  ASSERT_TRUE(answered_ok(app, "shop.action.mail.send", "{}"));
  ASSERT_TRUE(answered_ok(app, "shop.audit.login", R"({"correlationId":"audit-1"})"));

  for (int i = 0; i < hooks; ++i) {
    const auto answer = burst.next(hook_timeout + fault_margin);
    ASSERT_TRUE(answer.has_value()) << "only " << i << " of " << hooks << " slow webhooks answered within 6 s + "
                                    << fault_margin.count() << " s (a 1 byte/s peer takes 120 s)\n"
                                    << courier.log_text();
    const auto body = parse_json(answer->body);
    EXPECT_EQ(json_field(body, "ok"), "false") << answer->body;
    EXPECT_NE(json_field(body, "error").find("timed out after 6000 ms"), std::string::npos) << answer->body;
    EXPECT_LE(answer->took, hook_timeout + fault_margin);
  }
  EXPECT_TRUE(test::wait_until([&] { return slow.count("closed") == hooks; }, 20s))
      << "connections still held: " << slow.count("opened") - slow.count("closed");
  EXPECT_EQ(slow.count("opened"), hooks) << "an action tries once";

  // An event under a 2-attempt policy: 2 requests, then the dead letter.
  ASSERT_EQ(app.publish("shop.event.sms.retry", R"({"correlationId":"sms-1"})"), NATS_OK);
  const auto letter = test::libnats_client::next(dead, 2 * retry_timeout + fault_margin);
  ASSERT_TRUE(letter.has_value()) << courier.log_text();
  EXPECT_EQ(letter->subject, "shop.deadletter.slow_sms");
  EXPECT_EQ(json_field(parse_json(letter->data), "attempts"), "2");
  EXPECT_TRUE(test::wait_until([&] { return slow_retry.count("closed") == 2; }, 20s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(slow_retry.count("opened"), 2);
}

// ---- an SMTP server that answers one byte per second ------------------------

TEST(MssFaultSlowSmtp, AGreetingTricklingInEndsAtTheTimeout) {
  // Regression: the deadline was re-armed for every read, so a server
  // sending a byte a second (a reply may have 256 lines of 4 KiB) kept the
  // session alive for hours. A whole reply now has one deadline.
  test::temp_dir work;
  fault_peer slow;
  ASSERT_TRUE(slow.start(work, "slow_smtp", "slow-smtp", {"--interval", "0.5"}));
  test::io_thread io;
  smtp_options options;
  options.port = static_cast<std::uint16_t>(slow.port);
  options.tls = smtp_tls::none;
  options.timeout = 3000ms;
  mail_message mail;
  mail.from = "shop@courier.test";
  mail.to = {"a@example.com"};
  mail.subject = "s";
  mail.body = "b\n";
  const auto started = std::chrono::steady_clock::now();
  auto future = send_mail_future(io.executor(), options, mail);
  ASSERT_EQ(future.wait_for(options.timeout + fault_margin), std::future_status::ready)
      << "a greeting trickling in at 2 bytes/s held the session past its 3 s timeout + " << fault_margin.count()
      << " s";
  const auto result = future.get();
  EXPECT_EQ(result.error, smtp_error::timeout) << result.message;
  EXPECT_EQ(result.stage, "greeting") << result.message;
  EXPECT_LE(std::chrono::steady_clock::now() - started, options.timeout + fault_margin);
  EXPECT_GE(slow.count("bytes_sent"), 3) << "the peer never trickled: not the fault under test";
  EXPECT_TRUE(test::wait_until([&] { return slow.count("closed") == 1; }, 20s)) << "the client kept the connection";
}

}  // namespace
}  // namespace courier::mss
