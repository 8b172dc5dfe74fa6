#include "mss/notify/gateway.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "auth/tls_config.hpp"
#include "broker/transport/tcp_listen.hpp"
#include "mss/common/json_util.hpp"
#include "mss/notify/gateway_protocol.hpp"
#include "mss/notify/gateway_session.hpp"
#include "mss/notify/notification_store.hpp"
#include "mss/peers/http_client.hpp"

namespace courier::mss::notify {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Reads the "groups" option: an array of non-empty strings, or one string.
bool read_groups(const picojson::object& options, std::vector<std::string>& out, std::string& error) {
  const auto it = options.find("groups");
  if (it != options.end() && it->second.is<std::string>() && !it->second.get<std::string>().empty()) {
    out.push_back(it->second.get<std::string>());
    return true;
  }
  if (it == options.end() || !it->second.is<picojson::array>()) {
    error = "'groups' must be a list of notification types (\"*\" for all)";
    return false;
  }
  for (const auto& group : it->second.get<picojson::array>()) {
    if (!group.is<std::string>() || group.get<std::string>().empty()) {
      error = "'groups' must be a list of notification types (\"*\" for all)";
      return false;
    }
    out.push_back(group.get<std::string>());
  }
  return true;
}

picojson::value groups_payload(const std::set<std::string>& groups) {
  picojson::array list;
  for (const auto& g : groups) list.emplace_back(g);
  picojson::object payload;
  payload["groups"] = picojson::value(list);
  return picojson::value(payload);
}

}  // namespace

struct gateway::state final : session_host, std::enable_shared_from_this<gateway::state> {
  state(asio::any_io_executor executor, bus& bus_used, gateway_config settings, service_logger logger,
        credential_check user_check)
      : strand(asio::make_strand(executor)),
        acceptor(strand),
        config(std::move(settings)),
        store(config.max_per_user, config.store),
        log(std::move(logger)),
        users(std::move(user_check)),
        messages(&bus_used) {
    if (config.authorize_users && !users)
      throw std::runtime_error("mss.notifications.authorize: 'users: true' needs the embedded server's users "
                               "(not available with mss.server or --mss-only)");
    limits.path = config.path;
    limits.max_message = config.max_message;
    limits.max_pending = config.max_pending;
    limits.handshake_timeout = config.handshake_timeout;
    if (config.tls) tls = auth::make_server_context(config.tls_settings);
    if (store.skipped_lines() != 0)
      write(service_log_level::warning, "notifications: " + std::to_string(store.skipped_lines()) +
                                            " unusable line(s) of " + config.store + " dropped");
  }

  void write(service_log_level level, const std::string& text) const {
    if (log) log(level, text);
  }

  // --- accepting -----------------------------------------------------------

  void do_accept() {
    acceptor.async_accept(strand, [self = shared_from_this()](boost::system::error_code error, tcp::socket socket) {
      self->on_accept(error, std::move(socket));
    });
  }

  void on_accept(boost::system::error_code error, tcp::socket socket) {
    if (stopping || error == asio::error::operation_aborted) return;
    if (!error) {
      if (live.load() >= config.max_sessions) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        live.fetch_add(1);
        start_session(std::move(socket), tls, limits, shared_from_this());
      }
    }
    do_accept();
  }

  // --- session_host ----------------------------------------------------------

  void on_open(session_base& session) override {
    sessions.insert(&session);
    counters_sessions.fetch_add(1);
    counters_sessions_total.fetch_add(1);
    if (stopping) session.close(1001, "going away");
  }

  void on_close(session_base& session, bool opened) override {
    if (opened) {
      sessions.erase(&session);
      counters_sessions.fetch_sub(1);
      if (session.authorized) forget_user(session);
    }
    session.authorized = false;
    session.authorizing = 0;
    {
      std::lock_guard lock(live_mutex);
      live.fetch_sub(1);
    }
    live_changed.notify_all();
  }

  void on_frame(session_base& session, std::string text) override {
    counters_requests.fetch_add(1);
    request r;
    std::string error;
    if (!parse_request(text, r, error)) {
      session.send(error_frame(r.rid, "error", error));
      return;
    }
    handle(session, r);
  }

  // --- commands --------------------------------------------------------------

  void handle(session_base& session, const request& r) {
    const std::string& c = r.command;
    if (c != "authorize" && c != "list" && c != "subscribe" && c != "unsubscribe" && c != "read") {
      session.send(error_frame(r.rid, c, "unknown command '" + c + "'"));
      return;
    }
    if (c == "authorize") return authorize(session, r);
    if (!session.authorized) {
      session.send(error_frame(r.rid, c, "not authorized"));
      return;
    }
    if (c == "list") return list(session, r);
    if (c == "subscribe" || c == "unsubscribe") return change_groups(session, r, c == "subscribe");
    return mark_read(session, r);
  }

  void list(session_base& session, const request& r) {
    std::size_t offset = 0;
    std::size_t limit = std::min<std::size_t>(20, config.page_limit);
    bool unread_only = false;
    std::string error;
    if (!option_count(r.options, "offset", offset, 1000000000, error) ||
        !option_count(r.options, "limit", limit, config.page_limit, error))
      return session.send(error_frame(r.rid, r.command, error));
    if (const auto it = r.options.find("unread"); it != r.options.end()) {
      if (!it->second.is<bool>()) return session.send(error_frame(r.rid, r.command, "'unread' must be true or false"));
      unread_only = it->second.get<bool>();
    }
    const auto page = store.list(session.user, offset, limit, unread_only);
    picojson::array items;
    for (const auto& n : page.items) items.push_back(record(n));
    picojson::object payload;
    payload["notifications"] = picojson::value(items);
    payload["total"] = picojson::value(static_cast<std::int64_t>(page.total));
    payload["unread"] = picojson::value(static_cast<std::int64_t>(page.unread));
    payload["offset"] = picojson::value(static_cast<std::int64_t>(offset));
    session.send(ok_frame(r.rid, r.command, picojson::value(payload)));
  }

  void change_groups(session_base& session, const request& r, bool add) {
    std::vector<std::string> groups;
    std::string error;
    if (!read_groups(r.options, groups, error)) return session.send(error_frame(r.rid, r.command, error));
    for (const auto& g : groups) {
      if (add) {
        session.groups.insert(g);
      } else if (g == "*") {
        session.groups.clear();
      } else {
        session.groups.erase(g);
      }
    }
    session.send(ok_frame(r.rid, r.command, groups_payload(session.groups)));
  }

  void mark_read(session_base& session, const request& r) {
    std::size_t marked = 0;
    const auto all = r.options.find("all");
    const auto ids = r.options.find("ids");
    if (all != r.options.end() && all->second.is<bool>() && all->second.get<bool>()) {
      marked = store.mark_all_read(session.user);
    } else if (ids != r.options.end() && ids->second.is<picojson::array>()) {
      std::vector<std::uint64_t> list;
      for (const auto& id : ids->second.get<picojson::array>()) {
        if (!id.is<std::int64_t>() || id.get<std::int64_t>() <= 0)
          return session.send(error_frame(r.rid, r.command, "'ids' must be a list of notification ids"));
        list.push_back(static_cast<std::uint64_t>(id.get<std::int64_t>()));
      }
      marked = store.mark_read(session.user, list);
    } else {
      return session.send(error_frame(r.rid, r.command, "give 'ids' (a list of notification ids) or 'all': true"));
    }
    picojson::object payload;
    payload["read"] = picojson::value(static_cast<std::int64_t>(marked));
    payload["unread"] = picojson::value(static_cast<std::int64_t>(store.unread(session.user)));
    session.send(ok_frame(r.rid, r.command, picojson::value(payload)));
  }

  void authorize(session_base& session, const request& r) {
    if (config.authorize_users) return authorize_user(session, r);
    const auto token = r.options.find("token");
    if (token == r.options.end() || !token->second.is<std::string>() || token->second.get<std::string>().empty())
      return session.send(error_frame(r.rid, r.command, "'token' must be a non-empty string"));
    if (session.authorizing != 0)
      return session.send(error_frame(r.rid, r.command, "an authorization is under way"));
    session.authorizing = static_cast<std::uint64_t>(r.rid) + 1;
    http_request call;
    call.method = "POST";
    call.url = config.authorize_url;
    call.headers = {{"Content-Type", "application/json"},
                    {"Authorization", "Bearer " + token->second.get<std::string>()}};
    picojson::object body;
    body["token"] = token->second;
    call.body = picojson::value(body).serialize();
    http_options options;
    options.timeout = config.authorize_timeout;
    options.verify_peer = config.authorize_verify;
    options.ca_file = config.authorize_ca_file;
    std::weak_ptr<session_base> weak = session.shared_from_this();
    async_http_request(strand, std::move(call), std::move(options),
                       [self = shared_from_this(), weak, rid = r.rid](http_result result) {
                         asio::post(self->strand, [self, weak, rid, result = std::move(result)] {
                           if (auto s = weak.lock()) self->on_authorized(*s, rid, result);
                         });
                       });
  }

  /// authorize { users: true }: {"user", "password"} against the server's users.
  void authorize_user(session_base& session, const request& r) {
    const auto user = r.options.find("user");
    const auto password = r.options.find("password");
    if (user == r.options.end() || !user->second.is<std::string>() || user->second.get<std::string>().empty() ||
        password == r.options.end() || !password->second.is<std::string>())
      return session.send(error_frame(r.rid, r.command, "'user' and 'password' must be strings"));
    const std::string& name = user->second.get<std::string>();
    if (name.find_first_of(". *>\t\r\n") != std::string::npos || !users(name, password->second.get<std::string>()))
      return session.send(error_frame(r.rid, r.command, "invalid user or password"));
    become(session, r.rid, name);
  }

  /// The session is `user`'s from now on.
  void become(session_base& session, std::int64_t rid, const std::string& user) {
    if (session.authorized) forget_user(session);
    session.user = user;
    session.authorized = true;
    by_user[user].insert(&session);
    picojson::object payload;
    payload["user"] = picojson::value(user);
    payload["unread"] = picojson::value(static_cast<std::int64_t>(store.unread(user)));
    session.send(ok_frame(rid, "authorize", picojson::value(payload)));
  }

  void on_authorized(session_base& session, std::int64_t rid, const http_result& result) {
    if (session.authorizing != static_cast<std::uint64_t>(rid) + 1) return;  // the session ended meanwhile
    session.authorizing = 0;
    if (!result.ok()) {
      write(service_log_level::warning, "notifications: authorization backend " + config.authorize_url + ": " +
                                            to_string(result.error) + " " + result.message);
      return session.send(error_frame(rid, "authorize", "authorization backend unavailable"));
    }
    if (!result.success())
      return session.send(error_frame(rid, "authorize", result.status == 401 || result.status == 403
                                                            ? "invalid token"
                                                            : "authorization refused (HTTP " +
                                                                  std::to_string(result.status) + ")"));
    picojson::value answer;
    std::string error;
    std::string user;
    if (parse_json_document(result.body, answer, error) && answer.is<picojson::object>()) {
      const auto& o = answer.get<picojson::object>();
      const auto it = o.find("user");
      if (it != o.end() && it->second.is<std::string>()) user = it->second.get<std::string>();
    }
    if (user.empty() || user.find_first_of(". *>\t\r\n") != std::string::npos) {
      write(service_log_level::warning, "notifications: authorization backend " + config.authorize_url +
                                            " answered without a usable \"user\": " + result.body.substr(0, 200));
      return session.send(error_frame(rid, "authorize", "authorization backend answered without a user"));
    }
    become(session, rid, user);
  }

  void forget_user(session_base& session) {
    const auto it = by_user.find(session.user);
    if (it == by_user.end()) return;
    it->second.erase(&session);
    if (it->second.empty()) by_user.erase(it);
  }

  // --- notifications ---------------------------------------------------------

  void on_message(const bus_message& message) {
    const std::string target = message.subject.substr(config.subject_prefix.size() + 1);
    const bool broadcast = target == config.broadcast;
    published p;
    std::string error;
    if (!parse_published(message.payload, p, error)) {
      counters_rejected.fetch_add(1);
      write(service_log_level::warning, "notifications: " + message.subject + ": not a notification (" + error +
                                            "); dropped");
      return answer(message, false, "not a notification: " + error, 0);
    }
    notification n;
    try {
      n = store.add(target, broadcast, std::move(p.type), std::move(p.document), now_ms());
    } catch (const std::runtime_error& e) {
      // Kept in memory and pushed; only the file missed it.
      write(service_log_level::error, std::string("notifications: ") + e.what());
    }
    if (n.id == 0) return answer(message, false, "not stored", 0);
    counters_notifications.fetch_add(1);
    const std::string frame = push_frame(n);
    const auto deliver = [&](session_base* s) {
      if (s->groups.count("*") == 0 && s->groups.count(n.type) == 0) return;
      s->send(frame);
      counters_pushes.fetch_add(1);
    };
    if (broadcast) {
      for (auto* s : sessions)
        if (s->authorized) deliver(s);
    } else if (const auto it = by_user.find(target); it != by_user.end()) {
      for (auto* s : it->second) deliver(s);
    }
    answer(message, true, {}, n.id);
  }

  /// Replies to a notification published as a request.
  void answer(const bus_message& message, bool ok, const std::string& error, std::uint64_t id) {
    if (message.reply.empty() || messages == nullptr) return;
    picojson::object o;
    o["ok"] = picojson::value(ok);
    if (ok) o["id"] = picojson::value(static_cast<std::int64_t>(id));
    if (!ok) o["error"] = picojson::value(error);
    try {
      messages->publish(message.reply, picojson::value(o).serialize());
    } catch (const bus_error&) {
      // The bus is closing.
    }
  }

  gateway_strand strand;
  tcp::acceptor acceptor;
  gateway_config config;
  session_limits limits;
  std::shared_ptr<asio::ssl::context> tls;
  notification_store store;
  service_logger log;
  credential_check users;  ///< authorize { users: true }
  bus* messages;  ///< null once stopping: replies are not sent any more
  std::set<session_base*> sessions;                          ///< open (upgraded) sessions
  std::map<std::string, std::set<session_base*>> by_user;    ///< authorized sessions per user
  bool stopping = false;
  std::uint16_t port = 0;

  /// Sessions started and not yet ended (upgrades included); stop() waits for 0.
  std::atomic<std::size_t> live{0};
  std::mutex live_mutex;
  std::condition_variable live_changed;

  std::atomic<std::uint64_t> counters_sessions{0}, counters_sessions_total{0}, counters_notifications{0},
      counters_rejected{0}, counters_pushes{0}, counters_requests{0};
};

gateway::gateway(asio::any_io_executor executor, bus& messages, gateway_config config, service_logger log,
                 credential_check users)
    : state_(std::make_shared<state>(std::move(executor), messages, std::move(config), std::move(log),
                                     std::move(users))),
      bus_(messages) {}

gateway::~gateway() { stop(); }

void gateway::start() {
  auto& s = *state_;
  tcp::resolver resolver(s.strand);
  boost::system::error_code error;
  const auto endpoints = resolver.resolve(s.config.host, std::to_string(s.config.port), error);
  const std::string where = s.config.host + ":" + std::to_string(s.config.port);
  if (error || endpoints.empty())
    throw std::runtime_error("mss.notifications: cannot resolve " + where + ": " + error.message());
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  broker::listen_tcp(s.acceptor, endpoint, error);
  if (error) throw std::runtime_error("mss.notifications: cannot listen on " + where + ": " + error.message());
  s.port = s.acceptor.local_endpoint().port();
  const std::string subject = s.config.subject_prefix + ".*";
  std::weak_ptr<state> weak = state_;
  try {
    subscription_ = bus_.subscribe(subject, "", [weak](bus_message message) {
      if (auto self = weak.lock())
        asio::post(self->strand, [self, message = std::move(message)] { self->on_message(message); });
    });
  } catch (const bus_error& e) {
    throw std::runtime_error(std::string("mss.notifications: cannot subscribe to ") + subject + ": " + e.what());
  }
  started_ = true;
  asio::post(s.strand, [self = state_] { self->do_accept(); });
  s.write(service_log_level::info, "notifications: listening on " + std::string(s.tls ? "wss" : "ws") + "://" +
                                       s.config.host + ":" + std::to_string(s.port) + s.config.path + " for " +
                                       subject + (s.config.store.empty() ? "" : ", kept in " + s.config.store));
}

void gateway::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (subscription_ != 0) bus_.unsubscribe(subscription_);
  if (!started_) return;
  auto done = std::make_shared<std::promise<void>>();
  asio::post(state_->strand, [self = state_, done] {
    self->stopping = true;
    self->messages = nullptr;
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
    for (auto* s : self->sessions) s->close(1001, "going away");
    done->set_value();
  });
  // Bounded: a stopped executor never runs the post.
  if (done->get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) return;
  std::unique_lock lock(state_->live_mutex);
  state_->live_changed.wait_for(lock, std::chrono::seconds(3), [this] { return state_->live.load() == 0; });
}

std::uint16_t gateway::port() const { return state_->port; }

std::string gateway::listener() const { return state_->config.host + ":" + std::to_string(state_->port); }

gateway_stats gateway::stats() const {
  const auto& s = *state_;
  return gateway_stats{s.counters_sessions.load(),      s.counters_sessions_total.load(), s.counters_notifications.load(),
                       s.counters_rejected.load(),      s.counters_pushes.load(),         s.counters_requests.load()};
}

}  // namespace courier::mss::notify
