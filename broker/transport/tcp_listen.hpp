// Opening a listening TCP socket, the same for every port the server
// serves: clients, leafnodes, WebSocket, monitoring, message services.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace courier::broker {

/// Opens `acceptor` on `endpoint` and listens: SO_REUSEADDR (a restarted
/// server binds its port again while the last run's connections linger in
/// TIME_WAIT), both IPv4 and IPv6 on an IPv6 address such as "::", and the
/// system's largest backlog. Port 0 takes a free port (local_endpoint()
/// tells which). On failure `ec` says why and the acceptor is closed.
void listen_tcp(boost::asio::ip::tcp::acceptor& acceptor, const boost::asio::ip::tcp::endpoint& endpoint,
                boost::system::error_code& ec);

}  // namespace courier::broker
