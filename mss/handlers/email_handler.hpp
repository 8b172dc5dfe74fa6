// Email handler: fills From/To/Subject/Body templates from the message's
// JSON fields and sends the mail with the SMTP client. Header fields are
// rendered in header mode, so a CR/LF from the payload fails the run with a
// clear error instead of reaching the SMTP session.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <vector>

#include "mss/common/template.hpp"
#include "mss/handlers/handler.hpp"
#include "mss/peers/smtp_client.hpp"

namespace courier::mss {

/// Templates and server of an email handler.
struct email_handler_config {
  smtp_options smtp;                ///< where to send
  std::string from;                 ///< From address template
  std::string from_name;            ///< display name template (optional)
  std::vector<std::string> to;      ///< recipient templates (one address each)
  std::string subject;              ///< Subject template
  std::string body;                 ///< body template
  missing_field missing = missing_field::error;  ///< policy for absent fields
};

/// Sends one email per message.
class email_handler : public handler {
 public:
  /// Parses the templates; throws std::invalid_argument on a bad template
  /// (configuration time).
  email_handler(std::string name, boost::asio::any_io_executor executor, email_handler_config config);
  std::string_view type() const override { return "email"; }
  void run(std::shared_ptr<const handler_input> input, handler_done done) override;

  /// Renders the mail for `message` without sending it (for tests and
  /// dry runs). Returns false and sets `error` on a template failure.
  bool render(const picojson::value& message, mail_message& mail, std::string& error) const;

 private:
  boost::asio::any_io_executor executor_;
  email_handler_config config_;
  text_template from_, from_name_, subject_, body_;
  std::vector<text_template> to_;
};

}  // namespace courier::mss
