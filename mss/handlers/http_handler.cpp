#include "mss/handlers/http_handler.hpp"

#include <stdexcept>

namespace courier::mss {

http_handler::http_handler(std::string name, std::string type_name, boost::asio::any_io_executor executor,
                           http_handler_config config)
    : handler(std::move(name)), type_(std::move(type_name)), executor_(std::move(executor)), config_(std::move(config)) {
  std::string error;
  if (!url_.parse(config_.target.url, error)) throw std::invalid_argument("url template: " + error);
  for (const auto& [header, value] : config_.header_templates) {
    text_template t;
    if (!t.parse(value, error)) throw std::invalid_argument("header '" + header + "' template: " + error);
    headers_.emplace_back(header, std::move(t));
  }
  if (config_.body) {
    text_template t;
    if (!t.parse(*config_.body, error)) throw std::invalid_argument("body template: " + error);
    body_ = std::move(t);
  }
}

bool http_handler::render(const handler_input& input, webhook_target& target, std::string& body,
                          std::string& error) const {
  target = config_.target;
  const picojson::value& message = input.message.message;
  bool uses_fields = !url_.is_literal() || (body_ && !body_->is_literal());
  for (const auto& [unused, value] : headers_) uses_fields = uses_fields || !value.is_literal();
  if (uses_fields && !input.message.is_json) {
    error = "the message is not JSON (" + input.message.parse_error + ") but the templates need its fields";
    return false;
  }
  render_options url_options;
  url_options.escape = template_escape::url;
  url_options.missing = config_.missing;
  auto url = url_.render(message, url_options);
  if (!url.ok) {
    error = "url: " + url.error;
    return false;
  }
  target.url = std::move(url.text);
  render_options header_options;
  header_options.escape = template_escape::header;
  header_options.missing = config_.missing;
  for (const auto& [header, value] : headers_) {
    auto rendered = value.render(message, header_options);
    if (!rendered.ok) {
      error = "header '" + header + "': " + rendered.error;
      return false;
    }
    target.headers.emplace_back(header, std::move(rendered.text));
  }
  if (body_) {
    render_options body_options;
    body_options.escape = config_.body_escape;
    body_options.missing = config_.missing;
    auto rendered = body_->render(message, body_options);
    if (!rendered.ok) {
      error = "body: " + rendered.error;
      return false;
    }
    body = std::move(rendered.text);
  } else {
    body = input.payload;
  }
  return true;
}

void http_handler::run(std::shared_ptr<const handler_input> input, handler_done done) {
  webhook_target target;
  std::string body;
  std::string error;
  if (!render(*input, target, body, error)) {
    handler_result refused{false, type_ + " handler '" + name() + "': " + error, {}, false};
    refused.tried = false;
    done(std::move(refused));
    return;
  }
  // One request per run: the dispatcher owns retrying (mss/handlers/handler.hpp).
  target.retry.max_attempts = 1;
  async_send_webhook(executor_, target, std::move(body),
                     [done = std::move(done), label = type_ + " handler '" + name() + "'"](webhook_result r) {
                       handler_result result;
                       result.ok = r.ok;
                       result.details["status"] = picojson::value(static_cast<std::int64_t>(r.last.status));
                       if (!r.ok) {
                         result.error = label + ": " + r.error;
                         result.retryable = webhook_should_retry(r.last);
                       }
                       done(std::move(result));
                     });
}

}  // namespace courier::mss
