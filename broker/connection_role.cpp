#include "broker/connection_role.hpp"

#include "broker/connection.hpp"

namespace courier::broker {

void connection_role::flush_deliveries() { connection_.flush(); }

void connection_role::notify_when_drained(std::function<void()> resume) {
  connection_.notify_when_drained(std::move(resume));
}

std::chrono::milliseconds connection_role::stall_timeout() const { return connection_.stall_timeout(); }

}  // namespace courier::broker
