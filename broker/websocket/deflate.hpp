// permessage-deflate (RFC 7692) as nats-server negotiates it: no context
// takeover either way, so every message is compressed and inflated on its
// own. Uses Beast's raw deflate streams.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>

namespace courier::broker::websocket {

/// Compresses outbound messages.
class message_deflater {
 public:
  message_deflater();
  /// Replaces `out` with `in` compressed as one message: a sync flush with
  /// its empty-block marker (00 00 ff ff) removed. False on a zlib error.
  bool compress(std::string_view in, std::string& out);

 private:
  boost::beast::zlib::deflate_stream stream_;
};

/// Inflates inbound messages.
class message_inflater {
 public:
  /// Appends the inflated `message` (its marker added back) to `out`. False
  /// when the data is not valid deflate or would inflate past `limit` bytes.
  bool inflate(std::string& message, std::string& out, std::size_t limit);

 private:
  boost::beast::zlib::inflate_stream stream_;
};

}  // namespace courier::broker::websocket
