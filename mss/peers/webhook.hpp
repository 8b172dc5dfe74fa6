// Webhook delivery: an HTTP request with a signed body, retried with
// exponential backoff on transport errors and on 408, 429 and 5xx replies.
// Other 4xx replies are permanent failures (retrying cannot help).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "mss/common/retry.hpp"
#include "mss/peers/http_client.hpp"
#include "mss/peers/webhook_signer.hpp"

namespace courier::mss {

/// A configured webhook (or SMS gateway) target.
struct webhook_target {
  std::string url;                                          ///< http(s) URL
  std::string method = "POST";                              ///< HTTP method
  std::vector<std::pair<std::string, std::string>> headers; ///< extra headers
  std::string content_type = "application/json";           ///< Content-Type of the body
  webhook_signing signing;                                  ///< HMAC signing (key empty = off)
  http_options http;                                        ///< timeout and TLS per attempt
  retry_policy retry;                                       ///< attempts and backoff
};

/// Outcome of a delivery, after all attempts.
struct webhook_result {
  bool ok = false;        ///< a 2xx reply was received
  unsigned attempts = 0;  ///< attempts made
  http_result last;       ///< the last attempt's result
  std::string error;      ///< human-readable reason when !ok
};

/// True when a result is worth another attempt.
bool webhook_should_retry(const http_result& result);

/// Delivers `body` to `target`; `done` is called once after the last attempt.
void async_send_webhook(boost::asio::any_io_executor executor, const webhook_target& target, std::string body,
                        std::function<void(webhook_result)> done);

}  // namespace courier::mss
