// Small RAII and waiting helpers around libnats (the stock C client), shared
// by the client tests.
#pragma once

#include "server_process.hpp"

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace courier::test {

struct connection_deleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct subscription_deleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct message_deleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct options_deleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
using connection_ptr = std::unique_ptr<natsConnection, connection_deleter>;
using subscription_ptr = std::unique_ptr<natsSubscription, subscription_deleter>;
using message_ptr = std::unique_ptr<natsMsg, message_deleter>;
using options_ptr = std::unique_ptr<natsOptions, options_deleter>;

/// Fresh options pointing at url; null (with a test failure) on error.
inline options_ptr make_options(const std::string& url) {
  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) {
    ADD_FAILURE() << "natsOptions_Create failed";
    return nullptr;
  }
  options_ptr opts(raw);
  natsOptions_SetURL(raw, url.c_str());
  // The suite stops servers on purpose; a connection that is not testing
  // reconnects should see that at once rather than retry for minutes.
  natsOptions_SetAllowReconnect(raw, false);
  return opts;
}

/// Connects with opts; null (with a test failure naming the status) on error.
inline connection_ptr connect_with(natsOptions* opts) {
  natsConnection* raw = nullptr;
  natsStatus s = natsConnection_Connect(&raw, opts);
  if (s != NATS_OK) {
    ADD_FAILURE() << "natsConnection_Connect: " << natsStatus_GetText(s) << " (" << nats_GetLastError(nullptr)
                  << ")";
    return nullptr;
  }
  return connection_ptr(raw);
}

/// Connects to url with default options (no reconnect).
inline connection_ptr connect_to(const std::string& url) {
  auto opts = make_options(url);
  if (!opts) return nullptr;
  return connect_with(opts.get());
}

/// Synchronous subscription; null with a test failure on error.
inline subscription_ptr subscribe_sync(natsConnection* nc, const char* subject, const char* queue = nullptr) {
  natsSubscription* raw = nullptr;
  natsStatus s = queue ? natsConnection_QueueSubscribeSync(&raw, nc, subject, queue)
                       : natsConnection_SubscribeSync(&raw, nc, subject);
  if (s != NATS_OK) {
    ADD_FAILURE() << "subscribe " << subject << ": " << natsStatus_GetText(s);
    return nullptr;
  }
  return subscription_ptr(raw);
}

/// Next message on a sync subscription, or null after timeout.
inline message_ptr next_message(natsSubscription* sub, std::chrono::milliseconds timeout = 2s) {
  natsMsg* raw = nullptr;
  if (natsSubscription_NextMsg(&raw, sub, timeout.count()) != NATS_OK) return nullptr;
  return message_ptr(raw);
}

/// Payload of msg as a string (payloads may contain NULs).
inline std::string payload(natsMsg* msg) {
  return std::string(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
}

/// Messages already queued in the client for sub.
inline uint64_t queued(natsSubscription* sub) {
  uint64_t n = 0;
  natsSubscription_QueuedMsgs(sub, &n);
  return n;
}

/// A round trip on nc: everything the server queued for nc before it saw our
/// PING has reached the client library when this returns NATS_OK.
inline natsStatus flush(natsConnection* nc, std::chrono::milliseconds timeout = 5s) {
  return natsConnection_FlushTimeout(nc, timeout.count());
}

/// Polls pred every few milliseconds until it holds or the timeout passes.
template <typename Predicate>
bool wait_until(Predicate pred, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= deadline) return pred();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

/// Collects what an asynchronous subscription delivers.
///
/// Declare a collector before the connections and subscriptions feeding it:
/// its destructor waits until libnats reports every subscription complete
/// (handler returned, delivery thread done), so no callback can run on a
/// destroyed collector.
class collector {
 public:
  collector() = default;
  collector(const collector&) = delete;
  collector& operator=(const collector&) = delete;
  ~collector() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 5s, [&] { return completed_ == subscribed_; });
  }

  /// One delivered message, copied out of libnats.
  struct item {
    std::string subject;
    std::string reply;
    std::string data;
  };

  /// natsMsgHandler; the closure is the collector.
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<collector*>(closure);
    item it{natsMsg_GetSubject(msg), natsMsg_GetReply(msg) ? natsMsg_GetReply(msg) : "", payload(msg)};
    natsMsg_Destroy(msg);
    if (self->delay_.count() > 0) std::this_thread::sleep_for(self->delay_);
    std::lock_guard lock(self->mutex_);
    self->items_.push_back(std::move(it));
    self->changed_.notify_all();
  }

  /// Makes each callback take this long, so messages pile up in the client.
  void set_delay(std::chrono::microseconds delay) { delay_ = delay; }

  /// Waits until at least n messages were delivered.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return items_.size() >= n; });
  }

  size_t size() {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

  std::vector<item> items() {
    std::lock_guard lock(mutex_);
    return items_;
  }

  /// Subscribes nc to subject (optionally in a queue group) delivering here.
  subscription_ptr subscribe(natsConnection* nc, const char* subject, const char* queue = nullptr) {
    natsSubscription* raw = nullptr;
    natsStatus s = queue ? natsConnection_QueueSubscribe(&raw, nc, subject, queue, &collector::on_message, this)
                         : natsConnection_Subscribe(&raw, nc, subject, &collector::on_message, this);
    if (s != NATS_OK) {
      ADD_FAILURE() << "subscribe " << subject << ": " << natsStatus_GetText(s);
      return nullptr;
    }
    {
      std::lock_guard lock(mutex_);
      ++subscribed_;
    }
    natsSubscription_SetOnCompleteCB(raw, &collector::on_complete, this);
    return subscription_ptr(raw);
  }

 private:
  static void on_complete(void* closure) {
    auto* self = static_cast<collector*>(closure);
    std::lock_guard lock(self->mutex_);
    ++self->completed_;
    self->changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<item> items_;
  std::chrono::microseconds delay_{0};
  int subscribed_ = 0;
  int completed_ = 0;
};

/// Closes libnats' global state once all tests ran, so that leak checkers
/// see no library threads or allocations left behind.
class nats_environment : public testing::Environment {
 public:
  void SetUp() override {
    // Raw sockets write to servers that close on purpose.
    ::signal(SIGPIPE, SIG_IGN);
    nats_Open(-1);
  }
  void TearDown() override { nats_CloseAndWait(5000); }
};

/// Registered once for the whole binary (inline: one instance across TUs).
inline testing::Environment* const nats_environment_instance =
    testing::AddGlobalTestEnvironment(new nats_environment);

/// Base fixture: one default server per test.
class client_test : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }

  server_process server_;
};

}  // namespace courier::test
