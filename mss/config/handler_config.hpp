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
// errors, so typos do not silently disable a handler.
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

/// The handlers built from a config, by name.
struct handler_set {
  std::map<std::string, std::shared_ptr<handler>> by_name;  ///< every configured handler
  std::vector<std::shared_ptr<audit_log>> audit_logs;       ///< logs opened for audit handlers

  /// The handler called `name`, or nullptr.
  std::shared_ptr<handler> find(const std::string& name) const;
};

/// Reads an `smtp { ... }` block. False with `error` on a bad value.
bool parse_smtp_options(const picojson::value& block, smtp_options& options, std::string& error);

/// Reads a `retry { attempts, initial_delay, max_delay, multiplier }` block.
bool parse_retry_policy(const picojson::value& block, retry_policy& policy, std::string& error);

/// Reads a duration: a number of milliseconds or a Go duration string.
bool parse_millis(const picojson::value& value, std::chrono::milliseconds& out, std::string& error);

/// Builds every handler of the `mss` block `mss` (an object; `handlers` and
/// `smtp` are read from it). Network handlers run on `executor`; log
/// handlers write to `sink` (stderr when empty). Returns false with an
/// error naming the handler and key on any problem.
bool build_handlers(const picojson::value& mss, boost::asio::any_io_executor executor, handler_set& out,
                    std::string& error, log_sink sink = {});

}  // namespace courier::mss
