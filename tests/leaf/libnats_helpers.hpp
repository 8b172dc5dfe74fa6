// libnats (the stock C client) helpers shared by the leafnode tests.
#pragma once

#include <gtest/gtest.h>

#include <nats/nats.h>

#include <memory>
#include <string>

#include "hub_cluster.hpp"

namespace courier::leaf_test {

struct connection_deleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct subscription_deleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct message_deleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using connection_ptr = std::unique_ptr<natsConnection, connection_deleter>;
using subscription_ptr = std::unique_ptr<natsSubscription, subscription_deleter>;
using message_ptr = std::unique_ptr<natsMsg, message_deleter>;

/// `credentials`: a .creds file (user JWT and seed) to connect with.
inline connection_ptr connect_to(const std::string& url, const std::string& credentials = "") {
  natsOptions* options = nullptr;
  natsOptions_Create(&options);
  natsOptions_SetURL(options, url.c_str());
  if (!credentials.empty()) natsOptions_SetUserCredentialsFromFiles(options, credentials.c_str(), nullptr);
  natsOptions_SetAllowReconnect(options, false);
  natsConnection* raw = nullptr;
  const natsStatus status = natsConnection_Connect(&raw, options);
  natsOptions_Destroy(options);
  if (status != NATS_OK) {
    ADD_FAILURE() << "connect " << url << ": " << natsStatus_GetText(status);
    return nullptr;
  }
  return connection_ptr(raw);
}

inline subscription_ptr subscribe_sync(natsConnection* nc, const char* subject, const char* queue = nullptr) {
  natsSubscription* raw = nullptr;
  const natsStatus status = queue ? natsConnection_QueueSubscribeSync(&raw, nc, subject, queue)
                                  : natsConnection_SubscribeSync(&raw, nc, subject);
  if (status != NATS_OK) ADD_FAILURE() << "subscribe " << subject << ": " << natsStatus_GetText(status);
  return subscription_ptr(raw);
}

inline std::string data_of(natsMsg* msg) {
  return std::string(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
}

/// The next message on `sub` whose subject is `subject` (probes sent while
/// waiting for interest are skipped), or null after `timeout`.
inline message_ptr next_on(natsSubscription* sub, const std::string& subject, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    natsMsg* raw = nullptr;
    if (natsSubscription_NextMsg(&raw, sub, 100) != NATS_OK) continue;
    message_ptr msg(raw);
    if (subject == natsMsg_GetSubject(raw)) return msg;
  }
  return nullptr;
}

/// Publishes `probe` on `publisher` until `sub` receives one: the
/// subscription's interest has crossed the leaf connection.
inline bool until_delivered(natsConnection* publisher, const std::string& probe, natsSubscription* sub) {
  return eventually([&] {
    natsConnection_PublishString(publisher, probe.c_str(), "probe");
    natsConnection_FlushTimeout(publisher, 5000);
    natsMsg* raw = nullptr;
    while (natsSubscription_NextMsg(&raw, sub, 100) == NATS_OK) {
      message_ptr msg(raw);
      if (probe == natsMsg_GetSubject(raw)) return true;
    }
    return false;
  });
}

}  // namespace courier::leaf_test
