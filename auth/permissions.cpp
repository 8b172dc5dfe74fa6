#include "auth/permissions.hpp"

#include <cstdio>

#include "auth/config_error.hpp"
#include "conf/ascii.hpp"
#include "conf/duration.hpp"
#include "protocol/encoder.hpp"
#include "protocol/subject.hpp"

namespace courier::auth {

namespace {

/// Go's %T-ish name of a JSON value's type, for error messages.
std::string type_name(const picojson::value& v) {
  if (v.is<std::string>()) return "string";
  if (v.is<bool>()) return "bool";
  if (v.is<std::int64_t>()) return "int64";
  if (v.is<double>()) return "float64";
  if (v.is<picojson::array>()) return "[]interface {}";
  if (v.is<picojson::object>()) return "map[string]interface {}";
  return "<nil>";
}

/// strings.Fields: split on runs of whitespace.
std::vector<std::string_view> fields(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !space(text[i])) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

/// opts.go checkPermSubjectArray.
void check_subjects(const std::vector<std::string>& subjects) {
  for (const auto& s : subjects) {
    if (protocol::is_valid_subject(s)) continue;
    auto parts = fields(s);
    if (parts.size() != 2) throw config_error("subject " + go_quote(s) + " is not a valid subject");
    if (!protocol::is_valid_subject(parts[0])) {
      throw config_error("subject " + go_quote(parts[0]) + " is not a valid subject");
    }
  }
}

/// opts.go parsePermSubjects: a subject or an array of subjects.
std::vector<std::string> parse_subjects(const picojson::value& v) {
  std::vector<std::string> subjects;
  if (v.is<std::string>()) {
    subjects.push_back(v.get<std::string>());
  } else if (v.is<picojson::array>()) {
    for (const auto& item : v.get<picojson::array>()) {
      if (!item.is<std::string>()) throw config_error("Subject in permissions array cannot be cast to string");
      subjects.push_back(item.get<std::string>());
    }
  } else {
    throw config_error("Expected subject permissions to be a subject, or array of subjects, got " + type_name(v));
  }
  check_subjects(subjects);
  return subjects;
}

/// opts.go parseVariablePermissions: {allow, deny} or the old style (allow).
std::optional<subject_permission> parse_subject_permission(const picojson::value& v) {
  subject_permission p;
  if (!v.is<picojson::object>()) {
    p.allow = parse_subjects(v);
    return p;
  }
  const auto& m = v.get<picojson::object>();
  if (m.empty()) return std::nullopt;  // nats-server: an empty map is no permission at all
  for (const auto& [key, value] : m) {
    auto k = conf::ascii_lower(key);
    if (k == "allow") {
      p.allow = parse_subjects(value);
    } else if (k == "deny") {
      p.deny = parse_subjects(value);
    } else {
      throw config_error("Unknown field name " + go_quote(key) +
                         " parsing subject permissions, only 'allow' or 'deny' are permitted");
    }
  }
  return p;
}

/// opts.go parseAllowResponses (the map form).
response_permission parse_response_permission(const picojson::value& v) {
  if (!v.is<picojson::object>()) {
    throw config_error("error parsing response permissions, expected a boolean or a map");
  }
  response_permission rp;
  for (const auto& [key, value] : v.get<picojson::object>()) {
    auto k = conf::ascii_lower(key);
    if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
      if (!value.is<std::int64_t>()) throw config_error("error parsing response permissions, max is not an integer");
      auto max = value.get<std::int64_t>();
      // 0 keeps the default; negative means unlimited.
      if (max != 0) rp.max_messages = max < 0 ? -1 : static_cast<int>(std::min<std::int64_t>(max, 1 << 30));
    } else if (k == "expires" || k == "expiration" || k == "ttl") {
      if (!value.is<std::string>()) throw config_error("error parsing expires, not a duration string");
      std::string ignored;  // the message below is the one this check always gave
      auto d = conf::parse_go_duration(value.get<std::string>(), ignored);
      if (!d) throw config_error("error parsing expires: time: invalid duration " + go_quote(value.get<std::string>()));
      if (d->count() != 0) {
        rp.expires = d->count() < 0 ? std::chrono::milliseconds(-1)
                                    : std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      }
    } else {
      throw config_error("Unknown field " + go_quote(key) + " parsing permissions");
    }
  }
  return rp;
}

}  // namespace

permission_spec parse_permissions(const picojson::value& value) {
  if (!value.is<picojson::object>()) {
    throw config_error("Expected permissions to be a map/struct, got " + value.to_str());
  }
  permission_spec spec;
  for (const auto& [key, v] : value.get<picojson::object>()) {
    auto k = conf::ascii_lower(key);
    if (k == "pub" || k == "publish" || k == "import") {
      spec.publish = parse_subject_permission(v);
    } else if (k == "sub" || k == "subscribe" || k == "export") {
      spec.subscribe = parse_subject_permission(v);
    } else if (k == "publish_allow_responses" || k == "allow_responses") {
      if (v.is<bool>()) {
        if (v.get<bool>()) spec.response = response_permission{};
      } else {
        spec.response = parse_response_permission(v);
      }
    } else {
      throw config_error("Unknown field " + go_quote(key) + " parsing permissions");
    }
  }
  // With allow_responses the blanket publish allow is turned off
  // (auth.go validateResponsePermissions).
  if (spec.response) {
    if (!spec.publish) spec.publish = subject_permission{};
    if (!spec.publish->allow) spec.publish->allow = std::vector<std::string>{};
  }
  return spec;
}

permissions::permissions(permission_spec spec) : spec_(std::move(spec)) {
  auto split = [](const std::string& entry) -> std::pair<std::string_view, std::string_view> {
    auto parts = fields(entry);
    if (parts.empty()) throw config_error("subject " + go_quote(entry) + " is not a valid subject");
    if (parts.size() > 2) throw config_error("invalid subject-queue " + go_quote(entry));
    return {parts[0], parts.size() == 2 ? parts[1] : std::string_view{}};
  };
  if (spec_.publish) {
    check_subjects(spec_.publish->allow.value_or(std::vector<std::string>{}));
    check_subjects(spec_.publish->deny);
    // Publish entries are whole subjects; a "subject queue" entry has a
    // space in its token and so never matches a published subject, as in
    // nats-server.
    if (spec_.publish->allow) {
      publish_allow_.emplace();
      for (const auto& s : *spec_.publish->allow) publish_allow_->insert(s);
    }
    for (const auto& s : spec_.publish->deny) publish_deny_.insert(s);
  }
  if (spec_.subscribe) {
    check_subjects(spec_.subscribe->allow.value_or(std::vector<std::string>{}));
    check_subjects(spec_.subscribe->deny);
    // nats-server creates the subscribe allow list only when it is
    // non-empty: `subscribe: []` allows everything.
    if (spec_.subscribe->allow && !spec_.subscribe->allow->empty()) {
      subscribe_allow_.emplace();
      for (const auto& s : *spec_.subscribe->allow) {
        auto [subject, queue] = split(s);
        subscribe_allow_->insert(subject, queue);
      }
    }
    for (const auto& s : spec_.subscribe->deny) {
      auto [subject, queue] = split(s);
      subscribe_deny_.insert(subject, queue);
    }
  }
}

bool permissions::can_publish(std::string_view subject) const {
  if (publish_allow_ && !publish_allow_->matches_plain(subject)) return false;
  return !publish_deny_.matches_plain(subject);
}

bool permissions::can_subscribe(std::string_view subject, std::string_view queue) const {
  bool allowed = true;
  if (subscribe_allow_) {
    const auto r = subscribe_allow_->match(subject, queue);
    allowed = r.plain;
    // With a queue and queue-scoped matches, the queue decides (even if a
    // plain entry matched): allow ["foo", "foo v1"] permits queue v1 only.
    if (!queue.empty() && r.queue_scoped) allowed = r.queue_matched;
  }
  if (allowed && !subscribe_deny_.empty()) {
    const auto r = subscribe_deny_.match(subject, queue);
    allowed = !r.plain;
    if (!queue.empty() && r.queue_scoped) allowed = !r.queue_matched;
  }
  return allowed;
}

bool permissions::deliver_allowed(std::string_view subject, std::string_view queue) const {
  return can_subscribe(subject, queue);
}

// ---------------------------------------------------------------------------

void response_tracker::on_delivered(std::string_view reply, clock::time_point now) {
  std::lock_guard lock(mutex_);
  // A new delivery with the same reply restarts its allowance, as
  // nats-server's map assignment does.
  if (entry* known = replies_.find(reply)) {
    *known = entry{now, 0};
    return;
  }
  replies_.try_emplace(reply, entry{now, 0});
  if (replies_.size() > prune_threshold) prune(now);
}

bool response_tracker::try_respond(std::string_view subject, clock::time_point now) {
  std::lock_guard lock(mutex_);
  entry* e = replies_.find(subject);
  if (!e) return false;
  ++e->count;
  if (limits_.max_messages > 0 && e->count > limits_.max_messages) {
    replies_.erase(subject);
    return false;
  }
  if (limits_.expires.count() > 0 && now - e->delivered > limits_.expires) {
    replies_.erase(subject);
    return false;
  }
  return true;
}

std::size_t response_tracker::size() const {
  std::lock_guard lock(mutex_);
  return replies_.size();
}

void response_tracker::prune(clock::time_point now) {
  replies_.erase_if([&](const std::string&, const entry& e) {
    const bool used = limits_.max_messages > 0 && e.count >= limits_.max_messages;
    const bool expired = limits_.expires.count() > 0 && now - e.delivered > limits_.expires;
    return used || expired;
  });
}

// ---------------------------------------------------------------------------

permission_cache::permission_cache(std::shared_ptr<const permissions> perms) { reset(std::move(perms)); }

void permission_cache::reset(std::shared_ptr<const permissions> perms) {
  perms_ = std::move(perms);
  publish_cache_.clear();
  if (perms_ && perms_->response()) {
    responses_ = std::make_unique<response_tracker>(*perms_->response());
  } else {
    responses_.reset();
  }
}

bool permission_cache::can_publish(std::string_view subject, clock::time_point now) {
  if (!perms_ || !perms_->restricts_publish()) return true;
  bool allowed;
  if (const bool* cached = publish_cache_.find(subject)) {
    allowed = *cached;
  } else {
    allowed = perms_->can_publish(subject);
    // Full: drop prune_count arbitrary entries, in place (nats-server
    // prunePubPermsCache drops as many, in map order).
    if (publish_cache_.size() >= max_entries) {
      std::size_t dropping = prune_count;
      publish_cache_.erase_if([&dropping](const std::string&, bool) { return dropping > 0 && dropping-- > 0; });
    }
    publish_cache_.try_emplace(subject, allowed);
  }
  // Replies are checked after the lists and never cached: each use counts.
  if (!allowed && responses_) allowed = responses_->try_respond(subject, now);
  return allowed;
}

bool permission_cache::can_subscribe(std::string_view subject, std::string_view queue) const {
  return !perms_ || perms_->can_subscribe(subject, queue);
}

bool permission_cache::deliver_allowed(std::string_view subject, std::string_view sub_subject,
                                       std::string_view queue) {
  if (!filters_delivery()) return true;
  // A literal subscription passed the same check when it was made.
  if (protocol::subject_is_literal(sub_subject)) return true;
  return perms_->deliver_allowed(subject, queue);
}

void permission_cache::on_delivered_reply(std::string_view reply, clock::time_point now) {
  if (responses_ && !reply.empty()) responses_->on_delivered(reply, now);
}

// ---------------------------------------------------------------------------

std::string go_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (c >= 0x80) {
      // Copy a well-formed multi-byte UTF-8 sequence as is (Go prints
      // printable runes unescaped); escape stray bytes as \x.
      std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool ok = len > 0 && i + len <= text.size();
      for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(text.substr(i, len));
        i += len - 1;
        continue;
      }
    }
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  }
  out.push_back('"');
  return out;
}

std::string publish_violation(std::string_view subject) {
  return "Permissions Violation for Publish to " + go_quote(subject);
}

std::string subscribe_violation(std::string_view subject, std::string_view queue) {
  std::string text = "Permissions Violation for Subscription to " + go_quote(subject);
  if (!queue.empty()) text += " using queue " + go_quote(queue);
  return text;
}

std::string reply_violation(std::string_view reply) {
  return "Permissions Violation for Publish with Reply of " + go_quote(reply);
}

std::string publish_violation_log(std::string_view auth_user, std::string_view subject) {
  return "Publish Violation - " + std::string(auth_user) + ", Subject " + go_quote(subject);
}

std::string subscribe_violation_log(std::string_view auth_user, std::string_view subject, std::string_view queue,
                                    std::string_view sid) {
  std::string text = "Subscription Violation - " + std::string(auth_user) + ", Subject " + go_quote(subject);
  if (!queue.empty()) text += ", Queue: " + go_quote(queue);
  text += ", SID " + std::string(sid);
  return text;
}

bool keeps_subscription_on_reload(const permissions* perms, std::string_view subject, std::string_view queue) {
  if (perms == nullptr) return true;
  return perms->can_subscribe(subject) || (!queue.empty() && perms->can_subscribe(subject, queue));
}

std::string reload_subscription_violation(std::string_view subject, std::string_view sid) {
  return "Permissions Violation for Subscription to " + go_quote(subject) + " (sid " + go_quote(sid) + ")";
}

std::string reload_subscription_removed_log(std::string_view subject, std::string_view sid, std::string_view auth_user) {
  return "Removed sub " + go_quote(subject) + " (sid " + go_quote(sid) + ") for " + std::string(auth_user) +
         " - not authorized";
}

std::string err_line(std::string_view text) {
  std::string line;
  protocol::append_err(line, text);
  return line;
}

}  // namespace courier::auth
