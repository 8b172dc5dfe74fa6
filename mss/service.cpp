#include "mss/service.hpp"

namespace courier::mss {
namespace {

/// The header a stock NATS client (and JetStream) uses for de-duplication.
constexpr std::string_view msg_id_header = "Nats-Msg-Id";

}  // namespace

service::service(bus& messages, handler_set handlers, dispatcher_config config, boost::asio::any_io_executor executor,
                 service_logger logger)
    : bus_(messages), logger_(std::move(logger)), handlers_(std::move(handlers)) {
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

void service::on_message(bus_message message) {
  const auto msg_id = message.header(msg_id_header);
  dispatcher::reply_fn reply;
  if (!message.reply.empty()) {
    {
      std::lock_guard lock(mutex_);
      ++pending_replies_;
    }
    // The dispatcher answers a request exactly once (from whichever thread
    // finished the work); the count lets stop() wait for those answers.
    reply = [this, to = std::move(message.reply)](const std::string& payload) {
      try {
        bus_.publish(to, payload);
      } catch (const bus_error& e) {
        log(service_log_level::error, "mss: cannot reply to " + to + ": " + e.what());
      }
      std::lock_guard lock(mutex_);
      if (--pending_replies_ == 0) idle_.notify_all();
    };
  }
  dispatcher_->on_message(message.subject, std::move(message.payload), std::move(reply), msg_id ? *msg_id : "");
}

}  // namespace courier::mss
