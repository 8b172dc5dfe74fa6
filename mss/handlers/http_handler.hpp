// HTTP handler for SMS gateways and webhooks: URL, header and body
// templates filled from the message, optional HMAC-SHA256 signature of the
// final body (mss/peers/webhook). One run sends one request; the
// dispatcher retries failed runs (408, 429, 5xx and transport errors are
// worth another try, other 4xx are final). Without a body template the raw
// payload is sent as is (the usual webhook).
//
// Escaping: values in the URL are percent-encoded, values in header
// templates refuse CR/LF, and values in the body are JSON-string escaped
// unless `body_escape` says otherwise.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "mss/common/template.hpp"
#include "mss/handlers/handler.hpp"
#include "mss/peers/webhook.hpp"

namespace courier::mss {

/// Settings of an HTTP handler.
struct http_handler_config {
  webhook_target target;   ///< url (a template here), method, content type, signing, timeout (its retry is unused)
  std::vector<std::pair<std::string, std::string>> header_templates;  ///< header name -> value template
  std::optional<std::string> body;  ///< body template; nullopt = send the raw payload
  template_escape body_escape = template_escape::json;  ///< how values go into the body
  missing_field missing = missing_field::error;         ///< policy for absent fields
};

/// Calls an HTTP endpoint per message.
class http_handler : public handler {
 public:
  /// Parses the templates; throws std::invalid_argument when one is bad.
  /// `type_name` is reported by type() ("http", "sms" or "webhook").
  http_handler(std::string name, std::string type_name, boost::asio::any_io_executor executor,
               http_handler_config config);
  std::string_view type() const override { return type_; }
  void run(std::shared_ptr<const handler_input> input, handler_done done) override;

  /// Builds the target (rendered URL and headers) and body for `input`.
  bool render(const handler_input& input, webhook_target& target, std::string& body, std::string& error) const;

 private:
  std::string type_;
  boost::asio::any_io_executor executor_;
  http_handler_config config_;
  text_template url_;
  std::vector<std::pair<std::string, text_template>> headers_;
  std::optional<text_template> body_;
};

}  // namespace courier::mss
