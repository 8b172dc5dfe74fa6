// Parsing JSON that comes from the network (CONNECT, INFO, message
// payloads) with picojson. picojson::parse throws std::overflow_error for a
// number beyond a double's range (1e999): it builds a value for every
// number and refuses infinity. Uncaught, one client's `CONNECT {"a":1e999}`
// ended the whole server (found by the connection fuzzer). parse_json()
// reports it as a parse error instead.
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <picojson.h>

namespace courier::protocol {

/// The text parse_json() puts in `error` for a number out of range.
inline constexpr std::string_view json_number_out_of_range = "number out of range";

/// As picojson::parse(out, begin, end, &error): returns where parsing
/// stopped; `error` is empty on success. Never throws for the input's sake.
template <typename Iter>
Iter parse_json(picojson::value& out, Iter begin, Iter end, std::string& error) {
  try {
    return picojson::parse(out, begin, end, &error);
  } catch (const std::overflow_error&) {
    out = picojson::value();
    error = json_number_out_of_range;
    return begin;
  }
}

/// A picojson parse context that keeps a number beyond a double's range as
/// the string json_number_out_of_range instead of throwing, at any depth.
/// For CONNECT: Go's encoding/json (nats-server) skips an unknown field's
/// value without converting it, so `{"foo":1e999}` is accepted there, while
/// a known field holding it is a type error (as a string is here).
class json_lenient_context : public picojson::default_parse_context {
 public:
  explicit json_lenient_context(picojson::value* out) : default_parse_context(out) {}
  bool set_number(double f) {
    *out_ = std::isfinite(f) ? picojson::value(f) : picojson::value(std::string(json_number_out_of_range));
    return true;
  }
  template <typename Iter>
  bool parse_array_item(picojson::input<Iter>& in, std::size_t) {
    picojson::array& items = out_->get<picojson::array>();
    items.push_back(picojson::value());
    json_lenient_context item(&items.back());
    return picojson::_parse(item, in);
  }
  template <typename Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    json_lenient_context item(&out_->get<picojson::object>()[key]);
    return picojson::_parse(item, in);
  }
};

/// As parse_json(), with json_lenient_context: never fails for a number.
template <typename Iter>
Iter parse_json_lenient(picojson::value& out, Iter begin, Iter end, std::string& error) {
  json_lenient_context context(&out);
  return picojson::_parse(context, begin, end, &error);
}

}  // namespace courier::protocol
