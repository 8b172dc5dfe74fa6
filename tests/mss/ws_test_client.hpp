// A WebSocket client for the notification gateway's tests (Beast,
// synchronous): JSON requests and frames, pushes kept apart from
// responses, and how the server closed. Every read gives up after 20 s
// (SO_RCVTIMEO) with a test failure instead of hanging.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <deque>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

namespace courier::mss::test {

class ws_test_client {
 public:
  ws_test_client(std::uint16_t port, const std::string& path) : ws_(io_) {
    boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), port);
    boost::system::error_code error;
    ws_.next_layer().connect(endpoint, error);
    if (error) {
      ADD_FAILURE() << "connect to " << port << ": " << error.message();
      return;
    }
    timeval timeout{20, 0};
    ::setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ws_.handshake("127.0.0.1:" + std::to_string(port), path, error);
    if (error) {
      ADD_FAILURE() << "upgrade: " << error.message();
      return;
    }
    open_ = true;
  }

  bool open() const { return open_; }

  /// Sends a text frame.
  void send_text(const std::string& text) {
    boost::system::error_code error;
    ws_.text(true);
    ws_.write(boost::asio::buffer(text), error);
    EXPECT_FALSE(error) << error.message();
  }

  /// Sends {"rid", "command", "options"} and returns the response with that rid.
  picojson::object request(std::int64_t rid, const std::string& command, picojson::object options = {}) {
    picojson::object frame;
    frame["rid"] = picojson::value(rid);
    frame["command"] = picojson::value(command);
    frame["options"] = picojson::value(options);
    send_text(picojson::value(frame).serialize());
    return response(rid);
  }

  /// The next frame with `rid` (pushes read on the way are kept).
  picojson::object response(std::int64_t rid) {
    for (;;) {
      auto frame = read_frame();
      if (!frame) return {};
      if (rid >= 0 && integer(*frame, "rid") == -1 && (*frame)["status"].to_str() == "ok") {
        pushes_.push_back(*frame);
        continue;
      }
      EXPECT_EQ(integer(*frame, "rid"), rid) << picojson::value(*frame).serialize();
      return *frame;
    }
  }

  /// The next push (rid -1, status ok).
  picojson::object push() {
    if (!pushes_.empty()) {
      auto frame = pushes_.front();
      pushes_.pop_front();
      return frame;
    }
    auto frame = read_frame();
    if (!frame) return {};
    EXPECT_EQ(integer(*frame, "rid"), -1) << picojson::value(*frame).serialize();
    return *frame;
  }

  /// Reads until the connection ends; the close code the server sent (0
  /// when it sent none).
  int wait_closed() {
    for (;;) {
      boost::beast::flat_buffer buffer;
      boost::system::error_code error;
      ws_.read(buffer, error);
      if (error) {
        EXPECT_NE(error, boost::asio::error::would_block) << "the server did not close within 20 s";
        EXPECT_NE(error, boost::asio::error::try_again) << "the server did not close within 20 s";
        return ws_.reason().code;
      }
    }
  }

  static std::int64_t integer(const picojson::object& o, const std::string& key) {
    const auto it = o.find(key);
    return it != o.end() && it->second.is<std::int64_t>() ? it->second.get<std::int64_t>() : -999;
  }

  /// The underlying stream, for frames a well-behaved client would not send.
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket>& stream() { return ws_; }

 private:
  std::optional<picojson::object> read_frame() {
    boost::beast::flat_buffer buffer;
    boost::system::error_code error;
    ws_.read(buffer, error);
    if (error) {
      ADD_FAILURE() << "read: " << error.message();
      return std::nullopt;
    }
    picojson::value value;
    const std::string text = boost::beast::buffers_to_string(buffer.data());
    const std::string parse_error = picojson::parse(value, text);
    if (!parse_error.empty() || !value.is<picojson::object>()) {
      ADD_FAILURE() << "not a JSON object: " << text;
      return std::nullopt;
    }
    return value.get<picojson::object>();
  }

  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  std::deque<picojson::object> pushes_;
  bool open_ = false;
};

}  // namespace courier::mss::test
