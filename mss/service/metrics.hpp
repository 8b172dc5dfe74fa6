// The message services' part of the Prometheus /metrics document: the
// dispatcher's counters, each handler's outcomes and run durations
// (mss/handlers/handler_metrics.hpp) and the audit logs' sizes, labelled
// with the service (its subject prefix), the handler's name and type. The
// runner registers write_metrics with the embedded server's
// metrics_sources while it runs.
//
// Families (counters end in _total):
//   courier_mss_messages_received_total{service}     messages given to the dispatcher
//   courier_mss_messages_expired_total{service}      not run: timestamp + timeout passed
//   courier_mss_messages_duplicate_total{service}    actions answered from the idempotency cache
//   courier_mss_messages_unrouted_total{service}     no rule matched
//   courier_mss_replies_pending{service}             requests handled, reply not sent yet
//   courier_mss_handler_messages_total{service,handler,type}
//   courier_mss_handler_attempts_total{...}
//   courier_mss_handler_sent_total{...}              final run succeeded
//   courier_mss_handler_failed_total{...}            final run failed
//   courier_mss_handler_retries_total{...}
//   courier_mss_handler_dead_letters_total{...}
//   courier_mss_handler_duration_seconds{...}        histogram, one observation per run
//   courier_mss_audit_log_bytes{service,file}        size of the live file
//   courier_mss_audit_log_records_total{service,file}
//   courier_mss_audit_log_failures_total{service,file}
//   courier_mss_audit_log_rotations_total{service,file}
// and, with a notification gateway (mss/notify/gateway):
//   courier_mss_notification_sessions{listener}           open now
//   courier_mss_notification_sessions_total{listener}     opened since start
//   courier_mss_notifications_received_total{listener}    stored and pushed
//   courier_mss_notifications_rejected_total{listener}    not notifications (bad JSON, no type)
//   courier_mss_notification_pushes_total{listener}       frames pushed to sessions
//   courier_mss_notification_requests_total{listener}     requests answered (errors included)
#pragma once

#include <string>

namespace courier::mss {

class service;

/// Appends the families above for `s` to `out`. Thread-safe (reads atomics
/// and the audit logs' counters).
void write_metrics(std::string& out, const service& s);

namespace notify {
class gateway;
}
/// Appends the notification gateway's families for `g`. Thread-safe.
void write_metrics(std::string& out, const notify::gateway& g);

}  // namespace courier::mss
