#include "broker/transport/tcp_transport.hpp"

#include <cassert>

namespace courier::broker {

open_step tcp_transport::advance_open(const error_code& wait_error) {
  // Nothing here asks for a wait, so no wait can have failed.
  assert(!wait_error);
  (void)wait_error;
  if (!greeted_) {
    greeted_ = true;
    return {open_step::action::send_greeting};
  }
  return {open_step::action::ready};
}

}  // namespace courier::broker
