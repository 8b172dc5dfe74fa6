#include "mss/audit/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <vector>

#include <picojson.h>

#include "mss/common/json_util.hpp"
#include "mss/peers/mail_message.hpp"

namespace courier::mss {
namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string audit_log::format_time(std::chrono::system_clock::time_point time) {
  const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(since_epoch / 1000);
  long long millis = since_epoch % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return buffer;
}

std::string audit_log::format_record(const audit_record& record) {
  picojson::object object;
  // Subjects come from the broker and are printable; a non-UTF-8 subject
  // would still make an invalid line, so it is base64'd like payloads.
  object["subject"] = picojson::value(valid_utf8(record.subject) ? record.subject : base64_encode(record.subject));
  object["received"] = picojson::value(format_time(record.received));
  picojson::value message;
  std::string error;
  if (!valid_utf8(record.payload)) {
    object["message_base64"] = picojson::value(base64_encode(record.payload));
  } else if (parse_json_document(record.payload, message, error)) {
    if (message.is<picojson::object>()) {
      const auto& fields = message.get<picojson::object>();
      if (auto it = fields.find("correlationId"); it != fields.end()) object["correlationId"] = it->second;
    }
    object["message"] = std::move(message);
  } else {
    object["message"] = picojson::value(record.payload);
  }
  // Compact serialisation escapes control characters, so the record is
  // always exactly one line.
  return picojson::value(std::move(object)).serialize(false);
}

audit_log::audit_log(audit_log_options options) : options_(std::move(options)) {
  if (options_.max_files == 0) options_.max_files = 1;
  open_file();
  writer_ = std::thread([this] { writer_loop(); });
}

audit_log::~audit_log() {
  if (writer_.joinable() && writer_.get_id() == std::this_thread::get_id()) {
    // The last owner was released on the writer thread, by a callback or
    // its captured state (e.g. an audit handler's completion holds the
    // handler, which holds this log). A thread cannot join itself, and
    // destroying a joinable std::thread calls std::terminate. So drain the
    // queue here, tell writer_loop (further up this stack) to return
    // without touching *this, and detach.
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    std::vector<pending> batch;
    std::string data;
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (!take_batch(batch)) break;
      }
      write_and_acknowledge(batch, data);
    }
    if (destroyed_flag_) *destroyed_flag_ = true;
    writer_.detach();
  } else {
    close();
  }
  if (fd_ >= 0) ::close(fd_);
}

void audit_log::open_file() {
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, options_.file_mode);
  if (fd_ < 0) throw std::system_error(last_error(), "cannot open audit log '" + options_.path + "'");
  struct stat info {};
  if (::fstat(fd_, &info) != 0) throw std::system_error(last_error(), "cannot stat audit log '" + options_.path + "'");
  size_ = static_cast<std::uint64_t>(info.st_size);
  if (size_ > 0) {
    // A crash during an unacknowledged write can leave a line without its
    // newline; cut it so the next record starts on a line of its own.
    const int reader = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (reader < 0) throw std::system_error(last_error(), "cannot read audit log '" + options_.path + "'");
    std::uint64_t keep = size_;
    std::vector<char> chunk(4096);
    bool found = false;
    while (keep > 0 && !found) {
      const std::uint64_t start = keep > chunk.size() ? keep - chunk.size() : 0;
      const ssize_t got = ::pread(reader, chunk.data(), static_cast<std::size_t>(keep - start),
                                  static_cast<off_t>(start));
      if (got <= 0) break;
      for (ssize_t i = got; i > 0; --i) {
        if (chunk[static_cast<std::size_t>(i - 1)] == '\n') {
          keep = start + static_cast<std::uint64_t>(i);
          found = true;
          break;
        }
      }
      if (!found) keep = start;
    }
    ::close(reader);
    if (keep != size_) {
      if (::ftruncate(fd_, static_cast<off_t>(keep)) != 0)
        throw std::system_error(last_error(), "cannot truncate torn tail of '" + options_.path + "'");
      stats_.torn_bytes_dropped += size_ - keep;
      size_ = keep;
      if (options_.sync) ::fdatasync(fd_);
    }
  }
  stats_.file_bytes = size_;  // no writer thread yet
  // Make the file's directory entry durable too.
  if (options_.sync) {
    if (auto ec = sync_directory())
      throw std::system_error(ec, "cannot sync directory of '" + options_.path + "'");
  }
}

void audit_log::append(audit_record record, audit_callback on_durable) {
  std::string line = format_record(record);
  line += '\n';
  {
    std::lock_guard lock(mutex_);
    if (!closing_) {
      queue_.push_back({std::move(line), std::move(on_durable)});
      wake_.notify_one();
      return;
    }
  }
  if (on_durable) on_durable(std::make_error_code(std::errc::operation_canceled));
}

void audit_log::close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_ && !writer_.joinable()) return;
    closing_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

audit_log_stats audit_log::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool audit_log::take_batch(std::vector<pending>& batch) {
  if (queue_.empty()) return false;
  std::size_t bytes = 0;
  while (!queue_.empty() && (batch.empty() || bytes + queue_.front().line.size() <= options_.max_batch_bytes)) {
    bytes += queue_.front().line.size();
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

void audit_log::write_and_acknowledge(std::vector<pending>& batch, std::string& data) {
  data.clear();
  for (const auto& item : batch) data += item.line;

  // A rotation that fails leaves the live file as it was: the batch goes
  // there (past max_bytes) rather than failing, and the next batch tries
  // to rotate again.
  bool rotated = false;
  bool rotation_failed = false;
  if (size_ > 0 && size_ + data.size() > options_.max_bytes) {
    const std::error_code rotation = rotate();
    rotated = !rotation;
    rotation_failed = !rotated;
  }
  const std::error_code ec = write_batch(data);
  {
    std::lock_guard lock(mutex_);
    if (rotated) ++stats_.rotations;
    if (rotation_failed) ++stats_.rotation_failures;
    stats_.file_bytes = size_;
    if (ec) {
      stats_.failures += batch.size();
    } else {
      stats_.records += batch.size();
      ++stats_.batches;
    }
  }
  // From here on *this may be destroyed (by a callback, or by releasing
  // one): only `batch` and `ec` are used.
  for (auto& item : batch) {
    if (!item.callback) continue;
    try {
      item.callback(ec);
    } catch (...) {
      // A throwing callback must not kill the writer thread.
    }
  }
  batch.clear();
}

void audit_log::writer_loop() {
  bool destroyed = false;
  destroyed_flag_ = &destroyed;
  std::vector<pending> batch;
  std::string data;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (!take_batch(batch)) return;  // closing and drained
    }
    write_and_acknowledge(batch, data);
    if (destroyed) return;  // the destructor ran on this thread: touch nothing
  }
}

std::error_code audit_log::write_batch(const std::string& data) {
  if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  const std::uint64_t before = size_;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::error_code ec = last_error();
      // Remove the partial batch: a later batch must not follow a torn line.
      if (::ftruncate(fd_, static_cast<off_t>(before)) == 0) size_ = before;
      return ec;
    }
    done += static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  if (options_.sync && ::fdatasync(fd_) != 0) {
    const std::error_code ec = last_error();
    // After a failed fdatasync the page cache state is unknown (the
    // "fsyncgate" lesson): report failure, and try to drop the batch.
    if (::ftruncate(fd_, static_cast<off_t>(before)) == 0) size_ = before;
    return ec;
  }
  return {};
}

std::error_code audit_log::rotate() {
  // The next live file is created first, under a name of its own: when
  // that fails (no inode or descriptor left, a stray directory in the
  // way), nothing has been renamed and the log keeps its live file, so
  // retrying at the next batch cannot shift (and drop) the rotated files
  // again and again. A stale `.next` from a crash in between is reused.
  const std::string next = options_.path + ".next";
  const int fresh = ::open(next.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, options_.file_mode);
  if (fresh < 0) return last_error();
  const auto give_up = [&] {
    const std::error_code ec = last_error();
    ::close(fresh);
    ::unlink(next.c_str());
    return ec;
  };
  // Make room for path.1: shift the files up to the first free number (or
  // up to max_files, whose file, the oldest, is dropped), no further.
  unsigned free_slot = 1;
  while (free_slot < options_.max_files &&
         ::access((options_.path + "." + std::to_string(free_slot)).c_str(), F_OK) == 0)
    ++free_slot;
  for (unsigned i = free_slot; i > 1; --i) {
    const std::string from = options_.path + "." + std::to_string(i - 1);
    const std::string to = options_.path + "." + std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return give_up();
  }
  const std::string first = options_.path + ".1";
  if (::rename(options_.path.c_str(), first.c_str()) != 0) return give_up();
  if (::rename(next.c_str(), options_.path.c_str()) != 0) {
    // Put the live file back; writes go on there.
    const std::error_code ec = give_up();
    ::rename(first.c_str(), options_.path.c_str());
    return ec;
  }
  ::close(fd_);
  fd_ = fresh;
  size_ = 0;
  if (options_.sync) return sync_directory();
  return {};
}

std::error_code audit_log::sync_directory() {
  const std::string directory = directory_of(options_.path);
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return last_error();
  std::error_code ec;
  if (::fsync(dir) != 0) ec = last_error();
  ::close(dir);
  return ec;
}

}  // namespace courier::mss
