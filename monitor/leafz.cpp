// /leafz: nats-server 2.9.10's Leafz document over the server's leaf
// connections (broker/leaf/leaf_nodes), soliciting and accepting alike.
#include "broker/leaf/leaf_nodes.hpp"
#include "broker/server.hpp"
#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/json_writer.hpp"

namespace courier::monitor {

http_reply leafz(const endpoint_context& context, const query_params& query) {
  const auto subs = decode_bool(query, "subs");
  if (!subs.error.empty()) return http_reply::bad_request(subs.error);
  const std::string wanted_account = query.get("acc");
  std::vector<broker::leaf_snapshot> leafs;
  if (const auto* nodes = context.server.leafs()) leafs = nodes->snapshot();
  if (!wanted_account.empty()) {
    std::erase_if(leafs, [&](const broker::leaf_snapshot& leaf) { return leaf.account != wanted_account; });
  }
  json_writer out(context.layout);
  out.begin_object();
  out.member("server_id", context.server.id());
  out.member("now", rfc3339_nano(context.now));
  out.member("leafnodes", static_cast<std::int64_t>(leafs.size()));
  if (leafs.empty()) {
    out.key("leafs").null();
  } else {
    out.key("leafs").begin_array();
    for (const auto& leaf : leafs) {
      out.begin_object();
      out.member("account", leaf.account);
      out.member("ip", leaf.ip);
      out.member("port", static_cast<std::int64_t>(leaf.port));
      // Go prints a round trip above 1 µs rounded to microseconds (as /connz).
      const std::chrono::nanoseconds rtt(leaf.rtt_ns);
      out.member("rtt", go_duration(rtt >= std::chrono::microseconds(1)
                                        ? std::chrono::duration_cast<std::chrono::microseconds>(rtt)
                                        : rtt));
      out.member("in_msgs", leaf.msgs_in);
      out.member("out_msgs", leaf.msgs_out);
      out.member("in_bytes", leaf.bytes_in);
      out.member("out_bytes", leaf.bytes_out);
      out.member("subscriptions", static_cast<std::int64_t>(leaf.subscriptions.size()));
      if (subs.value && !leaf.subscriptions.empty()) {
        // nats-server lists subjects alone, without queue names.
        out.key("subscriptions_list").begin_array();
        for (const auto& key : leaf.subscriptions) out.value(key.substr(0, key.find(' ')));
        out.end_array();
      }
      out.end_object();
    }
    out.end_array();
  }
  out.end_object();
  return {200, "application/json", out.take()};
}

}  // namespace courier::monitor
