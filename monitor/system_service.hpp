// The system account's services, as nats-server 2.9.10 runs them with its
// internal system client: the $SYS.REQ.SERVER.PING / $SYS.REQ.SERVER.<id>
// / $SYS.REQ.ACCOUNT.<acc> request subjects answered with the monitoring
// documents (monitor/endpoints), and the $SYS.ACCOUNT.<acc>.CONNECT /
// DISCONNECT / SERVER.CONNS advisories.
//
// Only the system account sees these subjects (accounts are separate
// subject spaces), except what nats-server imports into every other
// account: $SYS.REQ.SERVER.PING.CONNZ, $SYS.REQ.ACCOUNT.PING.CONNZ and
// $SYS.REQ.ACCOUNT.PING.STATZ, answered there for that account alone.
//
// Threads: the subscriptions' callbacks and the connection observer run on
// the broker's loops and only queue work; one worker thread of this service
// builds every document and publishes it, so the loops never wait for it.
#pragma once

#include <memory>

namespace courier::broker {
class server;
}

namespace courier::monitor {

struct listener_facts;
class request_counts;

class system_service {
 public:
  /// `listener` and `requests` (for /varz) must outlive the service.
  system_service(broker::server& server, const listener_facts& listener, const request_counts& requests);
  ~system_service();
  system_service(const system_service&) = delete;
  system_service& operator=(const system_service&) = delete;

  /// Subscribes the internal clients and starts watching connections. Call
  /// once, after the server started; does nothing when the server has no
  /// system account.
  void start();
  /// Stops watching, closes the internal clients, joins the worker. Idempotent.
  void stop();

 private:
  struct core;
  std::shared_ptr<core> core_;
};

}  // namespace courier::monitor
