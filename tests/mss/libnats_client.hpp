// A stock NATS client for the mss end-to-end tests: libnats (the C client)
// in small RAII wrappers, so that the tests talk to the message services
// exactly as an application written against any NATS library would.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace courier::mss::test {

/// A received message (or reply) copied out of libnats.
struct nats_reply {
  natsStatus status = NATS_OK;
  std::string data;
  std::string subject;
};

/// One libnats connection.
class libnats_client {
 public:
  /// Connects to `url` (with user/password when given). Check connected().
  explicit libnats_client(const std::string& url, const std::string& user = {}, const std::string& password = {}) {
    natsOptions* options = nullptr;
    natsOptions_Create(&options);
    natsOptions_SetURL(options, url.c_str());
    if (!user.empty()) natsOptions_SetUserInfo(options, user.c_str(), password.c_str());
    natsOptions_SetErrorHandler(options, &libnats_client::on_async_error, this);
    natsOptions_SetTimeout(options, 5000);
    status_ = natsConnection_Connect(&connection_, options);
    natsOptions_Destroy(options);
  }
  ~libnats_client() {
    for (auto* sub : subscriptions_) natsSubscription_Destroy(sub);
    if (connection_) natsConnection_Destroy(connection_);
  }
  libnats_client(const libnats_client&) = delete;
  libnats_client& operator=(const libnats_client&) = delete;

  bool connected() const { return status_ == NATS_OK && connection_ != nullptr; }
  natsStatus connect_status() const { return status_; }
  natsConnection* get() { return connection_; }

  /// A request; `msg_id` non-empty adds a Nats-Msg-Id header.
  nats_reply request(const std::string& subject, const std::string& payload, std::chrono::milliseconds timeout,
                     const std::string& msg_id = {}) {
    nats_reply out;
    natsMsg* request = nullptr;
    natsMsg* reply = nullptr;
    natsMsg_Create(&request, subject.c_str(), nullptr, payload.data(), static_cast<int>(payload.size()));
    if (!msg_id.empty()) natsMsgHeader_Set(request, "Nats-Msg-Id", msg_id.c_str());
    out.status = natsConnection_RequestMsg(&reply, connection_, request, static_cast<std::int64_t>(timeout.count()));
    natsMsg_Destroy(request);
    if (out.status == NATS_OK && reply != nullptr) {
      out.data.assign(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
      out.subject = natsMsg_GetSubject(reply);
    }
    if (reply) natsMsg_Destroy(reply);
    return out;
  }

  natsStatus publish(const std::string& subject, const std::string& payload) {
    return natsConnection_Publish(connection_, subject.c_str(), payload.data(), static_cast<int>(payload.size()));
  }
  natsStatus flush() { return natsConnection_FlushTimeout(connection_, 5000); }

  /// A synchronous subscription (owned by this client).
  natsSubscription* subscribe(const std::string& subject) {
    natsSubscription* sub = nullptr;
    if (natsConnection_SubscribeSync(&sub, connection_, subject.c_str()) != NATS_OK) return nullptr;
    subscriptions_.push_back(sub);
    return sub;
  }
  /// The next message of `sub`, or nullopt after `timeout`.
  static std::optional<nats_reply> next(natsSubscription* sub, std::chrono::milliseconds timeout) {
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub, static_cast<std::int64_t>(timeout.count())) != NATS_OK) return std::nullopt;
    nats_reply out;
    out.data.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    out.subject = natsMsg_GetSubject(msg);
    natsMsg_Destroy(msg);
    return out;
  }

  /// Asynchronous errors reported by the server (e.g. permission violations).
  std::vector<std::string> async_errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  static void on_async_error(natsConnection* connection, natsSubscription*, natsStatus status, void* closure) {
    auto* self = static_cast<libnats_client*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(connection, &text);
    std::lock_guard lock(self->mutex_);
    self->errors_.push_back(std::string(natsStatus_GetText(status)) + ": " + (text ? text : ""));
  }

  natsConnection* connection_ = nullptr;
  natsStatus status_ = NATS_ERR;
  std::vector<natsSubscription*> subscriptions_;
  std::mutex mutex_;
  std::vector<std::string> errors_;
};

}  // namespace courier::mss::test
