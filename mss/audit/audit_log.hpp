// Durable, append-only audit trail: one JSON object per line (JSON Lines).
//
// Record format (keys in this order of importance; picojson writes them
// sorted):
//   {"correlationId": ...,          only when the message is a JSON object with one
//    "message": <JSON or string>,   the payload as JSON when it parses, else a string
//    "message_base64": "...",       instead of "message" when the payload is not UTF-8
//    "received": "2024-05-01T12:00:00.123Z",  RFC 3339 UTC, millisecond precision
//    "subject": "kiam.audit.login"}
//
// Durability contract: a record's callback is invoked with success only
// after the line has been write()n completely AND the file fdatasync()ed
// (and, after a rotation or creation, the directory fsync()ed). A record
// acknowledged that way survives kill -9 and power loss. Lines are written
// whole, batch by batch, by one writer thread; a failed write is truncated
// away, so an acknowledged line is never torn. A torn tail left by a crash
// during an UNacknowledged write is cut off when the log is opened again
// (counted in stats().torn_bytes_dropped).
//
// Group commit: records appended while the writer is syncing are written
// together and share one fdatasync, so throughput grows with concurrency.
//
// Rotation: before a batch that would take the file past max_bytes, the
// file is renamed to path.1 (path.1 to path.2, ... up to path.<max_files>,
// the oldest is dropped) and a new file is started. Records are never split
// across files; a single batch larger than max_bytes still goes whole into
// a fresh file. The new file is created (as path.next) before anything is
// renamed: when that or a rename fails, the live file stays where it was,
// the batch is written to it past max_bytes (counted in
// stats().rotation_failures), and the next batch tries again; the rotated
// files are never shifted by a rotation that did not happen.
//
// Thread safety: append() may be called from any thread. Callbacks run on
// the writer thread: keep them short (post to your own executor if needed).
// A callback may own (directly or through captured state) the last
// reference to the log, so the log may be destroyed on its own writer
// thread; the destructor then drains the queue itself and lets the writer
// thread end without touching the destroyed object.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace courier::mss {

/// Where and how the audit trail is kept.
struct audit_log_options {
  std::string path;                             ///< the live file; rotated ones get .1, .2, ...
  std::uint64_t max_bytes = 64ull << 20;        ///< rotate before exceeding this size
  unsigned max_files = 10;                      ///< rotated files kept (>= 1)
  bool sync = true;                             ///< fdatasync before acknowledging (keep on!)
  std::size_t max_batch_bytes = 4u << 20;       ///< cap on one group commit's size
  unsigned file_mode = 0640;                    ///< permissions of new files (audit data is sensitive)
};

/// One message to record.
struct audit_record {
  std::string subject;   ///< NATS subject it arrived on
  std::string payload;   ///< raw message payload
  std::chrono::system_clock::time_point received = std::chrono::system_clock::now();  ///< receive time
};

/// Called once per record: empty error = durable.
using audit_callback = std::function<void(std::error_code)>;

/// Counters for monitoring and tests.
struct audit_log_stats {
  std::uint64_t records = 0;             ///< records made durable
  std::uint64_t batches = 0;             ///< group commits (fdatasync calls)
  std::uint64_t rotations = 0;           ///< files rotated
  std::uint64_t rotation_failures = 0;   ///< rotations that could not be made (batch written to the live file)
  std::uint64_t failures = 0;            ///< records whose write or sync failed
  std::uint64_t torn_bytes_dropped = 0;  ///< bytes of a torn tail cut off at open
  std::uint64_t file_bytes = 0;          ///< size of the live file (after the last batch)
};

/// The append-only JSON-lines writer. Not copyable or movable.
class audit_log {
 public:
  /// Opens (or creates) options.path and starts the writer thread.
  /// Throws std::system_error when the file cannot be opened (startup error).
  explicit audit_log(audit_log_options options);
  /// Writes everything queued, acknowledges it, and stops.
  ~audit_log();
  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;

  /// Queues `record`; `on_durable` (optional) runs once it is on disk or has
  /// failed. After close(), the callback runs at once, on the calling
  /// thread, with std::errc::operation_canceled.
  void append(audit_record record, audit_callback on_durable = {});

  /// Drains the queue and stops the writer thread; later appends fail.
  void close();

  /// The live file's path.
  const std::string& path() const { return options_.path; }

  /// Snapshot of the counters.
  audit_log_stats stats() const;

  /// The JSON line for `record`, without the trailing newline.
  static std::string format_record(const audit_record& record);

  /// RFC 3339 UTC text with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
  static std::string format_time(std::chrono::system_clock::time_point time);

 private:
  struct pending {
    std::string line;  ///< with trailing '\n'
    audit_callback callback;
  };

  void writer_loop();
  /// Moves queued records (up to max_batch_bytes) into `batch`; false when
  /// the queue is empty. The caller holds mutex_.
  bool take_batch(std::vector<pending>& batch);
  /// Writes `batch`, updates the counters, runs and then drops the
  /// callbacks. Writer thread only. The log may be destroyed while this
  /// runs (by a callback); it touches no member after the callbacks start.
  void write_and_acknowledge(std::vector<pending>& batch, std::string& data);
  void open_file();
  std::error_code write_batch(const std::string& data);
  std::error_code rotate();
  std::error_code sync_directory();

  audit_log_options options_;
  int fd_ = -1;              ///< writer thread only (and constructor/destructor)
  std::uint64_t size_ = 0;   ///< current file size; writer thread only

  mutable std::mutex mutex_;  ///< guards queue_, closing_, stats_
  std::condition_variable wake_;
  std::deque<pending> queue_;
  bool closing_ = false;
  audit_log_stats stats_;
  std::thread writer_;
  /// Points at a flag on the writer thread's stack; set by a destructor
  /// that runs on the writer thread, telling writer_loop to return without
  /// touching members. Writer thread only.
  bool* destroyed_flag_ = nullptr;
};

}  // namespace courier::mss
