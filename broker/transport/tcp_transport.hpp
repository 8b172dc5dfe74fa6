// Plain TCP: nothing to negotiate, and writes may come from any thread.
#pragma once

#include "broker/transport/transport.hpp"

namespace courier::broker {

/// A plain TCP connection.
class tcp_transport final : public transport {
 public:
  using transport::transport;

  /// Greeting first, then ready.
  open_step advance_open(const error_code& wait_error) override;
  std::optional<open_step> check_open_deadline(clock::time_point) override { return std::nullopt; }
  std::size_t read_some(char* buffer, std::size_t size, error_code& ec) override {
    return read_plain(buffer, size, ec);
  }
  std::size_t write_some(const char* data, std::size_t size, error_code& ec) override {
    return write_plain(data, size, ec);
  }
  std::size_t write_some_gathered(const iovec* pieces, std::size_t count, error_code& ec) override {
    return write_plain_gathered(pieces, count, ec);
  }
  bool thread_free_writes() const override { return true; }
  bool short_read_drains() const override { return true; }
  bool can_write_at_close() const override { return true; }
  bool set_read_low_water(int bytes) override { return set_read_low_water_plain(bytes); }

 private:
  bool greeted_ = false;  // loop thread
};

}  // namespace courier::broker
