// Audit handler: appends the message to the durable audit log; the run
// completes only after the record is fsynced (so a reply sent on completion
// means "durably recorded"). Also the log-only handler used by the default
// configuration.
#pragma once

#include <memory>

#include "mss/audit/audit_log.hpp"
#include "mss/handlers/handler.hpp"

namespace courier::mss {

/// Records messages in an audit_log (shared: several handlers may use one file).
class audit_handler : public handler {
 public:
  /// `log` is null only in a handler built for a configuration check, which
  /// never runs (handler_build_options::open_audit_logs).
  audit_handler(std::string name, std::shared_ptr<audit_log> log) : handler(std::move(name)), log_(std::move(log)) {}
  std::string_view type() const override { return "audit"; }
  void run(std::shared_ptr<const handler_input> input, handler_done done) override;

 private:
  std::shared_ptr<audit_log> log_;
};

/// Where the log handler writes its lines.
using log_sink = std::function<void(const std::string& line)>;

/// Writes one line per message (subject, correlationId, payload snippet) to
/// a sink: the handler the default config uses so that the message
/// services run with no SMTP or HTTP server.
class log_handler : public handler {
 public:
  /// `sink` empty = standard error.
  log_handler(std::string name, log_sink sink = {});
  std::string_view type() const override { return "log"; }
  void run(std::shared_ptr<const handler_input> input, handler_done done) override;

  /// Longest payload snippet written (bytes); the rest is elided.
  static constexpr std::size_t max_snippet = 512;

 private:
  log_sink sink_;
};

}  // namespace courier::mss
