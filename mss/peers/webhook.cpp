#include "mss/peers/webhook.hpp"

namespace courier::mss {

bool webhook_should_retry(const http_result& result) {
  if (!result.ok()) return result.error != http_error::invalid_request;
  return result.status == 408 || result.status == 429 || result.status >= 500;
}

void async_send_webhook(boost::asio::any_io_executor executor, const webhook_target& target, std::string body,
                        std::function<void(webhook_result)> done) {
  http_request request;
  request.method = target.method;
  request.url = target.url;
  request.headers = target.headers;
  if (!target.content_type.empty()) request.headers.emplace_back("Content-Type", target.content_type);
  if (!target.signing.key.empty()) request.headers.push_back(sign_body(target.signing, body));
  request.body = std::move(body);
  const http_options options = target.http;
  async_retry<http_result>(
      executor, target.retry,
      [executor, request, options](unsigned, std::function<void(http_result)> complete) {
        async_http_request(executor, request, options, std::move(complete));
      },
      webhook_should_retry,
      [done = std::move(done), url = target.url](http_result last, unsigned attempts) {
        webhook_result result;
        result.ok = last.success();
        result.attempts = attempts;
        if (!result.ok) {
          result.error = last.ok() ? "webhook " + url + " answered HTTP " + std::to_string(last.status)
                                   : "webhook " + url + ": " + last.message;
          result.error += " (after " + std::to_string(attempts) + (attempts == 1 ? " attempt)" : " attempts)");
        }
        result.last = std::move(last);
        done(std::move(result));
      });
}

}  // namespace courier::mss
