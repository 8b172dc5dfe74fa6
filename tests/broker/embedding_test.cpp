// The embedding API: a server started from code, in-process connections, and
// messages between in-process and TCP clients in both directions.
#include "broker/in_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/server.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

/// Collects messages from a callback and lets the test wait for a count.
struct collector {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<message> messages;

  message_handler handler() {
    return [this](const message& m) {
      std::lock_guard lock(mutex);
      messages.push_back(m);
      changed.notify_all();
    };
  }
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return messages.size() >= count; });
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
};

/// A raw protocol client over a blocking socket.
class raw_client {
 public:
  explicit raw_client(std::uint16_t port) : socket_(context_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    read_line();  // INFO
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  /// The next line from the server; its own PINGs are answered and skipped,
  /// as a client does.
  std::string read_line() {
    for (;;) {
      asio::read_until(socket_, buffer_, "\r\n");
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (line != "PING\r") return line + "\n";
      send("PONG\r\n");
    }
  }
  /// Reads `n` bytes plus CRLF.
  std::string read_payload(std::size_t n) {
    while (buffer_.size() < n + 2) {
      asio::read(socket_, buffer_, asio::transfer_at_least(1));
    }
    std::string out(n, '\0');
    buffer_.sgetn(out.data(), static_cast<std::streamsize>(n));
    buffer_.consume(2);
    return out;
  }
  /// Round trip so that everything sent before has been processed.
  void sync() {
    send("PING\r\n");
    while (read_line() != "PONG\r\n") {
    }
  }

 private:
  asio::io_context context_;
  asio::ip::tcp::socket socket_;
  asio::streambuf buffer_;
};

class embedding : public ::testing::Test {
 protected:
  void SetUp() override {
    conf::server_options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<server>(options);
    server_->start();
  }
  void TearDown() override { server_->shutdown(); }
  std::unique_ptr<server> server_;
};

TEST_F(embedding, publish_subscribe_in_process) {
  auto a = server_->connect();
  auto b = server_->connect();
  collector got;
  b->subscribe("orders.*", got.handler());
  EXPECT_TRUE(a->publish("orders.new", "one"));
  EXPECT_FALSE(a->publish("other", "nobody listens"));
  a->publish("orders.new.too.deep", "no");
  a->publish("orders.paid", "two");
  ASSERT_TRUE(got.wait_for(2));
  b->flush();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.messages[0].subject, "orders.new");
  EXPECT_EQ(got.messages[0].payload, "one");
  EXPECT_EQ(got.messages[1].payload, "two");
}

TEST_F(embedding, no_listener_mode_opens_no_port) {
  conf::server_options options;
  options.port = -1;
  server quiet(options);
  quiet.start();
  EXPECT_EQ(quiet.port(), 0);
  auto c = quiet.connect();
  collector got;
  c->subscribe("x", got.handler());
  c->publish("x", "in-process only");
  EXPECT_TRUE(got.wait_for(1));
  quiet.shutdown();
}

TEST_F(embedding, queue_group_delivers_each_message_once) {
  auto publisher = server_->connect();
  std::vector<std::shared_ptr<local_client>> members;
  std::vector<std::unique_ptr<collector>> got;
  for (int i = 0; i < 4; ++i) {
    members.push_back(server_->connect());
    got.push_back(std::make_unique<collector>());
    members.back()->subscribe("work", got.back()->handler(), "workers");
  }
  constexpr int total = 400;
  for (int i = 0; i < total; ++i) publisher->publish("work", std::to_string(i));
  std::set<std::string> seen;
  std::size_t sum = 0;
  for (int i = 0; i < 4; ++i) {
    members[i]->flush();
    sum += got[i]->size();
    EXPECT_GT(got[i]->size(), 0u) << "member " << i << " got nothing";
    for (auto& m : got[i]->messages) EXPECT_TRUE(seen.insert(m.payload).second) << "duplicate " << m.payload;
  }
  EXPECT_EQ(sum, static_cast<std::size_t>(total));
}

TEST_F(embedding, request_reply_and_no_responders) {
  auto service = server_->connect();
  service->subscribe("math.double", [&service](const message& m) {
    service->publish(m.reply, std::to_string(2 * std::stoi(m.payload)));
  });
  auto client = server_->connect();
  auto result = client->request("math.double", "21", 2s);
  ASSERT_EQ(result.status, request_status::ok);
  EXPECT_EQ(result.reply.payload, "42");

  auto start = std::chrono::steady_clock::now();
  // The status itself says no timeout ran; the clock only checks that it did
  // not take anywhere near the request's timeout (with room for a slow machine).
  auto none = client->request("math.triple", "1", 30s);
  EXPECT_EQ(none.status, request_status::no_responders);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);

  // A responder that never answers: timeout.
  service->subscribe("math.slow", [](const message&) {});
  auto slow = client->request("math.slow", "1", 100ms);
  EXPECT_EQ(slow.status, request_status::timeout);
}

TEST_F(embedding, auto_unsubscribe_after_max) {
  auto c = server_->connect();
  collector got;
  auto sid = c->subscribe("tick", got.handler());
  c->unsubscribe(sid, 3);
  for (int i = 0; i < 10; ++i) c->publish("tick", std::to_string(i));
  c->flush();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_FALSE(c->publish("tick", "after"));
}

TEST_F(embedding, echo_off_skips_own_messages) {
  auto c = server_->connect({.name = "quiet", .echo = false});
  auto other = server_->connect();
  collector mine;
  c->subscribe("chat", mine.handler());
  c->publish("chat", "from me");
  other->publish("chat", "from other");
  ASSERT_TRUE(mine.wait_for(1));
  c->flush();
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine.messages[0].payload, "from other");
}

TEST_F(embedding, drain_delivers_queued_then_closes) {
  auto c = server_->connect();
  std::atomic<int> handled{0};
  c->subscribe("slow", [&](const message&) {
    std::this_thread::sleep_for(1ms);
    ++handled;
  });
  auto p = server_->connect();
  for (int i = 0; i < 50; ++i) p->publish("slow", "x");
  EXPECT_TRUE(c->drain(5s));
  EXPECT_EQ(handled.load(), 50);
  EXPECT_TRUE(c->closed());
  EXPECT_FALSE(p->publish("slow", "after drain"));
}

TEST_F(embedding, tcp_to_in_process_and_back) {
  auto app = server_->connect();
  collector from_tcp;
  app->subscribe("to.app", from_tcp.handler());

  raw_client tcp(server_->port());
  tcp.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\nSUB to.tcp 7\r\n");
  tcp.sync();

  tcp.send("PUB to.app reply.here 5\r\nhello\r\n");
  tcp.sync();
  ASSERT_TRUE(from_tcp.wait_for(1));
  EXPECT_EQ(from_tcp.messages[0].payload, "hello");
  EXPECT_EQ(from_tcp.messages[0].reply, "reply.here");

  EXPECT_TRUE(app->publish("to.tcp", "world"));
  EXPECT_EQ(tcp.read_line(), "MSG to.tcp 7 5\r\n");
  EXPECT_EQ(tcp.read_payload(5), "world");

  app->publish("to.tcp", "with headers", "", "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(tcp.read_line(), "HMSG to.tcp 7 18 30\r\n");
  EXPECT_EQ(tcp.read_payload(30), "NATS/1.0\r\nA: b\r\n\r\nwith headers");
}

TEST_F(embedding, tcp_client_requests_in_process_service) {
  auto service = server_->connect();
  service->subscribe("svc.echo", [&service](const message& m) { service->publish(m.reply, "echo:" + m.payload); });
  raw_client tcp(server_->port());
  tcp.send("CONNECT {\"verbose\":false}\r\nSUB _INBOX.r 1\r\nPUB svc.echo _INBOX.r 2\r\nhi\r\n");
  EXPECT_EQ(tcp.read_line(), "MSG _INBOX.r 1 7\r\n");
  EXPECT_EQ(tcp.read_payload(7), "echo:hi");
}

TEST_F(embedding, in_process_requests_tcp_service) {
  raw_client tcp(server_->port());
  tcp.send("CONNECT {\"verbose\":false}\r\nSUB svc.upper 1\r\n");
  tcp.sync();
  std::thread responder([&] {
    std::string line = tcp.read_line();  // MSG svc.upper 1 <reply> 3
    auto reply_start = line.find("1 ") + 2;
    auto reply = line.substr(reply_start, line.find(' ', reply_start) - reply_start);
    auto payload = tcp.read_payload(3);
    tcp.send("PUB " + reply + " 3\r\nABC\r\n");
  });
  auto app = server_->connect();
  auto result = app->request("svc.upper", "abc", 5s);
  responder.join();
  ASSERT_EQ(result.status, request_status::ok);
  EXPECT_EQ(result.reply.payload, "ABC");
}

TEST_F(embedding, many_threads_publish_concurrently) {
  auto sink = server_->connect();
  collector got;
  sink->subscribe("load.>", got.handler());
  constexpr int threads = 4, per_thread = 2000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto c = server_->connect();
      for (int i = 0; i < per_thread; ++i) c->publish("load." + std::to_string(t), "m");
      c->close();
    });
  }
  for (auto& w : workers) w.join();
  ASSERT_TRUE(got.wait_for(threads * per_thread));
  sink->flush();
  EXPECT_EQ(got.size(), static_cast<std::size_t>(threads * per_thread));
}

// INFO is written as nats-server writes it (Go's json.Marshal): for
// server_name: "a<b&c>d<TAB>e" nats-server 2.9.10 sends exactly these bytes.
TEST(embedding_start, info_strings_are_escaped_as_nats_server_escapes_them) {
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.server_name = "a<b&c>d\te";
  server named(options);
  named.start();
  asio::io_context context;
  asio::ip::tcp::socket socket(context);
  socket.connect({asio::ip::make_address("127.0.0.1"), named.port()});
  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n");
  std::string line;
  std::istream in(&buffer);
  std::getline(in, line);
  EXPECT_NE(line.find(R"("server_name":"a\u003cb\u0026c\u003ed\te")"), std::string::npos) << line;
  named.shutdown();
}

// What the executable relies on to start its message services before any
// client can reach them: with accepting::later the port is bound and a
// client's connect completes, but it gets no INFO until accept_clients(),
// and by then an in-process responder subscribed meanwhile answers it.
TEST(embedding_start, accepting_later_holds_clients_until_accept_clients) {
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  server held(options);
  held.start(server::accepting::later);
  ASSERT_GT(held.port(), 0);

  asio::io_context context;
  asio::ip::tcp::socket socket(context);
  socket.connect({asio::ip::make_address("127.0.0.1"), held.port()});
  pollfd waiting{socket.native_handle(), POLLIN, 0};
  EXPECT_EQ(::poll(&waiting, 1, 300), 0) << "INFO arrived before accept_clients()";

  auto service = held.connect();
  service->subscribe("svc.echo", [&service](const message& m) { service->publish(m.reply, std::string("re:").append(m.payload)); });
  held.accept_clients();
  held.accept_clients();  // a second call changes nothing

  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n");
  std::string line;
  std::istream in(&buffer);
  std::getline(in, line);
  EXPECT_EQ(line.rfind("INFO {", 0), 0u) << line;
  const std::string session = "CONNECT {\"verbose\":false}\r\nSUB _r 1\r\nPUB svc.echo _r 2\r\nhi\r\n";
  asio::write(socket, asio::buffer(session));
  asio::read_until(socket, buffer, "re:hi\r\n");
  std::string rest((std::istreambuf_iterator<char>(&buffer)), std::istreambuf_iterator<char>());
  // The server's first keepalive PING may come first on a slow machine.
  for (std::size_t at; (at = rest.find("PING\r\n")) != std::string::npos;) rest.erase(at, 6);
  EXPECT_EQ(rest, "MSG _r 1 5\r\nre:hi\r\n");
  held.shutdown();
}

}  // namespace
}  // namespace courier::broker
