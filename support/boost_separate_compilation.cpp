// The compiled parts of Boost.Asio (with its SSL layer) and Boost.Beast, built
// once for the whole library when COURIER_SEPARATE_BOOST is on (CMakeLists.txt):
// every other translation unit then sees BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION and no longer compiles these functions
// itself.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
