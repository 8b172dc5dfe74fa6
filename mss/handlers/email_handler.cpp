#include "mss/handlers/email_handler.hpp"

#include <stdexcept>

namespace courier::mss {
namespace {

text_template compile(const std::string& source, const std::string& what) {
  text_template t;
  std::string error;
  if (!t.parse(source, error)) throw std::invalid_argument(what + " template: " + error);
  return t;
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

email_handler::email_handler(std::string name, boost::asio::any_io_executor executor, email_handler_config config)
    : handler(std::move(name)), executor_(std::move(executor)), config_(std::move(config)) {
  if (config_.to.empty()) throw std::invalid_argument("email handler '" + this->name() + "' has no 'to'");
  from_ = compile(config_.from, "from");
  from_name_ = compile(config_.from_name, "from_name");
  subject_ = compile(config_.subject, "subject");
  body_ = compile(config_.body, "body");
  for (const auto& to : config_.to) to_.push_back(compile(to, "to"));
}

bool email_handler::render(const picojson::value& message, mail_message& mail, std::string& error) const {
  render_options header;
  header.escape = template_escape::header;
  header.missing = config_.missing;
  render_options text;
  text.missing = config_.missing;
  const auto field = [&](const text_template& t, const render_options& o, const char* what, std::string& out) {
    auto r = t.render(message, o);
    if (!r.ok) {
      error = std::string(what) + ": " + r.error;
      return false;
    }
    out = std::move(r.text);
    return true;
  };
  mail = {};
  // Recipients first: a missing address is the most telling error.
  for (const auto& t : to_) {
    std::string address;
    if (!field(t, header, "to", address)) return false;
    address = trim(address);
    if (!address.empty()) mail.to.push_back(std::move(address));
  }
  if (!field(from_, header, "from", mail.from) || !field(from_name_, header, "from_name", mail.from_name) ||
      !field(subject_, header, "subject", mail.subject) || !field(body_, text, "body", mail.body))
    return false;
  mail.from = trim(mail.from);
  if (std::string why = validate_mail(mail); !why.empty()) {
    error = why;
    return false;
  }
  return true;
}

void email_handler::run(std::shared_ptr<const handler_input> input, handler_done done) {
  mail_message mail;
  std::string error;
  const bool object = input->message.is_json && input->message.message.is<picojson::object>();
  if (!object) error = "needs a JSON object message";
  if (!object || !render(input->message.message, mail, error)) {
    handler_result refused{false, "email handler '" + name() + "': " + error, {}, false};
    refused.tried = false;  // nothing reached the SMTP server
    done(std::move(refused));
    return;
  }
  async_send_mail(executor_, config_.smtp, std::move(mail), [done = std::move(done), name = name()](smtp_result r) {
    handler_result result;
    result.ok = r.ok();
    result.details["smtp_code"] = picojson::value(static_cast<std::int64_t>(r.reply_code));
    if (!r.ok()) {
      // A permanent (5xx) refusal or a locally refused message will fail
      // the same way again.
      result.retryable = r.error != smtp_error::invalid_message && !(r.reply_code >= 500 && r.reply_code < 600);
      result.details["smtp_error"] = picojson::value(std::string(to_string(r.error)));
      result.error = "email handler '" + name + "': " + r.message;
    }
    done(std::move(result));
  });
}

}  // namespace courier::mss
