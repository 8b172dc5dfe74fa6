// The notifications the gateway keeps: per user, newest first, bounded, with
// a read flag; plus the broadcast ones (published to `<prefix>.all`), which
// every user sees beside their own and marks read for themselves.
//
// Ids are one increasing sequence over all users, so newer means larger and
// a user's view (own + broadcast) merges by id.
//
// Persistence (optional): a JSON Lines file the store appends each change to
// (an added notification, ids marked read) with one write(2) each, so what
// was accepted survives a restart or a crash of the process (not a power
// loss: no fsync). Opening replays it, drops a torn last line (a crash
// during a write), and rewrites it compacted (only what the bounds kept);
// it is compacted again whenever it has grown to four times that.
//
// Not thread-safe: the gateway touches it on its strand only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <picojson.h>

namespace courier::mss::notify {

/// One notification as a user sees it.
struct notification {
  std::uint64_t id = 0;
  std::string type;
  picojson::value document;
  std::int64_t time_ms = 0;  ///< when it arrived, milliseconds since the epoch
  bool read = false;         ///< for this user
  bool broadcast = false;    ///< sent to everyone (`<prefix>.all`)
};

/// A page of a user's notifications, newest first.
struct notification_page {
  std::vector<notification> items;
  std::size_t total = 0;   ///< the user's notifications (own + broadcast)
  std::size_t unread = 0;  ///< of those, unread
};

class notification_store {
 public:
  /// Keeps at most `max_per_user` notifications per user, and as many
  /// broadcast ones. With a `file`, loads it (creating it when absent) and
  /// appends every change to it; throws std::runtime_error when it cannot
  /// be opened, read or written.
  explicit notification_store(std::size_t max_per_user, std::string file = {});
  ~notification_store();
  notification_store(const notification_store&) = delete;
  notification_store& operator=(const notification_store&) = delete;

  /// Adds a notification for `user`, or for everyone when `broadcast`.
  /// Returns it (with its id).
  notification add(const std::string& user, bool broadcast, std::string type, picojson::value document,
                   std::int64_t time_ms);

  /// `limit` of `user`'s notifications after skipping `offset`, newest
  /// first; only unread ones when `unread_only` (totals count all).
  notification_page list(const std::string& user, std::size_t offset, std::size_t limit, bool unread_only) const;

  /// Marks `ids` read for `user` (unknown ids and ids of other users are
  /// ignored). Returns how many were unread before.
  std::size_t mark_read(const std::string& user, const std::vector<std::uint64_t>& ids);
  /// Marks all of `user`'s notifications read; returns how many were unread.
  std::size_t mark_all_read(const std::string& user);
  /// `user`'s unread notifications.
  std::size_t unread(const std::string& user) const;

  /// Lines of the file that could not be used when it was opened (a torn
  /// last line included).
  std::size_t skipped_lines() const { return skipped_lines_; }

 private:
  struct stored {
    std::uint64_t id;
    std::string type;
    picojson::value document;
    std::int64_t time_ms;
    bool read;  ///< own notifications only; broadcast reads are per user
  };
  struct user_state {
    std::deque<stored> own;                 ///< oldest first
    std::set<std::uint64_t> broadcast_read; ///< ids of broadcast notifications this user has read
  };

  /// Every notification `user` sees, newest first, with its read flag.
  std::vector<notification> view(const std::string& user) const;
  std::size_t mark(const std::string& user, const std::set<std::uint64_t>* ids);
  void trim_broadcast_reads();

  void load();
  void apply_line(const std::string& line);
  void append_line(const std::string& line);
  void rewrite();
  std::string add_line(const std::string& user, bool broadcast, const stored& n) const;

  std::size_t max_per_user_;
  std::string file_;
  int fd_ = -1;
  std::size_t lines_in_file_ = 0;
  std::size_t skipped_lines_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::string, user_state> users_;
  std::deque<stored> broadcast_;  ///< oldest first
};

}  // namespace courier::mss::notify
