#include "conf/leafnode_options.hpp"

#include <algorithm>
#include <stdexcept>

#include "conf/ascii.hpp"
#include "conf/duration.hpp"
#include "protocol/subject.hpp"

namespace courier::conf {

namespace {

[[noreturn]] void invalid(const std::string& message) { throw std::invalid_argument(message); }

std::string string_field(const picojson::value& value, const std::string& name) {
  if (!value.is<std::string>()) invalid("leafnodes: \"" + name + "\" must be a string");
  return value.get<std::string>();
}

int port_field(const picojson::value& value, const std::string& name) {
  if (!value.is<std::int64_t>()) invalid("leafnodes: \"" + name + "\" must be an integer");
  const auto port = value.get<std::int64_t>();
  if (port < -1 || port > 65535) invalid("leafnodes: invalid port " + std::to_string(port));
  return static_cast<int>(port);
}

/// nats-server's parseDuration: a duration string, or a number of seconds.
std::chrono::milliseconds duration_field(const picojson::value& value, const std::string& name) {
  if (value.is<std::int64_t>()) return std::chrono::seconds(value.get<std::int64_t>());
  if (!value.is<std::string>()) invalid("leafnodes: \"" + name + "\" must be a duration such as \"1s\"");
  std::string problem;
  auto duration = parse_go_duration(value.get<std::string>(), problem);
  if (!duration) invalid("error parsing " + name + ": " + problem);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

/// `listen: "host:port"` or a bare port.
void apply_listen(const picojson::value& value, leafnode_settings& out) {
  if (value.is<std::int64_t>()) {
    out.port = port_field(value, "listen");
    return;
  }
  const auto text = string_field(value, "listen");
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) invalid("leafnodes: could not parse address string \"" + text + "\"");
  out.host = text.substr(0, colon);
  const auto port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    invalid("leafnodes: could not parse port \"" + port + "\"");
  out.port = std::stoi(port);
}

leafnode_remote parse_remote(const picojson::value& value) {
  if (!value.is<picojson::object>()) invalid("leafnodes: each remote must be a map");
  leafnode_remote remote;
  for (const auto& [key, field] : value.get<picojson::object>()) {
    const std::string name = ascii_lower(key);
    if (name == "url") {
      remote.urls.push_back(parse_leafnode_url(string_field(field, key)));
    } else if (name == "urls") {
      if (!field.is<picojson::array>()) invalid("leafnodes: \"urls\" must be an array of strings");
      for (const auto& url : field.get<picojson::array>()) remote.urls.push_back(parse_leafnode_url(string_field(url, key)));
    } else if (name == "account" || name == "local") {
      remote.account = string_field(field, key);
    } else if (name == "credentials") {
      remote.credentials = string_field(field, key);
    } else if (name == "tls") {
      if (!field.is<picojson::object>()) invalid("leafnodes: a remote's \"tls\" must be a map");
      remote.tls = true;
      remote.tls_block = field;
    } else if (name == "deny_imports" || name == "deny_exports") {
      // A subject or a list of them, as nats-server's parseStringArray.
      auto& list = name == "deny_imports" ? remote.deny_imports : remote.deny_exports;
      if (field.is<picojson::array>()) {
        for (const auto& item : field.get<picojson::array>()) list.push_back(string_field(item, key));
      } else {
        list.push_back(string_field(field, key));
      }
      for (const auto& subject : list) {
        if (!protocol::is_valid_subscribe_subject(subject))
          invalid("leafnodes: \"" + key + "\" has an invalid subject \"" + subject + "\"");
      }
    } else {
      // hub, websocket options...: nats-server has them; a config relying on
      // them must not start without them.
      invalid("leafnodes: remote option \"" + key + "\" is not supported");
    }
  }
  if (remote.urls.empty()) invalid("leafnodes: a remote needs \"url\" or \"urls\"");
  for (const auto& url : remote.urls) remote.tls = remote.tls || url.tls;
  return remote;
}

leafnode_user parse_user(const picojson::value& value) {
  if (!value.is<picojson::object>()) invalid("leafnodes: each authorization user must be a map");
  leafnode_user user;
  for (const auto& [key, field] : value.get<picojson::object>()) {
    const std::string name = ascii_lower(key);
    if (name == "user" || name == "username") {
      user.user = string_field(field, key);
    } else if (name == "password" || name == "pass") {
      user.password = string_field(field, key);
    } else if (name == "account") {
      user.account = string_field(field, key);
    } else {
      invalid("leafnodes: authorization user option \"" + key + "\" is not supported");
    }
  }
  if (user.user.empty()) invalid("leafnodes: an authorization user needs \"user\"");
  return user;
}

void apply_authorization(const picojson::value& value, leafnode_settings& out) {
  if (!value.is<picojson::object>()) invalid("leafnodes: \"authorization\" must be a map");
  out.authorization = value;
  leafnode_user single;
  bool has_single = false;
  for (const auto& [key, field] : value.get<picojson::object>()) {
    const std::string name = ascii_lower(key);
    if (name == "user" || name == "username") {
      single.user = string_field(field, key);
      has_single = true;
    } else if (name == "password" || name == "pass") {
      single.password = string_field(field, key);
    } else if (name == "account") {
      single.account = string_field(field, key);
    } else if (name == "users") {
      if (!field.is<picojson::array>()) invalid("leafnodes: authorization \"users\" must be an array");
      for (const auto& user : field.get<picojson::array>()) out.users.push_back(parse_user(user));
    } else if (name == "timeout") {
      if (field.is<double>() && !field.is<std::int64_t>()) {
        out.auth_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(field.get<double>() * 1000));
      } else {
        out.auth_timeout = duration_field(field, key);
      }
    } else {
      invalid("leafnodes: authorization option \"" + key + "\" is not supported");
    }
  }
  if (has_single) out.users.insert(out.users.begin(), single);
}

}  // namespace

leafnode_url parse_leafnode_url(std::string_view text) {
  leafnode_url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) invalid("leafnodes: URL \"" + std::string(text) + "\" has no scheme");
  const std::string scheme = ascii_lower(std::string(text.substr(0, scheme_end)));
  if (scheme == "tls") {
    url.tls = true;
  } else if (scheme != "nats-leaf" && scheme != "nats") {
    invalid("leafnodes: unsupported URL scheme \"" + scheme + "\" (nats-leaf, nats or tls)");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    url.user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) url.password = std::string(userinfo.substr(colon + 1));
  }
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) invalid("leafnodes: bad URL host in \"" + std::string(text) + "\"");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') invalid("leafnodes: bad URL \"" + std::string(text) + "\"");
    rest = rest.empty() ? rest : rest.substr(1);
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
  } else {
    rest = {};
  }
  if (host.empty()) invalid("leafnodes: URL \"" + std::string(text) + "\" has no host");
  url.host = std::string(host);
  if (!rest.empty()) {
    if (rest.size() > 5 || !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
      invalid("leafnodes: bad port in URL \"" + std::string(text) + "\"");
    const int port = std::stoi(std::string(rest));
    if (port <= 0 || port > 65535) invalid("leafnodes: bad port in URL \"" + std::string(text) + "\"");
    url.port = static_cast<std::uint16_t>(port);
  }
  return url;
}

leafnode_settings parse_leafnodes(const picojson::value& block) {
  leafnode_settings out;
  if (block.is<picojson::null>()) return out;
  if (!block.is<picojson::object>()) invalid("leafnodes must be a map");
  for (const auto& [key, value] : block.get<picojson::object>()) {
    const std::string name = ascii_lower(key);
    if (name == "remotes") {
      if (!value.is<picojson::array>()) invalid("leafnodes: \"remotes\" must be an array");
      for (const auto& remote : value.get<picojson::array>()) out.remotes.push_back(parse_remote(remote));
    } else if (name == "reconnect" || name == "reconnect_delay" || name == "reconnect_interval") {
      out.reconnect = duration_field(value, key);
      if (out.reconnect.count() <= 0) invalid("leafnodes: \"" + key + "\" must be positive");
    } else if (name == "host" || name == "net") {
      out.host = string_field(value, key);
    } else if (name == "port") {
      out.port = port_field(value, key);
    } else if (name == "listen") {
      apply_listen(value, out);
    } else if (name == "advertise") {
      out.advertise = string_field(value, key);
    } else if (name == "authorization") {
      apply_authorization(value, out);
    } else if (name == "tls") {
      if (!value.is<picojson::object>()) invalid("leafnodes: \"tls\" must be a map");
      out.tls_block = value;
    } else {
      invalid("leafnodes: option \"" + key + "\" is not supported");
    }
  }
  return out;
}

}  // namespace courier::conf
