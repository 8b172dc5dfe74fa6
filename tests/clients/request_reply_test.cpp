// Request/reply through libnats: the new-style shared response subscription,
// the old style (one inbox per request), a hand-made inbox, and the server's
// no-responders status.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

using request_reply_test = client_test;

/// Replies "echo:<payload>" to every request, counting them.
void echo_handler(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
  auto* count = static_cast<std::atomic<int>*>(closure);
  const char* reply = natsMsg_GetReply(msg);
  if (reply != nullptr) {
    std::string body = "echo:" + payload(msg);
    natsConnection_Publish(nc, reply, body.data(), int(body.size()));
  }
  ++*count;
  natsMsg_Destroy(msg);
}

/// An echo service on its own connection.
struct echo_service {
  explicit echo_service(const std::string& url, const char* subject = "svc.echo", const char* queue = nullptr) {
    nc = connect_to(url);
    if (!nc) return;
    natsSubscription* raw = nullptr;
    natsStatus s = queue ? natsConnection_QueueSubscribe(&raw, nc.get(), subject, queue, echo_handler, &served)
                         : natsConnection_Subscribe(&raw, nc.get(), subject, echo_handler, &served);
    EXPECT_EQ(NATS_OK, s);
    sub.reset(raw);
    EXPECT_EQ(NATS_OK, flush(nc.get()));
  }
  bool ok() const { return nc && sub; }
  ~echo_service() {
    // Close the connection first so the handler can no longer run when
    // served goes away.
    sub.reset();
    if (nc) natsConnection_Close(nc.get());
  }

  std::atomic<int> served{0};
  connection_ptr nc;
  subscription_ptr sub;
};

TEST_F(request_reply_test, request_gets_the_reply_to_that_request) {
  echo_service svc(server_.url());
  ASSERT_TRUE(svc.ok());
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  for (int i = 0; i < 20; ++i) {
    std::string body = "req" + std::to_string(i);
    natsMsg* raw = nullptr;
    ASSERT_EQ(NATS_OK, natsConnection_Request(&raw, nc.get(), "svc.echo", body.data(), int(body.size()), 2000))
        << "request " << i;
    message_ptr reply(raw);
    EXPECT_EQ("echo:" + body, payload(reply.get()));
  }
  EXPECT_EQ(20, svc.served.load());
}

TEST_F(request_reply_test, concurrent_requests_each_get_their_own_reply) {
  echo_service svc(server_.url(), "svc.par", "workers");
  echo_service svc2(server_.url(), "svc.par", "workers");
  ASSERT_TRUE(svc.ok() && svc2.ok());
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = std::to_string(t) + "/" + std::to_string(i);
        natsMsg* raw = nullptr;
        if (natsConnection_Request(&raw, nc.get(), "svc.par", body.data(), int(body.size()), 2000) != NATS_OK) {
          ++failures;
          continue;
        }
        message_ptr reply(raw);
        if (payload(reply.get()) != "echo:" + body) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(0, failures.load());
  EXPECT_EQ(0, mismatches.load());
  EXPECT_EQ(100, svc.served.load() + svc2.served.load()) << "each request served once by the queue group";
}

TEST_F(request_reply_test, old_style_request_uses_its_own_inbox) {
  echo_service svc(server_.url());
  ASSERT_TRUE(svc.ok());
  auto opts = make_options(server_.url());
  ASSERT_TRUE(opts);
  ASSERT_EQ(NATS_OK, natsOptions_UseOldRequestStyle(opts.get(), true));
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc);
  for (int i = 0; i < 5; ++i) {
    natsMsg* raw = nullptr;
    std::string body = "old" + std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_Request(&raw, nc.get(), "svc.echo", body.data(), int(body.size()), 2000));
    message_ptr reply(raw);
    EXPECT_EQ("echo:" + body, payload(reply.get()));
  }
}

TEST_F(request_reply_test, hand_made_inbox_receives_reply) {
  echo_service svc(server_.url());
  ASSERT_TRUE(svc.ok());
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  natsInbox* inbox = nullptr;
  ASSERT_EQ(NATS_OK, natsInbox_Create(&inbox));
  std::unique_ptr<natsInbox, void (*)(natsInbox*)> inbox_guard(inbox, natsInbox_Destroy);
  auto sub = subscribe_sync(nc.get(), inbox);
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(nc.get(), "svc.echo", inbox, "manual"));
  auto reply = next_message(sub.get());
  ASSERT_TRUE(reply);
  EXPECT_STREQ(inbox, natsMsg_GetSubject(reply.get()));
  EXPECT_EQ("echo:manual", payload(reply.get()));
}

TEST_F(request_reply_test, reply_subject_is_delivered_to_the_subscriber) {
  auto sub_conn = connect_to(server_.url());
  auto pub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn && pub_conn);
  auto sub = subscribe_sync(sub_conn.get(), "rs.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(pub_conn.get(), "rs.x", "back.here.1", "q"));
  auto m = next_message(sub.get());
  ASSERT_TRUE(m);
  ASSERT_NE(nullptr, natsMsg_GetReply(m.get()));
  EXPECT_STREQ("back.here.1", natsMsg_GetReply(m.get()));
  EXPECT_EQ("q", payload(m.get()));
}

TEST_F(request_reply_test, no_responders_fails_at_once) {
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  ASSERT_TRUE(natsConnection_HasHeaderSupport(nc.get()) == NATS_OK) << "server INFO must announce headers";
  for (bool old_style : {false, true}) {
    connection_ptr conn;
    if (old_style) {
      auto opts = make_options(server_.url());
      ASSERT_TRUE(opts);
      natsOptions_UseOldRequestStyle(opts.get(), true);
      conn = connect_with(opts.get());
      ASSERT_TRUE(conn);
    }
    natsConnection* use = old_style ? conn.get() : nc.get();
    natsMsg* raw = nullptr;
    const auto start = steady::now();
    natsStatus s = natsConnection_RequestString(&raw, use, "nobody.listens", "anyone?", 30000);
    const auto took = steady::now() - start;
    message_ptr reply(raw);
    EXPECT_EQ(NATS_NO_RESPONDERS, s) << (old_style ? "old style: " : "new style: ") << natsStatus_GetText(s);
    EXPECT_LT(took, 10s) << "the 503 status must come at once, not at the 30 s timeout";
  }
}

TEST_F(request_reply_test, no_responders_status_on_the_wire) {
  raw_client raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n"
                       "SUB my.inbox 9\r\nPUB nobody.here my.inbox 2\r\nhi\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  // HMSG <subject> <sid> <header bytes> <total bytes>, a 503 status line, no payload.
  EXPECT_EQ(0u, raw.buffer().find("HMSG my.inbox 9 ")) << raw.buffer();
  EXPECT_NE(std::string::npos, raw.buffer().find("NATS/1.0 503")) << raw.buffer();

  // Without no_responders in CONNECT the server stays silent.
  raw_client quiet(server_.port());
  ASSERT_TRUE(quiet.connected());
  ASSERT_TRUE(quiet.read_info());
  quiet.clear();
  ASSERT_TRUE(quiet.send("CONNECT {\"verbose\":false,\"headers\":true}\r\n"
                         "SUB my.inbox 9\r\nPUB nobody.here my.inbox 2\r\nhi\r\nPING\r\n"));
  ASSERT_TRUE(quiet.read_until("PONG\r\n"));
  EXPECT_EQ("PONG\r\n", quiet.buffer());
}

TEST_F(request_reply_test, request_times_out_when_responder_never_answers) {
  // A subscriber exists (so no 503) but never replies.
  auto silent_conn = connect_to(server_.url());
  ASSERT_TRUE(silent_conn);
  auto silent = subscribe_sync(silent_conn.get(), "svc.silent");
  ASSERT_TRUE(silent);
  ASSERT_EQ(NATS_OK, flush(silent_conn.get()));
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  natsMsg* raw = nullptr;
  const auto start = steady::now();
  EXPECT_EQ(NATS_TIMEOUT, natsConnection_RequestString(&raw, nc.get(), "svc.silent", "hello?", 300));
  EXPECT_GE(steady::now() - start, 250ms);
  message_ptr reply(raw);
  auto got = next_message(silent.get());
  ASSERT_TRUE(got) << "the request itself was delivered";
  EXPECT_EQ("hello?", payload(got.get()));
  EXPECT_NE(nullptr, natsMsg_GetReply(got.get()));
}

}  // namespace
}  // namespace courier::test
