// What the SMTP and HTTP clients' coroutines share: a completion token that
// hands back (error_code, result) instead of throwing.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace courier::mss {

/// `auto [ec, n] = co_await op(..., use_tuple);`
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace courier::mss
