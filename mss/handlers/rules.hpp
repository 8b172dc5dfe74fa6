// Routing rules: which handlers run for an event (or action) name. A rule
// has a NATS-style pattern over the name ("login.abnormal", "order.*",
// "user.>"), optional conditions on the payload's JSON fields (the mail
// platform dispatches on `order`: {"order": "deliver"}), and the handler
// names to run.
//
// Config form (a JSON/conf array, as found in the `mss` block):
//   rules: [
//     { event: "login.abnormal", handlers: ["email_user", "sms_user"] }
//     { event: "outboundSMTP", when: { order: "deliver" }, handlers: "smtp_deliver" }
//     { event: "contact.*", when: { order: ["contact_update", "discover_key"] }, handlers: ["log"] }
//   ]
// `event` may also be spelled `action` or `pattern`. `handlers` is a name or
// a list of names. In `when`, keys are field paths ("user.kind"); a scalar
// value must be equal (numbers compare numerically), a list means any of its
// values; every condition must hold.
//
// Matching returns each handler at most once, in the order rules were added.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <picojson.h>

namespace courier::mss {

/// A condition on one payload field.
struct field_condition {
  std::vector<std::string> path;        ///< field path split on '.'
  std::vector<picojson::value> any_of;  ///< accepted values (scalars)
};

/// One routing rule.
struct route_rule {
  std::string pattern;                     ///< name pattern with '*' and '>' tokens
  std::vector<field_condition> conditions; ///< all must hold (empty = always)
  std::vector<std::string> handlers;       ///< handler names to run
};

/// An ordered set of rules.
class route_table {
 public:
  /// Adds a rule after validating its pattern and handlers. Returns false
  /// and sets `error` when the rule is invalid.
  bool add(route_rule rule, std::string& error);

  /// Loads rules from a config array (see the file comment), appending to
  /// this table. Returns false with an error naming the bad rule, whose
  /// index in `rules` (from 0) goes to `failed_rule` when given.
  bool load(const picojson::value& rules, std::string& error, std::size_t* failed_rule = nullptr);

  /// Handler names for `name` and `message`, each at most once, in rule
  /// order. A non-object message fails every rule that has conditions.
  std::vector<std::string> match(std::string_view name, const picojson::value& message) const;

  /// The rules, in order.
  const std::vector<route_rule>& rules() const { return rules_; }

 private:
  std::vector<route_rule> rules_;
};

/// True when `value` equals one of `condition.any_of` (numbers by value).
bool condition_holds(const field_condition& condition, const picojson::value& message);

}  // namespace courier::mss
