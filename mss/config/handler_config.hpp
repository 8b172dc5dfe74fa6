// Builds handlers from the `mss` config block (as parsed by conf/):
//
//   mss {
//     smtp { host: 127.0.0.1, port: 2525, tls: starttls, verify: true, ca_file: "/etc/ssl/ca.pem",
//            username: mailer, password: s3cret, auth: plain, helo: courier.example, timeout: "10s" }
//     handlers {
//       log       { type: log }
//       email_user { type: email, from: "alerts@example.com", from_name: "Security",
//                    to: "{{user.email}}", subject: "Login from {{ip}}", body: "Hello {{user.name}}, ..." }
//       sms_user  { type: sms, url: "http://sms.example/send", method: POST,
//                   headers { Authorization: "Bearer xyz" },
//                   body: "{\"to\":\"{{user.phone}}\",\"text\":\"Login from {{ip}}\"}",
//                   timeout: "5s", retry { attempts: 4, initial_delay: "200ms", max_delay: "10s", multiplier: 2 } }
//       hook      { type: webhook, url: "https://hooks.example/courier", secret: "k",
//                   signature_header: "X-Courier-Signature", signature_prefix: "sha256=" }
//       audit     { type: audit, file: "/var/lib/courier/audit.jsonl", max_bytes: 67108864, max_files: 10 }
//     }
//   }
//
// Handler types: email; http, sms and webhook (the same HTTP handler; a
// webhook without `body` sends the raw payload); audit; log. An email
// handler uses its own `smtp` block or the shared one. Durations are
// numbers of milliseconds or Go duration strings ("250ms", "5s"). Missing
// template fields are errors unless `missing: empty`. Unknown keys are
// errors, so typos do not silently disable a handler. Every key, with its
// default: docs/mss-config.md.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <picojson.h>

#include "mss/common/retry.hpp"
#include "mss/handlers/audit_handler.hpp"
#include "mss/handlers/handler.hpp"
#include "mss/peers/smtp_client.hpp"

namespace courier::mss {

/// A mistake in an `mss` block: what is wrong, and which key, so that the
/// caller can put the key's file, line and column in front
/// (conf::config_document::nearest_position of "mss/" + path).
struct config_fault {
  std::string message;  ///< e.g. "mss.handlers.hook: unknown key 'secrett'"
  std::string path;     ///< the key below the block, conf::config_path form ("handlers/hook/secrett"); "" = the block

  /// Sets both; returns false, for `return fault.set(...)`.
  bool set(std::string key_path, std::string text) {
    path = std::move(key_path);
    message = std::move(text);
    return false;
  }
};

/// How build_handlers builds.
struct handler_build_options {
  log_sink sink;                ///< where log handlers write (stderr when empty)
  /// False for a check without side effects (courier -t, a reload being
  /// checked): audit files are not opened or created; their directory must
  /// exist and be writable (and the file, if it exists). The audit handlers
  /// built then have no log and must never run.
  bool open_audit_logs = true;
};

/// The handlers built from a config, by name.
struct handler_set {
  std::map<std::string, std::shared_ptr<handler>> by_name;  ///< every configured handler
  std::vector<std::shared_ptr<audit_log>> audit_logs;       ///< logs opened for audit handlers

  /// The handler called `name`, or nullptr.
  std::shared_ptr<handler> find(const std::string& name) const;
};

/// Reads an `smtp { ... }` block. False with `fault` (its path relative to
/// the block) on a bad value.
bool parse_smtp_options(const picojson::value& block, smtp_options& options, config_fault& fault);

/// Reads a `retry { attempts, initial_delay, max_delay, multiplier }` block
/// over `policy` (keys left out keep its values). False with `fault`
/// (path relative to the block).
bool parse_retry_policy(const picojson::value& block, retry_policy& policy, config_fault& fault);

/// Reads a duration: a number of milliseconds or a Go duration string.
bool parse_millis(const picojson::value& value, std::chrono::milliseconds& out, std::string& error);

/// Builds every handler of the `mss` block `mss` (an object; `handlers` and
/// `smtp` are read from it). Network handlers run on `executor`. Returns
/// false with a fault naming the handler and key on any problem.
bool build_handlers(const picojson::value& mss, boost::asio::any_io_executor executor, handler_set& out,
                    config_fault& fault, const handler_build_options& options = {});

}  // namespace courier::mss
