#include "mss/notify/notification_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "mss/common/json_util.hpp"

namespace courier::mss::notify {
namespace {

std::runtime_error file_error(const std::string& what, const std::string& path) {
  return std::runtime_error("notification store " + path + ": " + what + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw file_error("write failed", path);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

notification_store::notification_store(std::size_t max_per_user, std::string file)
    : max_per_user_(std::max<std::size_t>(max_per_user, 1)), file_(std::move(file)) {
  if (file_.empty()) return;
  load();
  rewrite();
}

notification_store::~notification_store() {
  if (fd_ >= 0) ::close(fd_);
}

notification notification_store::add(const std::string& user, bool broadcast, std::string type,
                                     picojson::value document, std::int64_t time_ms) {
  stored n{next_id_++, std::move(type), std::move(document), time_ms, false};
  auto& list = broadcast ? broadcast_ : users_[user].own;
  list.push_back(n);
  if (list.size() > max_per_user_) list.pop_front();
  if (broadcast) trim_broadcast_reads();
  if (fd_ >= 0) append_line(add_line(user, broadcast, n));
  return notification{n.id, n.type, n.document, n.time_ms, false, broadcast};
}

std::vector<notification> notification_store::view(const std::string& user) const {
  std::vector<notification> out;
  const auto it = users_.find(user);
  const user_state* state = it == users_.end() ? nullptr : &it->second;
  // Both lists are in id order (oldest first): merge them backwards.
  auto own = state == nullptr ? std::deque<stored>::const_reverse_iterator{} : state->own.rbegin();
  const auto own_end = state == nullptr ? own : state->own.rend();
  auto all = broadcast_.rbegin();
  out.reserve(static_cast<std::size_t>(std::distance(own, own_end)) + broadcast_.size());
  while (own != own_end || all != broadcast_.rend()) {
    const bool take_own = all == broadcast_.rend() || (own != own_end && own->id > all->id);
    if (take_own) {
      out.push_back({own->id, own->type, own->document, own->time_ms, own->read, false});
      ++own;
    } else {
      const bool read = state != nullptr && state->broadcast_read.count(all->id) != 0;
      out.push_back({all->id, all->type, all->document, all->time_ms, read, true});
      ++all;
    }
  }
  return out;
}

notification_page notification_store::list(const std::string& user, std::size_t offset, std::size_t limit,
                                            bool unread_only) const {
  notification_page page;
  std::size_t skipped = 0;
  for (auto& n : view(user)) {
    ++page.total;
    if (!n.read) ++page.unread;
    if (unread_only && n.read) continue;
    if (skipped < offset) {
      ++skipped;
      continue;
    }
    if (page.items.size() < limit) page.items.push_back(std::move(n));
  }
  return page;
}

std::size_t notification_store::unread(const std::string& user) const {
  std::size_t count = 0;
  for (const auto& n : view(user)) count += n.read ? 0 : 1;
  return count;
}

std::size_t notification_store::mark_read(const std::string& user, const std::vector<std::uint64_t>& ids) {
  const std::set<std::uint64_t> wanted(ids.begin(), ids.end());
  return mark(user, &wanted);
}

std::size_t notification_store::mark_all_read(const std::string& user) { return mark(user, nullptr); }

std::size_t notification_store::mark(const std::string& user, const std::set<std::uint64_t>* ids) {
  const auto wanted = [&](std::uint64_t id) { return ids == nullptr || ids->count(id) != 0; };
  picojson::array marked;
  auto& state = users_[user];
  for (auto& n : state.own) {
    if (n.read || !wanted(n.id)) continue;
    n.read = true;
    marked.emplace_back(static_cast<std::int64_t>(n.id));
  }
  for (const auto& n : broadcast_) {
    if (!wanted(n.id) || !state.broadcast_read.insert(n.id).second) continue;
    marked.emplace_back(static_cast<std::int64_t>(n.id));
  }
  if (fd_ >= 0 && !marked.empty()) {
    picojson::object line;
    line["op"] = picojson::value("read");
    line["user"] = picojson::value(user);
    line["ids"] = picojson::value(marked);
    append_line(picojson::value(line).serialize());
  }
  return marked.size();
}

void notification_store::trim_broadcast_reads() {
  if (broadcast_.empty()) return;
  const std::uint64_t oldest = broadcast_.front().id;
  for (auto& [name, state] : users_) {
    (void)name;
    state.broadcast_read.erase(state.broadcast_read.begin(), state.broadcast_read.lower_bound(oldest));
  }
}

std::string notification_store::add_line(const std::string& user, bool broadcast, const stored& n) const {
  picojson::object line;
  line["op"] = picojson::value("add");
  line["id"] = picojson::value(static_cast<std::int64_t>(n.id));
  if (broadcast) {
    line["broadcast"] = picojson::value(true);
  } else {
    line["user"] = picojson::value(user);
  }
  line["type"] = picojson::value(n.type);
  line["document"] = n.document;
  line["time"] = picojson::value(n.time_ms);
  if (n.read) line["read"] = picojson::value(true);
  return picojson::value(line).serialize();
}

void notification_store::load() {
  const int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;  // created by rewrite()
    throw file_error("cannot open", file_);
  }
  std::string data;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw file_error("cannot read", file_);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t start = 0;
  while (start < data.size()) {
    const std::size_t end = data.find('\n', start);
    if (end == std::string::npos) {  // torn: the process died during a write
      ++skipped_lines_;
      break;
    }
    apply_line(data.substr(start, end - start));
    start = end + 1;
  }
}

void notification_store::apply_line(const std::string& line) {
  picojson::value value;
  std::string error;
  if (!parse_json_document(line, value, error) || !value.is<picojson::object>()) {
    ++skipped_lines_;
    return;
  }
  const auto& o = value.get<picojson::object>();
  const auto field = [&](const char* key) -> const picojson::value* {
    const auto it = o.find(key);
    return it == o.end() ? nullptr : &it->second;
  };
  const auto* op = field("op");
  const auto* user = field("user");
  if (op != nullptr && op->is<std::string>() && op->get<std::string>() == "add") {
    const auto* id = field("id");
    const auto* type = field("type");
    const auto* document = field("document");
    const auto* time = field("time");
    const auto* broadcast = field("broadcast");
    const bool is_broadcast = broadcast != nullptr && broadcast->is<bool>() && broadcast->get<bool>();
    if (id == nullptr || !id->is<std::int64_t>() || id->get<std::int64_t>() <= 0 || type == nullptr ||
        !type->is<std::string>() || document == nullptr || time == nullptr || !time->is<std::int64_t>() ||
        (!is_broadcast && (user == nullptr || !user->is<std::string>()))) {
      ++skipped_lines_;
      return;
    }
    const auto read = field("read");
    stored n{static_cast<std::uint64_t>(id->get<std::int64_t>()), type->get<std::string>(), *document,
             time->get<std::int64_t>(), read != nullptr && read->is<bool>() && read->get<bool>()};
    next_id_ = std::max(next_id_, n.id + 1);
    auto& list = is_broadcast ? broadcast_ : users_[user->get<std::string>()].own;
    list.push_back(std::move(n));
    if (list.size() > max_per_user_) list.pop_front();
    if (is_broadcast) trim_broadcast_reads();
    return;
  }
  if (op != nullptr && op->is<std::string>() && op->get<std::string>() == "read" && user != nullptr &&
      user->is<std::string>()) {
    const auto* ids = field("ids");
    if (ids == nullptr || !ids->is<picojson::array>()) {
      ++skipped_lines_;
      return;
    }
    std::vector<std::uint64_t> list;
    for (const auto& id : ids->get<picojson::array>())
      if (id.is<std::int64_t>() && id.get<std::int64_t>() > 0) list.push_back(static_cast<std::uint64_t>(id.get<std::int64_t>()));
    mark_read(user->get<std::string>(), list);  // fd_ is not open yet: nothing is appended
    return;
  }
  ++skipped_lines_;
}

void notification_store::append_line(const std::string& line) {
  write_all(fd_, line + "\n", file_);
  ++lines_in_file_;
  std::size_t live = broadcast_.size();
  for (const auto& [name, state] : users_) {
    (void)name;
    live += state.own.size() + state.broadcast_read.size();
  }
  if (lines_in_file_ > 4 * live + 64) rewrite();
}

void notification_store::rewrite() {
  std::string text;
  std::size_t lines = 0;
  // Adds in id order, so that a reload sees each list oldest first.
  std::vector<std::pair<std::uint64_t, std::string>> adds;
  for (const auto& n : broadcast_) adds.emplace_back(n.id, add_line({}, true, n));
  for (const auto& [name, state] : users_)
    for (const auto& n : state.own) adds.emplace_back(n.id, add_line(name, false, n));
  std::sort(adds.begin(), adds.end());
  for (const auto& [id, line] : adds) {
    (void)id;
    text += line + "\n";
    ++lines;
  }
  for (const auto& [name, state] : users_) {
    if (state.broadcast_read.empty()) continue;
    picojson::array ids;
    for (const auto id : state.broadcast_read) ids.emplace_back(static_cast<std::int64_t>(id));
    picojson::object line;
    line["op"] = picojson::value("read");
    line["user"] = picojson::value(name);
    line["ids"] = picojson::value(ids);
    text += picojson::value(line).serialize() + "\n";
    ++lines;
  }
  const std::string temporary = file_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) throw file_error("cannot create", temporary);
  try {
    write_all(fd, text, temporary);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw file_error("cannot write", temporary);
  if (::rename(temporary.c_str(), file_.c_str()) != 0) throw file_error("cannot replace", file_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) throw file_error("cannot open", file_);
  lines_in_file_ = lines;
}

}  // namespace courier::mss::notify
