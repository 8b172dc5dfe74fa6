// Helpers shared by the router tests.
#pragma once

#include <memory>
#include <string>

#include "broker/subscription.hpp"

namespace courier::broker::test {

/// A subscription as a session would make one, without a subscriber.
inline std::shared_ptr<subscription> make_sub(std::string subject, std::string queue = {}) {
  auto sub = std::make_shared<subscription>();
  sub->subject = std::move(subject);
  sub->queue = std::move(queue);
  return sub;
}

}  // namespace courier::broker::test
