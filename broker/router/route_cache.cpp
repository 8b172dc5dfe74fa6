#include "broker/router/route_cache.hpp"

namespace courier::broker {

thread_local route_caches* route_cache_lease::lent_ = nullptr;

}  // namespace courier::broker
