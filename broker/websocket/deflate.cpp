#include "broker/websocket/deflate.hpp"

namespace courier::broker::websocket {

namespace zlib = boost::beast::zlib;

namespace {
/// The empty stored block a sync flush ends with (RFC 7692 section 7.2.1).
constexpr std::string_view flush_marker{"\x00\x00\xff\xff", 4};
/// nats-server compresses with Go's flate.BestSpeed.
constexpr int best_speed = 1;
}  // namespace

message_deflater::message_deflater() { stream_.reset(best_speed, 15, 8, zlib::Strategy::normal); }

bool message_deflater::compress(std::string_view in, std::string& out) {
  stream_.reset();  // no context takeover: every message stands alone
  out.resize(in.size() + in.size() / 8 + 64);
  zlib::z_params zs;
  zs.next_in = in.data();
  zs.avail_in = in.size();
  zs.next_out = out.data();
  zs.avail_out = out.size();
  for (;;) {
    boost::system::error_code ec;
    stream_.write(zs, zlib::Flush::sync, ec);
    if (ec && ec != zlib::error::need_buffers) return false;
    // A sync flush is complete once it returns with room left in the output.
    if (zs.avail_in == 0 && zs.avail_out > 0) break;
    const std::size_t used = zs.total_out;
    out.resize(out.size() * 2);
    zs.next_out = out.data() + used;
    zs.avail_out = out.size() - used;
  }
  out.resize(zs.total_out);
  if (out.size() >= flush_marker.size() && std::string_view(out).substr(out.size() - 4) == flush_marker) {
    out.resize(out.size() - 4);
  }
  return true;
}

bool message_inflater::inflate(std::string& message, std::string& out, std::size_t limit) {
  stream_.reset(15);  // no context takeover
  message.append(flush_marker);
  const std::size_t start = out.size();
  out.resize(start + message.size() * 4 + 256);
  zlib::z_params zs;
  zs.next_in = message.data();
  zs.avail_in = message.size();
  zs.next_out = out.data() + start;
  zs.avail_out = out.size() - start;
  for (;;) {
    boost::system::error_code ec;
    stream_.write(zs, zlib::Flush::sync, ec);
    if (ec == zlib::error::end_of_stream) break;
    if (ec && ec != zlib::error::need_buffers) return false;
    if (zs.avail_in == 0 && zs.avail_out > 0) break;
    if (zs.total_out > limit) return false;
    const std::size_t used = start + zs.total_out;
    out.resize(out.size() * 2);
    zs.next_out = out.data() + used;
    zs.avail_out = out.size() - used;
  }
  out.resize(start + zs.total_out);
  return zs.total_out <= limit;
}

}  // namespace courier::broker::websocket
