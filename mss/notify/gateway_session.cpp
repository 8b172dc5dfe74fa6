#include "mss/notify/gateway_session.hpp"

#include <deque>
#include <optional>
#include <type_traits>

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace courier::mss::notify {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// The request target's path, without the query.
std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

/// A session over `Next` (plain_stream or tls_stream).
template <class Next>
class ws_session final : public session_base {
 public:
  template <class... Args>
  ws_session(const session_limits& limits, std::shared_ptr<session_host> host, asio::ip::tcp::socket socket,
             Args&&... tls_context)
      : limits_(limits),
        host_(std::move(host)),
        close_timer_(socket.get_executor()),
        ws_(std::move(socket), std::forward<Args>(tls_context)...) {}

  void run() {
    boost::system::error_code ec;
    const auto endpoint = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    beast::get_lowest_layer(ws_).expires_after(limits_.handshake_timeout);
    if constexpr (std::is_same_v<Next, tls_stream>) {
      ws_.next_layer().async_handshake(asio::ssl::stream_base::server,
                                       [self = shared()](boost::system::error_code error) {
                                         if (error) return self->finish();
                                         self->do_read_request();
                                       });
    } else {
      do_read_request();
    }
  }

  void send(std::string frame) override {
    if (closing_ || finished_) return;
    pending_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    if (pending_bytes_ > limits_.max_pending) {
      close(static_cast<int>(websocket::close_code::policy_error), "slow consumer");
      return;
    }
    if (!writing_) do_write();
  }

  void close(int code, std::string reason) override {
    if (closing_ || finished_) return;
    closing_ = true;
    // Keep only the frame being written (its buffer is in use).
    while (queue_.size() > (writing_ ? 1u : 0u)) {
      pending_bytes_ -= queue_.back().size();
      queue_.pop_back();
    }
    close_code_ = code;
    close_reason_ = std::move(reason);
    // A peer that reads nothing never lets the write (or the close
    // handshake) finish: drop it after the handshake timeout.
    close_timer_.expires_after(limits_.handshake_timeout);
    close_timer_.async_wait([self = shared()](boost::system::error_code error) {
      if (!error && !self->finished_) beast::get_lowest_layer(self->ws_).close();
    });
    if (!opened_) {
      beast::get_lowest_layer(ws_).close();
      return;
    }
    if (!writing_) do_close();
  }

 private:
  std::shared_ptr<ws_session> shared() { return std::static_pointer_cast<ws_session>(shared_from_this()); }

  void do_read_request() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(0);
    http::async_read(ws_.next_layer(), buffer_, *parser_,
                     [self = shared()](boost::system::error_code error, std::size_t) { self->on_request(error); });
  }

  void on_request(boost::system::error_code error) {
    if (error) return finish();
    const auto& request = parser_->get();
    const auto forwarded = request.find("X-Forwarded-For");
    if (forwarded != request.end()) {
      std::string_view first(forwarded->value().data(), forwarded->value().size());
      first = first.substr(0, first.find(','));
      while (!first.empty() && first.front() == ' ') first.remove_prefix(1);
      while (!first.empty() && first.back() == ' ') first.remove_suffix(1);
      if (!first.empty()) remote = std::string(first);
    }
    if (request.method() != http::verb::get) return refuse(http::status::method_not_allowed, "request method must be GET");
    const std::string_view target(request.target().data(), request.target().size());
    if (target_path(target) != limits_.path) return refuse(http::status::not_found, "no such path");
    if (!websocket::is_upgrade(request)) return refuse(http::status::bad_request, "not a WebSocket upgrade");
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = limits_.handshake_timeout;
    timeout.idle_timeout = std::chrono::seconds(60);  // a ping after 30 s of silence, closed after 60
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.read_message_max(limits_.max_message);
    ws_.auto_fragment(false);
    ws_.text(true);
    ws_.async_accept(parser_->release(), [self = shared()](boost::system::error_code e) { self->on_accept(e); });
  }

  void refuse(http::status status, const std::string& text) {
    auto response = std::make_shared<http::response<http::string_body>>(status, parser_->get().version());
    response->set(http::field::content_type, "text/plain");
    response->keep_alive(false);
    response->body() = text + "\n";
    response->prepare_payload();
    http::async_write(ws_.next_layer(), *response,
                      [self = shared(), response](boost::system::error_code, std::size_t) {
                        beast::get_lowest_layer(self->ws_).close();
                        self->finish();
                      });
  }

  void on_accept(boost::system::error_code error) {
    if (error) return finish();
    opened_ = true;
    host_->on_open(*this);
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared()](boost::system::error_code error, std::size_t) { self->on_read(error); });
  }

  void on_read(boost::system::error_code error) {
    if (error) return finish();
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (!closing_) host_->on_frame(*this, std::move(text));
    do_read();
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = shared()](boost::system::error_code error, std::size_t) { self->on_write(error); });
  }

  void on_write(boost::system::error_code error) {
    writing_ = false;
    pending_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (error) {
      beast::get_lowest_layer(ws_).close();  // the read fails and finishes
      return;
    }
    if (closing_) return do_close();
    if (!queue_.empty()) do_write();
  }

  void do_close() {
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                    [self = shared()](boost::system::error_code) { beast::get_lowest_layer(self->ws_).close(); });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close_timer_.cancel();
    host_->on_close(*this, opened_);
  }

  session_limits limits_;
  std::shared_ptr<session_host> host_;
  asio::steady_timer close_timer_;
  websocket::stream<Next> ws_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::deque<std::string> queue_;
  std::size_t pending_bytes_ = 0;
  bool writing_ = false;
  bool opened_ = false;
  bool closing_ = false;
  bool finished_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
};

}  // namespace

void start_session(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
                   const session_limits& limits, std::shared_ptr<session_host> host) {
  if (tls) {
    auto session = std::make_shared<ws_session<tls_stream>>(limits, std::move(host), std::move(socket), *tls);
    session->run();
  } else {
    auto session = std::make_shared<ws_session<plain_stream>>(limits, std::move(host), std::move(socket));
    session->run();
  }
}

}  // namespace courier::mss::notify
