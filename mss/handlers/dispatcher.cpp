#include "mss/handlers/dispatcher.hpp"

#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>

#include "mss/audit/audit_log.hpp"
#include "mss/common/json_util.hpp"
#include "mss/peers/mail_message.hpp"

namespace courier::mss {
namespace {

const char* kind_name(message_kind kind) {
  switch (kind) {
    case message_kind::action: return "action";
    case message_kind::event: return "event";
    case message_kind::audit: return "audit";
  }
  return "?";
}

}  // namespace

dispatcher::dispatcher(boost::asio::any_io_executor executor, dispatcher_options options, route_table actions,
                       route_table events, route_table audits, const handler_set& handlers, publish_fn publish,
                       log_fn log)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      actions_(std::move(actions)),
      events_(std::move(events)),
      audits_(std::move(audits)),
      handlers_(handlers),
      publish_(std::move(publish)),
      log_(std::move(log)),
      idempotency_(options_.idempotency_window, options_.idempotency_max_entries) {
  if (options_.dead_letter_prefix.empty()) options_.dead_letter_prefix = options_.prefix + ".deadletter";
  if (!log_) log_ = [](const std::string&) {};
  if (!publish_) publish_ = [](const std::string&, const std::string&) {};
  for (const route_table* table : {&actions_, &events_, &audits_})
    for (const auto& rule : table->rules())
      for (const auto& name : rule.handlers)
        if (!handlers_.find(name))
          throw std::invalid_argument("rule '" + rule.pattern + "' names unknown handler '" + name + "'");
}

std::optional<std::pair<message_kind, std::string>> dispatcher::classify(const std::string& subject) const {
  const std::string& p = options_.prefix;
  if (subject.size() <= p.size() + 1 || subject.compare(0, p.size(), p) != 0 || subject[p.size()] != '.')
    return std::nullopt;
  const std::string rest = subject.substr(p.size() + 1);
  for (message_kind kind : {message_kind::action, message_kind::event, message_kind::audit}) {
    const std::string word = std::string(kind_name(kind)) + ".";
    if (rest.size() > word.size() && rest.compare(0, word.size(), word) == 0)
      return std::make_pair(kind, rest.substr(word.size()));
  }
  return std::nullopt;
}

std::vector<mss_subscription> dispatcher::subscriptions() const {
  // Every subscription is in the queue group: with several mss instances a
  // message is handled by one of them, and overlapping patterns in one
  // group still deliver a message once.
  std::vector<mss_subscription> out;
  std::set<std::string> seen;
  const auto add = [&](std::string subject, message_kind kind) {
    if (seen.insert(subject).second) out.push_back({std::move(subject), options_.queue_group, kind});
  };
  for (const auto& rule : actions_.rules()) add(options_.prefix + ".action." + rule.pattern, message_kind::action);
  for (const auto& rule : events_.rules()) add(options_.prefix + ".event." + rule.pattern, message_kind::event);
  add(options_.prefix + ".audit.>", message_kind::audit);
  return out;
}

dispatcher_stats dispatcher::stats() const {
  dispatcher_stats s;
  s.received = counters_->received;
  s.expired = counters_->expired;
  s.handler_runs = counters_->handler_runs;
  s.handler_failures = counters_->handler_failures;
  s.dead_letters = counters_->dead_letters;
  s.duplicates = counters_->duplicates;
  s.unrouted = counters_->unrouted;
  return s;
}

std::string dispatcher::error_reply(const std::string& text, const std::optional<std::string>& correlation_id) {
  picojson::object o;
  o["ok"] = picojson::value(false);
  o["error"] = picojson::value(text);
  if (correlation_id) o["correlationId"] = picojson::value(*correlation_id);
  return picojson::value(std::move(o)).serialize();
}

std::vector<std::shared_ptr<handler>> dispatcher::resolve(const std::vector<std::string>& names) const {
  std::vector<std::shared_ptr<handler>> out;
  for (const auto& name : names)
    if (auto h = handlers_.find(name)) out.push_back(std::move(h));
  return out;
}

void dispatcher::on_message(const std::string& subject, std::string payload, reply_fn reply,
                            const std::string& msg_id) {
  ++counters_->received;
  const auto classified = classify(subject);
  if (!classified) {
    log_("mss: ignoring message on '" + subject + "': not under '" + options_.prefix + ".{action,event,audit}.'");
    if (reply) reply(error_reply("not a message-service subject"));
    return;
  }
  const auto [kind, name] = *classified;
  auto input = handler_input::make(subject, name, std::move(payload));
  // Audit messages are recorded even when expired: an audit trail that
  // silently drops late records would be worse than a late record.
  if (kind != message_kind::audit && input->message.expired()) {
    refuse_expired(*input, kind, reply);
  } else if (kind == message_kind::action) {
    on_action(std::move(input), std::move(reply), msg_id);
  } else {
    on_event(std::move(input), kind, std::move(reply));
  }
}

namespace {

std::string correlation_text(const handler_input& input) {
  return input.message.correlation_id ? *input.message.correlation_id : "-";
}

}  // namespace

void dispatcher::refuse_expired(const handler_input& input, message_kind kind, const reply_fn& reply) {
  ++counters_->expired;
  log_(std::string("mss: ") + kind_name(kind) + " " + input.name + " correlationId=" + correlation_text(input) +
       " expired (timestamp " + std::to_string(*input.message.timestamp_ms) + " + timeout " +
       std::to_string(*input.message.timeout_ms) + " ms), not executed");
  if (!reply) return;
  picojson::object o;
  o["ok"] = picojson::value(false);
  o["error"] = picojson::value(std::string("message expired"));
  o["expired"] = picojson::value(true);
  if (input.message.correlation_id) o["correlationId"] = picojson::value(*input.message.correlation_id);
  reply(picojson::value(std::move(o)).serialize());
}

void dispatcher::on_action(std::shared_ptr<const handler_input> input, reply_fn reply, const std::string& msg_id) {
  const std::string& name = input->name;
  auto targets = resolve(actions_.match(name, input->message.message));
  if (targets.empty()) {
    ++counters_->unrouted;
    log_("mss: action " + name + " correlationId=" + correlation_text(*input) + ": no handler matched");
    if (reply) reply(error_reply("no handler for action '" + name + "'", input->message.correlation_id));
    return;
  }
  // Keys are scoped by subject: one correlationId reused for two
  // different actions must run both.
  auto key = input->message.idempotency_key(msg_id);
  if (key) {
    key = input->subject + '\n' + *key;
    std::string cached;
    const auto state = idempotency_.begin(*key, [reply](const std::string& r) { if (reply) reply(r); }, cached);
    if (state != idempotency_cache::state::started) {
      ++counters_->duplicates;
      log_("mss: action " + name + " correlationId=" + correlation_text(*input) + ": repeated idempotency key '" +
           key->substr(input->subject.size() + 1) + "', answered from the first run");
      if (state == idempotency_cache::state::completed && reply) reply(cached);
      return;
    }
  }
  run_action(std::move(input), std::move(targets), [this, key, reply](std::string result, bool ok) {
    if (key) idempotency_.complete(*key, result, ok);
    if (reply) reply(result);
  });
}

void dispatcher::on_event(std::shared_ptr<const handler_input> input, message_kind kind, reply_fn reply) {
  std::vector<std::shared_ptr<handler>> targets;
  if (kind == message_kind::audit && audits_.rules().empty()) {
    for (const auto& [unused, h] : handlers_.by_name)
      if (h->type() == "audit") targets.push_back(h);
  } else {
    targets = resolve((kind == message_kind::event ? events_ : audits_).match(input->name, input->message.message));
  }
  if (!targets.empty()) {
    run_event(std::move(input), std::move(targets), kind, std::move(reply));
    return;
  }
  ++counters_->unrouted;
  log_(std::string("mss: ") + kind_name(kind) + " " + input->name + " correlationId=" + correlation_text(*input) +
       ": no handler matched");
  if (!reply) return;
  picojson::object o;
  o["ok"] = picojson::value(kind != message_kind::audit);  // an audit nobody records is a failure
  o["handlers"] = picojson::value(std::int64_t(0));
  if (kind == message_kind::audit) o["error"] = picojson::value(std::string("no audit handler"));
  reply(picojson::value(std::move(o)).serialize());
}

void dispatcher::log_run(const handler_input& input, const handler& target, const handler_result& result,
                         unsigned attempt) {
  std::string line = "mss: " + input.subject + " handler=" + target.name() +
                     " correlationId=" + (input.message.correlation_id ? *input.message.correlation_id : "-") +
                     " attempt=" + std::to_string(attempt);
  line += result.ok ? " ok" : " failed: " + result.error;
  log_(line);
}

retry_policy dispatcher::policy_for(const handler& target, message_kind kind) const {
  retry_policy once;
  once.max_attempts = 1;
  // Audit records are written once; their durability is the log's job.
  if (kind == message_kind::audit) return once;
  if (target.retry()) return *target.retry();
  // An action's requester waits with its own timeout: without a policy of
  // the handler's own, one try.
  return kind == message_kind::event ? options_.event_retry : once;
}

void dispatcher::run_with_retry(std::shared_ptr<const handler_input> input, std::shared_ptr<handler> target,
                                retry_policy policy, std::function<void(handler_result, unsigned)> done) {
  auto counters = counters_;
  target->metrics().on_message();
  if (!target->try_begin()) {
    handler_result busy;
    busy.error = "handler " + target->name() + " busy: " + std::to_string(target->max_in_flight()) +
                 " messages in flight (max_in_flight)";
    busy.retryable = false;
    busy.tried = false;
    ++counters->handler_failures;
    target->metrics().on_busy();
    target->metrics().on_outcome(false);
    log_("mss: " + input->subject + " handler=" + target->name() + " correlationId=" +
         (input->message.correlation_id ? *input->message.correlation_id : "-") + " refused: " + busy.error);
    done(std::move(busy), 0);
    return;
  }
  auto tries = std::make_shared<std::atomic<unsigned>>(0);  // runs that reached for the peer
  async_retry<handler_result>(
      executor_, policy,
      [this, input, target, counters, tries](unsigned attempt, std::function<void(handler_result)> complete) {
        ++counters->handler_runs;
        target->metrics().on_attempt(attempt);
        const auto started = std::chrono::steady_clock::now();
        target->run(input, [this, input, target, attempt, counters, started, tries,
                            complete = std::move(complete)](handler_result r) {
          target->metrics().on_run_done(std::chrono::steady_clock::now() - started);
          if (r.tried) ++*tries;
          if (!r.ok) ++counters->handler_failures;
          log_run(*input, *target, r, attempt);
          complete(std::move(r));
        });
      },
      [](const handler_result& r) { return !r.ok && r.retryable; },
      [target, tries, done = std::move(done)](handler_result r, unsigned) {
        target->end();
        target->metrics().on_outcome(r.ok);
        done(std::move(r), tries->load());
      });
}

void dispatcher::run_action(std::shared_ptr<const handler_input> input, std::vector<std::shared_ptr<handler>> targets,
                            std::function<void(std::string, bool)> done) {
  struct gather {
    std::mutex mutex;
    std::size_t remaining;
    bool ok = true;
    std::string error;
    picojson::object results;
    std::function<void(std::string, bool)> done;
  };
  auto state = std::make_shared<gather>();
  state->remaining = targets.size();
  state->done = std::move(done);
  for (auto& target : targets) {
    const retry_policy policy = policy_for(*target, message_kind::action);
    run_with_retry(input, target, policy, [state, input, name = target->name()](handler_result r, unsigned) {
      bool last = false;
      {
        std::lock_guard lock(state->mutex);
        if (!r.ok && state->ok) {
          state->ok = false;
          state->error = r.error;
        }
        picojson::object entry = r.details;
        entry["ok"] = picojson::value(r.ok);
        if (!r.ok) entry["error"] = picojson::value(r.error);
        state->results[name] = picojson::value(std::move(entry));
        last = --state->remaining == 0;
      }
      if (!last) return;
      picojson::object reply;
      reply["ok"] = picojson::value(state->ok);
      if (!state->ok) reply["error"] = picojson::value(state->error);
      if (input->message.correlation_id) reply["correlationId"] = picojson::value(*input->message.correlation_id);
      reply["results"] = picojson::value(std::move(state->results));
      state->done(picojson::value(std::move(reply)).serialize(), state->ok);
    });
  }
}

void dispatcher::run_event(std::shared_ptr<const handler_input> input, std::vector<std::shared_ptr<handler>> targets,
                           message_kind kind, reply_fn reply) {
  struct gather {
    std::mutex mutex;
    std::size_t remaining;
    bool ok = true;
    std::string error;
  };
  auto state = std::make_shared<gather>();
  state->remaining = targets.size();
  for (auto& target : targets) {
    const retry_policy policy = policy_for(*target, kind);
    run_with_retry(input, target, policy, [this, state, input, target, reply](handler_result r, unsigned attempts) {
      if (!r.ok) dead_letter(*input, *target, r, attempts);
      bool last = false;
      {
        std::lock_guard lock(state->mutex);
        if (!r.ok && state->ok) {
          state->ok = false;
          state->error = r.error;
        }
        last = --state->remaining == 0;
      }
      if (!last || !reply) return;
      picojson::object o;
      o["ok"] = picojson::value(state->ok);
      if (!state->ok) o["error"] = picojson::value(state->error);
      if (input->message.correlation_id) o["correlationId"] = picojson::value(*input->message.correlation_id);
      reply(picojson::value(std::move(o)).serialize());
    });
  }
}

void dispatcher::dead_letter(const handler_input& input, const handler& target, const handler_result& result,
                             unsigned attempts) {
  ++counters_->dead_letters;
  target.metrics().on_dead_letter();
  picojson::object o;
  o["subject"] = picojson::value(input.subject);
  o["handler"] = picojson::value(target.name());
  o["error"] = picojson::value(result.error);
  o["attempts"] = picojson::value(static_cast<std::int64_t>(attempts));
  o["failedAt"] = picojson::value(audit_log::format_time(std::chrono::system_clock::now()));
  if (input.message.correlation_id) o["correlationId"] = picojson::value(*input.message.correlation_id);
  if (input.message.is_json) {
    o["message"] = input.message.message;
  } else if (valid_utf8(input.payload)) {
    o["message"] = picojson::value(input.payload);
  } else {
    o["message_base64"] = picojson::value(base64_encode(input.payload));  // keeps the JSON valid
  }
  const std::string subject = options_.dead_letter_prefix + "." + target.name();
  log_("mss: " + input.subject + " handler=" + target.name() + " correlationId=" +
       (input.message.correlation_id ? *input.message.correlation_id : "-") + " gave up after " +
       std::to_string(attempts) + " attempt(s); dead letter to " + subject);
  publish_(subject, picojson::value(std::move(o)).serialize());
}

}  // namespace courier::mss
