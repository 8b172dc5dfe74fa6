// Reads the dispatcher's part of the `mss` config block: prefix, queue
// group, dead-letter prefix, event retries, idempotency window and the
// action/event/audit rules. (Handlers and smtp are read by
// build_handlers in mss/config/handler_config.)
//
//   mss {
//     prefix: kiam                      # subjects kiam.action.*, kiam.event.*, kiam.audit.*
//     queue_group: mss                  # all mss subscriptions use it
//     dead_letter_prefix: kiam.deadletter
//     event_retry { attempts: 3, initial_delay: "500ms", max_delay: "30s", multiplier: 2 }
//                                       # for events, handlers without a `retry` of their own
//     idempotency_window: "10m"
//     idempotency_max: 100000
//     actions: [ { action: send_email, handlers: email_user } ]
//     events:  [ { event: "login.abnormal", handlers: [email_user, sms_user] } ]
//     audits:  [ ]                      # empty or absent: every audit handler records every audit message
//     smtp { ... }  handlers { ... }    # see mss/config/handler_config.hpp
//   }
//
// Keys this file does not know are left alone here; the runner
// (mss/service/runner) refuses keys nobody reads. Every key, with its
// default: docs/mss-config.md.
#pragma once

#include <string>

#include <picojson.h>

#include "mss/config/handler_config.hpp"
#include "mss/handlers/dispatcher.hpp"
#include "mss/handlers/rules.hpp"

namespace courier::mss {

/// The dispatcher settings and rules from one `mss` block.
struct dispatcher_config {
  dispatcher_options options;  ///< prefix, queue group, retries, window
  route_table actions;         ///< action rules
  route_table events;          ///< event rules
  route_table audits;          ///< audit rules (empty = all audit handlers)
};

/// Fills `config` from the `mss` block. False with a fault naming the key.
bool load_dispatcher_config(const picojson::value& mss, dispatcher_config& config, config_fault& fault);

/// Checks that every rule names handlers that exist. False with a fault
/// naming the rule's `handlers` key.
bool check_rule_handlers(const dispatcher_config& config, const handler_set& handlers, config_fault& fault);

}  // namespace courier::mss
