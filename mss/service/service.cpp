#include "mss/service/service.hpp"

#include <random>

#include "mss/common/json_util.hpp"
#include "mss/handlers/envelope.hpp"

namespace courier::mss {
namespace {

std::string random_id() {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
  std::string out(16, ' ');
  for (char& c : out) c = alphabet[pick(generator)];
  return out;
}

/// The "ok" field of a reply the dispatcher produced.
bool reply_ok(const std::string& reply) {
  picojson::value v;
  std::string error;
  if (!parse_json_document(reply, v, error) || !v.is<picojson::object>()) return false;
  const auto& o = v.get<picojson::object>();
  auto it = o.find("ok");
  return it != o.end() && it->second.is<bool>() && it->second.get<bool>();
}

/// The header a stock NATS client (and JetStream) uses for de-duplication.
constexpr std::string_view msg_id_header = "Nats-Msg-Id";

}  // namespace

service::service(bus& messages, handler_set handlers, dispatcher_config config, boost::asio::any_io_executor executor,
                 service_logger logger)
    : bus_(messages),
      logger_(std::move(logger)),
      prefix_(config.options.prefix),
      action_prefix_(config.options.prefix + ".action."),
      peer_subject_(config.options.prefix + ".mss.idempotency"),
      instance_id_(random_id()),
      peers_(config.options.idempotency_window),
      handlers_(std::move(handlers)) {
  auto publish = [this](const std::string& subject, const std::string& payload) {
    try {
      bus_.publish(subject, payload);
    } catch (const bus_error& e) {
      log(service_log_level::error, "mss: cannot publish to " + subject + ": " + e.what());
    }
  };
  auto log_line = [this](const std::string& line) {
    // The dispatcher writes one kind of line; failures are the ones to see.
    const bool failure = line.find(" failed") != std::string::npos || line.find("gave up") != std::string::npos ||
                         line.find("expired") != std::string::npos;
    log(failure ? service_log_level::warning : service_log_level::info, line);
  };
  dispatcher_ = std::make_unique<dispatcher>(std::move(executor), std::move(config.options), std::move(config.actions),
                                             std::move(config.events), std::move(config.audits), handlers_,
                                             std::move(publish), std::move(log_line));
  subscriptions_ = dispatcher_->subscriptions();
}

service::~service() {
  stop(std::chrono::seconds(5));
  // Records still queued complete now, calling into the dispatcher, which
  // must still exist.
  for (const auto& audit : handlers_.audit_logs) audit->close();
  dispatcher_.reset();
}

void service::log(service_log_level level, const std::string& text) const {
  if (logger_) logger_(level, text);
}

void service::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopped_) return;
  started_ = true;
  std::string list;
  // Peer notes first, so that no action runs before we can hear of others'.
  sids_.push_back(bus_.subscribe(peer_subject_, {}, [this](bus_message m) { on_peer_note(m); }));
  for (const auto& sub : subscriptions_) {
    sids_.push_back(bus_.subscribe(sub.subject, sub.queue, [this](bus_message m) { on_message(std::move(m)); }));
    list += (list.empty() ? "" : ", ") + sub.subject;
  }
  log(service_log_level::info, "mss: message services on " + bus_.describe() + ", subscribed to " + list);
}

bool service::stop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!stopped_) {
    stopped_ = true;
    for (auto sid : sids_) bus_.unsubscribe(sid);
    sids_.clear();
  }
  return idle_.wait_for(lock, timeout, [this] { return pending_replies_ == 0; });
}

std::size_t service::pending_replies() const {
  std::lock_guard lock(mutex_);
  return pending_replies_;
}

void service::announce(const std::string& key, const char* state, const std::string* result, bool ok) {
  picojson::object note;
  note["instance"] = picojson::value(instance_id_);
  note["key"] = picojson::value(key);
  note["state"] = picojson::value(state);
  if (result) {
    note["ok"] = picojson::value(ok);
    note["result"] = picojson::value(*result);
  }
  try {
    bus_.publish(peer_subject_, picojson::value(note).serialize());
  } catch (const bus_error& e) {
    log(service_log_level::warning, "mss: cannot tell peers about an action: " + std::string(e.what()));
  }
}

void service::on_peer_note(const bus_message& message) {
  picojson::value note;
  std::string error;
  if (!parse_json_document(message.payload, note, error) || !note.is<picojson::object>()) return;
  const auto& o = note.get<picojson::object>();
  const auto text = [&](const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->second.is<std::string>() ? it->second.get<std::string>() : std::string();
  };
  if (text("instance") == instance_id_) return;  // our own note, echoed back
  const std::string key = text("key");
  if (key.empty()) return;
  if (text("state") == "running") {
    peers_.peer_running(key);
    return;
  }
  if (text("state") != "done") return;
  auto ok = o.find("ok");
  const bool succeeded = ok != o.end() && ok->second.is<bool>() && ok->second.get<bool>();
  const std::string result = text("result");
  for (const auto& waiter : peers_.peer_done(key, succeeded, result)) {
    try {
      bus_.publish(waiter, result);
    } catch (const bus_error& e) {
      log(service_log_level::error, "mss: cannot reply to " + waiter + ": " + e.what());
    }
  }
}

void service::on_message(bus_message message) {
  const auto msg_id = message.header(msg_id_header);
  std::string announced_key;  // non-empty: tell the peers how this run ends
  if (message.subject.compare(0, action_prefix_.size(), action_prefix_) == 0) {
    const auto key = inspect_message(message.payload).idempotency_key(msg_id ? std::string_view(*msg_id) : "");
    if (key) {
      const std::string scoped = message.subject + " " + *key;
      auto outcome = peers_.check(scoped, message.reply);
      switch (outcome.what) {
        case peer_idempotency::decision::answer:
          log(service_log_level::info, "mss: " + message.subject + ": repeated key, answered from a peer's run");
          if (!message.reply.empty()) {
            try {
              bus_.publish(message.reply, outcome.result);
            } catch (const bus_error& e) {
              log(service_log_level::error, "mss: cannot reply: " + std::string(e.what()));
            }
          }
          return;
        case peer_idempotency::decision::wait_for_peer:
          log(service_log_level::info, "mss: " + message.subject + ": repeated key, waiting for a peer's run");
          return;
        case peer_idempotency::decision::run_locally:
          break;
        case peer_idempotency::decision::run_and_announce:
          announced_key = scoped;
          announce(scoped, "running");
          break;
      }
    }
  }
  dispatcher::reply_fn reply;
  if (!message.reply.empty() || !announced_key.empty()) {
    {
      std::lock_guard lock(mutex_);
      ++pending_replies_;
    }
    // The dispatcher answers exactly once (from whichever thread finished
    // the work); the count lets stop() wait for those answers.
    reply = [this, to = std::move(message.reply), announced_key](const std::string& payload) {
      if (!to.empty()) {
        try {
          bus_.publish(to, payload);
        } catch (const bus_error& e) {
          log(service_log_level::error, "mss: cannot reply to " + to + ": " + e.what());
        }
      }
      if (!announced_key.empty()) {
        const bool ok = reply_ok(payload);
        peers_.finished_locally(announced_key, ok);
        announce(announced_key, "done", &payload, ok);
      }
      std::lock_guard lock(mutex_);
      if (--pending_replies_ == 0) idle_.notify_all();
    };
  }
  dispatcher_->on_message(message.subject, std::move(message.payload), std::move(reply), msg_id ? *msg_id : "");
}

}  // namespace courier::mss
