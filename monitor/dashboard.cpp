// GET /dashboard: the live page, compiled in from monitor/dashboard.html.
#include "monitor/dashboard.hpp"

#include "monitor/endpoints.hpp"

namespace courier::monitor {

http_reply dashboard(const endpoint_context&, const query_params&) {
  return {200, "text/html; charset=utf-8", std::string(dashboard_html())};
}

}  // namespace courier::monitor
