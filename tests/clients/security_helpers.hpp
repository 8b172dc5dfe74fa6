// Helpers for the security client tests (TLS, nkeys, permissions, bad input):
// a throw-away certificate authority made with the openssl CLI at test time,
// a raw TLS client on OpenSSL for what libnats cannot do (TLS before INFO,
// hand-written bytes over TLS), an Ed25519 user key for nkey authentication,
// a recorder for libnats' asynchronous errors, and a launcher for servers
// that send no INFO in clear (handshake_first), which server_process cannot
// wait for.
//
// No key material is committed: every key is generated into a temporary
// directory that is removed when the test ends.
#pragma once

#include "nats_helpers.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <dirent.h>
#include <sys/time.h>

#include <atomic>
#include <functional>
#include <cstdlib>

#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "auth/nkeys.hpp"
#include "tests/test_pki.hpp"

namespace courier::test {

namespace nkeys = courier::auth::nkeys;

/// libnats options for a TLS connection trusting pki's CA, optionally with
/// a client certificate.
inline options_ptr make_tls_options(const std::string& url, const test_pki& pki, const std::string& client = {}) {
  auto opts = make_options(url);
  if (!opts) return nullptr;
  EXPECT_EQ(NATS_OK, natsOptions_SetSecure(opts.get(), true));
  EXPECT_EQ(NATS_OK, natsOptions_LoadCATrustedCertificates(opts.get(), pki.ca().c_str()));
  if (!client.empty()) {
    EXPECT_EQ(NATS_OK,
              natsOptions_LoadCertificatesChain(opts.get(), pki.cert(client).c_str(), pki.key(client).c_str()));
  }
  return opts;
}

/// Connect that may fail: returns the connection (or null) and the status.
inline connection_ptr try_connect(natsOptions* opts, natsStatus& status) {
  natsConnection* raw = nullptr;
  status = natsConnection_Connect(&raw, opts);
  return connection_ptr(raw);
}

/// A publish on nc reaches a subscription of nc on the same subject: proves
/// the connection is authenticated and the server is serving it.
inline testing::AssertionResult round_trip(natsConnection* nc, const std::string& subject,
                                           const std::string& data = "ping") {
  auto sub = subscribe_sync(nc, subject.c_str());
  if (!sub) return testing::AssertionFailure() << "subscribe failed";
  if (natsConnection_PublishString(nc, subject.c_str(), data.c_str()) != NATS_OK) {
    return testing::AssertionFailure() << "publish failed";
  }
  auto m = next_message(sub.get());
  if (!m) return testing::AssertionFailure() << "no message on " << subject;
  if (payload(m.get()) != data) return testing::AssertionFailure() << "payload " << payload(m.get());
  return testing::AssertionSuccess();
}

/// A message published on `from` reaches a fresh subscription of `to` on
/// subject (both connections authenticated and served).
inline testing::AssertionResult delivers(natsConnection* from, natsConnection* to, const std::string& subject,
                                         const std::string& data = "hello") {
  auto sub = subscribe_sync(to, subject.c_str());
  if (!sub) return testing::AssertionFailure() << "subscribe " << subject << " failed";
  if (flush(to) != NATS_OK) return testing::AssertionFailure() << "subscriber flush failed";
  if (natsConnection_PublishString(from, subject.c_str(), data.c_str()) != NATS_OK) {
    return testing::AssertionFailure() << "publish failed";
  }
  if (flush(from) != NATS_OK) return testing::AssertionFailure() << "publisher flush failed";
  auto m = next_message(sub.get());
  if (!m) return testing::AssertionFailure() << "nothing delivered on " << subject;
  if (payload(m.get()) != data) return testing::AssertionFailure() << "payload " << payload(m.get());
  return testing::AssertionSuccess();
}

/// Records asynchronous errors libnats reports for a connection, with the
/// server's -ERR text (natsConnection_GetLastError).
///
/// libnats keeps only the connection's last error text and the handler
/// reads it later on another thread, so two -ERRs in quick succession can
/// both be reported with the second text. Tests therefore provoke one
/// violation at a time and wait for its text before the next.
struct async_errors {
  std::mutex mutex;
  std::vector<natsStatus> statuses;
  std::vector<std::string> texts;

  static void on_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
    auto* self = static_cast<async_errors*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    std::lock_guard lock(self->mutex);
    self->statuses.push_back(err);
    self->texts.emplace_back(text ? text : "");
  }
  /// Installs the handler on opts.
  void attach(natsOptions* opts) { natsOptions_SetErrorHandler(opts, &async_errors::on_error, this); }
  size_t size() {
    std::lock_guard lock(mutex);
    return statuses.size();
  }
  /// True once an error whose text contains needle was reported.
  bool saw(const std::string& needle) {
    std::lock_guard lock(mutex);
    for (auto& t : texts)
      if (t.find(needle) != std::string::npos) return true;
    return false;
  }
  /// Number of reported errors whose text contains needle.
  size_t count(const std::string& needle) {
    std::lock_guard lock(mutex);
    size_t n = 0;
    for (auto& t : texts) n += t.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    return wait_until([&] { return saw(needle); }, timeout);
  }
  std::string all() {
    std::lock_guard lock(mutex);
    std::string out;
    for (auto& t : texts) out += t + "\n";
    return out;
  }
};

/// An Ed25519 user key for nkey authentication, generated with OpenSSL.
class user_nkey {
 public:
  user_nkey() {
    pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (pkey_ == nullptr) return;
    nkeys::key_bytes raw{};
    size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(pkey_, raw.data(), &len) != 1 || len != raw.size()) return;
    public_key_ = nkeys::encode_public_key(nkeys::prefix::user, raw);
  }
  user_nkey(const user_nkey&) = delete;
  user_nkey& operator=(const user_nkey&) = delete;
  ~user_nkey() { EVP_PKEY_free(pkey_); }

  /// "U..." public key for the server config and CONNECT.
  const std::string& public_key() const { return public_key_; }

  /// Raw 64-byte Ed25519 signature of message.
  std::vector<unsigned char> sign(std::string_view message) const {
    std::vector<unsigned char> sig(64);
    size_t len = sig.size();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey_) == 1 &&
              EVP_DigestSign(ctx, sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                             message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) sig.clear();
    sig.resize(ok ? len : 0);
    return sig;
  }

  /// natsSignatureHandler; the closure is the user_nkey. Counts calls.
  static natsStatus sign_nonce(char** error_text, unsigned char** signature, int* signature_length, const char* nonce,
                               void* closure) {
    auto* self = static_cast<user_nkey*>(closure);
    ++self->signatures_;
    auto sig = self->sign(nonce);
    if (sig.empty()) {
      *error_text = ::strdup("signing failed");
      return NATS_ERR;
    }
    *signature = static_cast<unsigned char*>(std::malloc(sig.size()));
    std::memcpy(*signature, sig.data(), sig.size());
    *signature_length = static_cast<int>(sig.size());
    self->lost_signature_ = sig[0] == 0;
    return NATS_OK;
  }

  int signatures() const { return signatures_; }

  /// True when the last signature handed to libnats began with a zero byte.
  /// libnats 3.4.1 (Debian) then sends CONNECT with no "sig" at all: it
  /// encodes the signature as if it were a C string and finds it empty. The
  /// server refuses that connection, nats-server 2.9.10 as much as Courier:
  /// 9 of 2,000 runs of nkey_test.unknown_key_and_wrong_signer_are_refused
  /// failed that way against nats-server. Each failure came right after such
  /// a signature, which happens for 1 connection in 256.
  bool lost_signature() const { return lost_signature_; }

 private:
  EVP_PKEY* pkey_ = nullptr;
  std::string public_key_;
  std::atomic<int> signatures_{0};
  std::atomic<bool> lost_signature_{false};
};

/// connect_with() for options signed by `key`. A connection refused because
/// libnats dropped the signature (user_nkey::lost_signature) is tried again:
/// the next attempt gets a new nonce, hence a new signature. Any other
/// failure fails the test at once, as connect_with() does.
inline connection_ptr connect_signed(natsOptions* opts, const user_nkey& key) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    natsConnection* raw = nullptr;
    const natsStatus s = natsConnection_Connect(&raw, opts);
    if (s == NATS_OK) return connection_ptr(raw);
    if (!key.lost_signature()) {
      ADD_FAILURE() << "natsConnection_Connect: " << natsStatus_GetText(s) << " (" << nats_GetLastError(nullptr)
                    << ")";
      return nullptr;
    }
  }
  ADD_FAILURE() << "libnats dropped the signature 8 times in a row";
  return nullptr;
}

/// A TLS client on a blocking loopback socket, driven by hand: it can start
/// TLS before the server says anything (handshake_first), upgrade after the
/// plain INFO, and send arbitrary bytes. Reads are bounded by deadlines.
class raw_tls_client {
 public:
  explicit raw_tls_client(int port) : fd_(connect_loopback(port)) {
    if (fd_ < 0) return;
    // Short receive timeouts turn blocking reads into deadline-checked loops.
    timeval tv{0, 50 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  raw_tls_client(const raw_tls_client&) = delete;
  raw_tls_client& operator=(const raw_tls_client&) = delete;
  ~raw_tls_client() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  bool connected() const { return fd_ >= 0; }

  /// Before TLS: reads plain bytes until needle shows up (or close/timeout).
  bool read_plain_until(std::string_view needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = steady::now() + timeout;
    while (plain_.find(needle) == std::string::npos && steady::now() < deadline && !closed_) {
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        plain_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed_ = true;
      }
    }
    return plain_.find(needle) != std::string::npos;
  }

  /// Plain bytes seen before TLS.
  const std::string& plain() const { return plain_; }

  /// Plain bytes written before TLS (or instead of it).
  bool send_plain(std::string_view text) {
    while (!text.empty()) {
      ssize_t n = ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Client side of the TLS handshake, verifying the server certificate
  /// against ca_file; cert/key, when given, are presented to the server.
  /// tune, when set, adjusts the context first (versions, cipher lists).
  testing::AssertionResult handshake(const std::string& ca_file, const std::string& cert = {},
                                     const std::string& key = {}, std::chrono::milliseconds timeout = 5s,
                                     const std::function<void(SSL_CTX*)>& tune = {}) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return testing::AssertionFailure() << "SSL_CTX_new";
    if (tune) tune(ctx_);
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
      return testing::AssertionFailure() << "cannot load CA " << ca_file;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!cert.empty() && (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
                          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return testing::AssertionFailure() << "cannot load client certificate";
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    SSL_set1_host(ssl_, "localhost");
    const auto deadline = steady::now() + timeout;
    for (;;) {
      ERR_clear_error();
      int rc = SSL_connect(ssl_);
      if (rc == 1) return testing::AssertionSuccess();
      int err = SSL_get_error(ssl_, rc);
      if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && steady::now() < deadline) continue;
      char reason[256] = "";
      ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
      return testing::AssertionFailure() << "SSL_connect failed (ssl error " << err << "): " << reason;
    }
  }

  /// Writes text over TLS.
  bool send(std::string_view text) {
    while (!text.empty()) {
      int n = SSL_write(ssl_, text.data(), static_cast<int>(text.size()));
      if (n <= 0) return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Reads decrypted bytes until needle appears, the peer closes, or timeout.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = steady::now() + timeout;
    while (buffer_.find(needle) == std::string::npos && !closed_ && steady::now() < deadline) read_some();
    return buffer_.find(needle) != std::string::npos;
  }

  /// Reads until the peer closes; true if it did within the timeout.
  bool wait_closed(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = steady::now() + timeout;
    while (!closed_ && steady::now() < deadline) read_some();
    return closed_;
  }

  /// Decrypted bytes received so far.
  const std::string& buffer() const { return buffer_; }
  void clear() { buffer_.clear(); }

  /// The negotiated cipher's OpenSSL name after the handshake.
  std::string cipher() const { return ssl_ ? SSL_get_cipher_name(ssl_) : ""; }

 private:
  void read_some() {
    char chunk[16384];
    ERR_clear_error();
    int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
    closed_ = true;
  }

  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string plain_;
  std::string buffer_;
  bool closed_ = false;
};

/// A server child process that is ready once its port accepts TCP
/// connections: for configurations where no INFO comes in clear
/// (handshake_first), which server_process::start() waits for, and for
/// command-line flags, which server_process does not pass.
class listening_process {
 public:
  /// config_text, when not empty, goes to a file passed with -c; extra_args
  /// follow the address and port.
  explicit listening_process(const std::string& config_text, std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)) {
    if (!config_text.empty()) config_ = dir_.write("server.conf", config_text + "\n");
  }
  listening_process(const listening_process&) = delete;
  listening_process& operator=(const listening_process&) = delete;
  ~listening_process() {
    stop();
    expect_no_sanitizer_report(log_text());
  }

  /// SIGTERM, then SIGKILL if it lingers.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = steady::now() + 5s;
    int status = 0;
    while (steady::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(5ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  testing::AssertionResult start(std::chrono::milliseconds timeout = 10s) {
    port_ = pick_free_port();
    if (port_ <= 0 || dir_.path().empty()) return testing::AssertionFailure() << "no port or scratch dir";
    std::vector<std::string> args = server_command(port_);
    if (!config_.empty()) {
      args.push_back("-c");
      args.push_back(config_);
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    const pid_t pid = spawn_logged(args, dir_.file("server.log"));
    if (pid < 0) return testing::AssertionFailure() << "fork failed";
    pid_ = pid;
    const auto deadline = steady::now() + timeout;
    while (steady::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return testing::AssertionFailure() << "server exited during startup; log:\n" << log_text();
      }
      if (int fd = connect_loopback(port_); fd >= 0) {
        ::close(fd);
        return testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(10ms);
    }
    return testing::AssertionFailure() << "server did not listen; log:\n" << log_text();
  }

  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  /// Replaces the config file and sends SIGHUP, as an operator reloads.
  bool reload(const std::string& config_text) {
    if (pid_ <= 0 || config_.empty()) return false;
    dir_.write("server.conf", config_text + "\n");
    return ::kill(pid_, SIGHUP) == 0;
  }

  std::string log_text() const {
    std::ifstream in(dir_.file("server.log"));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  scratch_dir dir_;
  std::string config_;
  std::vector<std::string> extra_args_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace courier::test
