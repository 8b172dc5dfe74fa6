// The error auth/ throws for a configuration nats-server would refuse.
#pragma once

#include <stdexcept>
#include <string>

namespace courier::auth {

/// A bad authorization, accounts or tls block. what() is the message to
/// print before exiting; where nats-server has a message for the same
/// mistake, it is nats-server's text.
class config_error : public std::runtime_error {
 public:
  explicit config_error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace courier::auth
