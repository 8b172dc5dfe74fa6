#include "mss/service/metrics.hpp"

#include <vector>

#include "broker/prometheus_text.hpp"
#include "mss/handlers/handler_metrics.hpp"
#include "mss/notify/gateway.hpp"
#include "mss/service/service.hpp"

namespace courier::mss {
namespace {

using broker::prometheus::family;
using broker::prometheus::label;
using broker::prometheus::metric_type;
using broker::prometheus::sample;

void write_dispatcher(std::string& out, const service& s) {
  const dispatcher_stats stats = s.stats();
  const struct {
    const char* name;
    const char* help;
    std::uint64_t value;
  } counters[] = {
      {"courier_mss_messages_received_total", "Messages the message service received.", stats.received},
      {"courier_mss_messages_expired_total", "Actions and events not run: their timestamp + timeout had passed.",
       stats.expired},
      {"courier_mss_messages_duplicate_total",
       "Actions answered from the idempotency cache (a repeated Nats-Msg-Id or correlationId).", stats.duplicates},
      {"courier_mss_messages_unrouted_total", "Messages no rule routed to a handler.", stats.unrouted},
  };
  for (const auto& c : counters) {
    family(out, c.name, metric_type::counter, c.help);
    sample(out, c.name, {{"service", s.prefix()}}, c.value);
  }
  family(out, "courier_mss_replies_pending", metric_type::gauge, "Requests being handled, their reply not sent yet.");
  sample(out, "courier_mss_replies_pending", {{"service", s.prefix()}},
         static_cast<std::uint64_t>(s.pending_replies()));
}

void write_handlers(std::string& out, const service& s) {
  struct row {
    std::string name;
    std::string type;
    handler_counts counts;
    std::uint64_t in_flight;
  };
  std::vector<row> rows;
  for (const auto& [name, h] : s.handlers().by_name) rows.push_back({name, std::string(h->type()), h->metrics().snapshot(), h->in_flight()});
  const auto labels = [&](const row& r) {
    return std::vector<label>{{"service", s.prefix()}, {"handler", r.name}, {"type", r.type}};
  };
  const struct {
    const char* name;
    const char* help;
    std::uint64_t handler_counts::*field;
  } counters[] = {
      {"courier_mss_handler_messages_total", "Messages given to the handler (once each, however many attempts).",
       &handler_counts::messages},
      {"courier_mss_handler_attempts_total", "Handler runs started, retries included.", &handler_counts::attempts},
      {"courier_mss_handler_sent_total",
       "Messages the handler completed: mail accepted, HTTP 2xx, audit record durable, line logged.",
       &handler_counts::succeeded},
      {"courier_mss_handler_failed_total", "Messages whose last handler run failed (retries used up or not retryable).",
       &handler_counts::failed},
      {"courier_mss_handler_retries_total",
       "Runs after the first (each run is one SMTP transaction or HTTP request).",
       &handler_counts::retries},
      {"courier_mss_handler_dead_letters_total", "Failed event and audit messages published to the dead letter subject.",
       &handler_counts::dead_letters},
      {"courier_mss_handler_busy_total",
       "Messages refused at once because the handler had max_in_flight messages in flight.",
       &handler_counts::busy},
  };
  for (const auto& c : counters) {
    family(out, c.name, metric_type::counter, c.help);
    for (const auto& r : rows) sample(out, c.name, labels(r), r.counts.*c.field);
  }
  family(out, "courier_mss_handler_in_flight", metric_type::gauge,
         "Messages the handler is working on now (first run to last retry).");
  for (const auto& r : rows) sample(out, "courier_mss_handler_in_flight", labels(r), r.in_flight);
  family(out, "courier_mss_handler_duration_seconds", metric_type::histogram,
         "Time of one handler run (one SMTP or HTTP exchange, an audit write and fsync).");
  const std::vector<double> bounds(handler_duration_bounds.begin(), handler_duration_bounds.end());
  for (const auto& r : rows)
    broker::prometheus::histogram(out, "courier_mss_handler_duration_seconds", labels(r), bounds,
                                  r.counts.duration_buckets, r.counts.duration_sum_seconds);
}

void write_audit_logs(std::string& out, const service& s) {
  const auto& logs = s.handlers().audit_logs;
  std::vector<audit_log_stats> stats;
  for (const auto& log : logs) stats.push_back(log->stats());
  const struct {
    const char* name;
    metric_type type;
    const char* help;
    std::uint64_t audit_log_stats::*field;
  } families[] = {
      {"courier_mss_audit_log_bytes", metric_type::gauge, "Size of the live audit log file.",
       &audit_log_stats::file_bytes},
      {"courier_mss_audit_log_records_total", metric_type::counter, "Audit records written and synced.",
       &audit_log_stats::records},
      {"courier_mss_audit_log_failures_total", metric_type::counter, "Audit records whose write or sync failed.",
       &audit_log_stats::failures},
      {"courier_mss_audit_log_rotations_total", metric_type::counter, "Audit log files rotated.",
       &audit_log_stats::rotations},
      {"courier_mss_audit_log_rotation_failures_total", metric_type::counter,
       "Rotations that could not be made; the records went to the live file, past max_bytes.",
       &audit_log_stats::rotation_failures},
  };
  for (const auto& f : families) {
    family(out, f.name, f.type, f.help);
    for (std::size_t i = 0; i < logs.size(); ++i)
      sample(out, f.name, {{"service", s.prefix()}, {"file", logs[i]->path()}}, stats[i].*f.field);
  }
}

}  // namespace

void write_metrics(std::string& out, const service& s) {
  write_dispatcher(out, s);
  write_handlers(out, s);
  write_audit_logs(out, s);
}

void write_metrics(std::string& out, const notify::gateway& g) {
  const notify::gateway_stats stats = g.stats();
  const std::string listener = g.listener();
  const struct {
    const char* name;
    metric_type type;
    const char* help;
    std::uint64_t value;
  } families[] = {
      {"courier_mss_notification_sessions", metric_type::gauge, "Notification gateway sessions open now.",
       stats.sessions},
      {"courier_mss_notification_sessions_total", metric_type::counter,
       "Notification gateway sessions opened (upgraded) since start.", stats.sessions_total},
      {"courier_mss_notifications_received_total", metric_type::counter, "Notifications received and stored.",
       stats.notifications},
      {"courier_mss_notifications_rejected_total", metric_type::counter,
       "Messages on the notification subjects that were not notifications.", stats.rejected},
      {"courier_mss_notification_pushes_total", metric_type::counter, "Notifications pushed to sessions.",
       stats.pushes},
      {"courier_mss_notification_requests_total", metric_type::counter,
       "Requests sessions sent (errors included).", stats.requests},
  };
  for (const auto& f : families) {
    family(out, f.name, f.type, f.help);
    sample(out, f.name, {{"listener", listener}}, f.value);
  }
}

}  // namespace courier::mss
