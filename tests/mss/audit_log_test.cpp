// Audit log: record format, acknowledgement after the write, group commit
// under concurrency, size rotation, torn-tail repair, and durability of
// acknowledged records across kill -9 (a child process - this test binary
// re-executed - appends and acknowledges, the parent SIGKILLs it and reads
// the files).
#include "mss/audit/audit_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <regex>
#include <set>

#include <picojson.h>

#include "mss/common/json_util.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using test::temp_dir;

picojson::object parse_line(const std::string& line) {
  picojson::value v;
  std::string error;
  EXPECT_TRUE(parse_json_document(line, v, error)) << error << " in: " << line.substr(0, 200);
  EXPECT_TRUE(v.is<picojson::object>());
  return v.is<picojson::object>() ? v.get<picojson::object>() : picojson::object{};
}

audit_record record(std::string subject, std::string payload) {
  audit_record r;
  r.subject = std::move(subject);
  r.payload = std::move(payload);
  return r;
}

TEST(AuditLogFormat, JsonPayloadIsEmbeddedWithCorrelationId) {
  audit_record r = record("kiam.audit.login", R"({"user":"alice","correlationId":"c-42","n":9007199254740993})");
  r.received = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714564800123));
  const std::string line = audit_log::format_record(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto o = parse_line(line);
  EXPECT_EQ(o.at("subject").get<std::string>(), "kiam.audit.login");
  EXPECT_EQ(o.at("received").get<std::string>(), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(o.at("correlationId").get<std::string>(), "c-42");
  ASSERT_TRUE(o.at("message").is<picojson::object>());
  EXPECT_EQ(o.at("message").get<picojson::object>().at("user").get<std::string>(), "alice");
  EXPECT_EQ(o.at("message").get<picojson::object>().at("n").get<std::int64_t>(), 9007199254740993);
}

TEST(AuditLogFormat, NonJsonAndOddPayloads) {
  // Not JSON: kept as a string.
  auto o = parse_line(audit_log::format_record(record("a.b", "plain text\nwith newline")));
  EXPECT_EQ(o.at("message").get<std::string>(), "plain text\nwith newline");
  EXPECT_EQ(o.count("correlationId"), 0u);
  // JSON followed by garbage is not JSON.
  o = parse_line(audit_log::format_record(record("a.b", "{} trailing")));
  EXPECT_EQ(o.at("message").get<std::string>(), "{} trailing");
  // Pretty-printed JSON still makes one line.
  const std::string line = audit_log::format_record(record("a.b", "{\n  \"correlationId\": 7\n}\n"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  o = parse_line(line);
  EXPECT_EQ(o.at("correlationId").get<std::int64_t>(), 7);
  // Invalid UTF-8: base64 instead of a broken line.
  o = parse_line(audit_log::format_record(record("a.b", std::string("\xff\xfe\x00z", 4))));
  EXPECT_EQ(o.count("message"), 0u);
  EXPECT_EQ(o.at("message_base64").get<std::string>(), "//4Aeg==");
  // Empty payload: an empty string message.
  o = parse_line(audit_log::format_record(record("a.b", "")));
  EXPECT_EQ(o.at("message").get<std::string>(), "");
  // Control characters are escaped.
  o = parse_line(audit_log::format_record(record("a.b", std::string("x\x01\ty", 4))));
  EXPECT_EQ(o.at("message").get<std::string>(), std::string("x\x01\ty", 4));
}

TEST(AuditLogFormat, TimeFormat) {
  const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(audit_log::format_time(std::chrono::system_clock::now()), rfc3339));
  EXPECT_EQ(audit_log::format_time(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST(AuditLog, AcknowledgedRecordIsInTheFile) {
  temp_dir dir;
  audit_log_options options;
  options.path = dir.file("audit.jsonl");
  audit_log log(options);
  std::promise<std::error_code> acked;
  log.append(record("kiam.audit.x", R"({"correlationId":"abc"})"), [&](std::error_code ec) {
    // At acknowledgement time the complete line is already in the file.
    const auto lines = test::read_lines(options.path);
    EXPECT_EQ(lines.size(), 1u);
    if (!lines.empty()) {
      EXPECT_EQ(parse_line(lines[0]).at("correlationId").get<std::string>(), "abc");
    }
    acked.set_value(ec);
  });
  auto f = acked.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(f.get());
  EXPECT_EQ(log.stats().records, 1u);
  EXPECT_EQ(std::filesystem::status(options.path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(AuditLog, ConcurrentAppendersAreGroupCommittedWithoutInterleaving) {
  temp_dir dir;
  audit_log_options options;
  options.path = dir.file("audit.jsonl");
  constexpr int threads = 8;
  constexpr int per_thread = 300;
  std::atomic<int> acked{0};
  std::atomic<int> failed{0};
  audit_log_stats stats;
  {
    audit_log log(options);
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const std::string payload = R"({"thread":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i) +
                                      R"(,"pad":")" + std::string(static_cast<std::size_t>(i % 97), 'p') + "\"}";
          log.append(record("kiam.audit.t" + std::to_string(t), payload), [&](std::error_code ec) {
            ec ? ++failed : ++acked;
          });
        }
      });
    }
    for (auto& w : writers) w.join();
    log.close();  // drains and acknowledges everything queued
    stats = log.stats();
  }
  EXPECT_EQ(acked, threads * per_thread);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(stats.records, static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_LE(stats.batches, stats.records);
  const auto lines = test::read_lines(options.path);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(threads * per_thread));
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  std::vector<std::int64_t> last_i(threads, -1);
  for (const auto& line : lines) {
    const auto o = parse_line(line);
    const auto& m = o.at("message").get<picojson::object>();
    const auto t = m.at("thread").get<std::int64_t>();
    const auto i = m.at("i").get<std::int64_t>();
    seen.insert({t, i});
    // Each thread's records appear in the order it appended them.
    EXPECT_GT(i, last_i[static_cast<std::size_t>(t)]);
    last_i[static_cast<std::size_t>(t)] = i;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(threads * per_thread));
}

TEST(AuditLog, RotatesBySizeKeepingMaxFiles) {
  temp_dir dir;
  audit_log_options options;
  options.path = dir.file("audit.jsonl");
  options.max_bytes = 1000;
  options.max_files = 3;
  audit_log_stats stats;
  {
    audit_log log(options);
    for (int i = 0; i < 60; ++i) {
      std::promise<void> done;
      log.append(record("s", R"({"i":)" + std::to_string(i) + "}"), [&](std::error_code) { done.set_value(); });
      done.get_future().wait();  // one record per batch: deterministic rotation
    }
    stats = log.stats();
  }
  EXPECT_GT(stats.rotations, 3u);
  EXPECT_TRUE(std::filesystem::exists(options.path + ".3"));
  EXPECT_FALSE(std::filesystem::exists(options.path + ".4"));
  std::int64_t previous = -1;
  for (const std::string suffix : {".3", ".2", ".1", ""}) {
    const std::string file = options.path + suffix;
    EXPECT_LE(std::filesystem::file_size(file), options.max_bytes) << file;
    const auto lines = test::read_lines(file);
    EXPECT_FALSE(lines.empty()) << file;
    for (const auto& line : lines) {
      const auto i = parse_line(line).at("message").get<picojson::object>().at("i").get<std::int64_t>();
      EXPECT_EQ(i, previous + 1 == 0 ? i : previous + 1) << file;  // consecutive, oldest file first
      previous = i;
    }
  }
  EXPECT_EQ(previous, 59);
}

// A rotation that cannot be made (here: a directory where the next live
// file must be created; root ignores permissions, so a mode would not do)
// fails nothing: the records go to the live file past max_bytes, the
// rotated files are left exactly as they were however many batches try
// again, and rotation resumes once the obstacle is gone.
TEST(AuditLog, RotationThatCannotBeMadeLosesNothing) {
  temp_dir dir;
  audit_log_options options;
  options.path = dir.file("audit.jsonl");
  options.max_bytes = 1000;
  options.max_files = 2;
  audit_log log(options);
  int next = 0;
  const auto write_one = [&] {
    std::promise<std::error_code> done;
    log.append(record("s", R"({"i":)" + std::to_string(next++) + "}"), [&](std::error_code ec) { done.set_value(ec); });
    return done.get_future().get();  // one record per batch: deterministic rotation
  };
  while (log.stats().rotations < 2) ASSERT_FALSE(write_one());
  const auto first = test::read_lines(options.path + ".1");
  const auto second = test::read_lines(options.path + ".2");
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());

  std::filesystem::create_directory(options.path + ".next");
  const int blocked_from = next;
  for (int i = 0; i < 40; ++i) EXPECT_FALSE(write_one()) << "record " << next - 1 << " was not acknowledged";
  const auto stats = log.stats();
  EXPECT_EQ(stats.rotations, 2u);
  EXPECT_GE(stats.rotation_failures, 20u);  // every batch once the file is full
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(test::read_lines(options.path + ".1"), first);
  EXPECT_EQ(test::read_lines(options.path + ".2"), second);
  const auto live = test::read_lines(options.path);
  EXPECT_GT(std::filesystem::file_size(options.path), options.max_bytes);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(parse_line(live.back()).at("message").get<picojson::object>().at("i").get<std::int64_t>(), next - 1);

  std::filesystem::remove(options.path + ".next");
  ASSERT_FALSE(write_one());
  EXPECT_EQ(log.stats().rotations, 3u);
  EXPECT_EQ(test::read_lines(options.path + ".1"), live) << "the live file became .1";
  EXPECT_EQ(test::read_lines(options.path + ".2"), first) << ".1 became .2; the oldest, .2, was dropped";
  EXPECT_FALSE(std::filesystem::exists(options.path + ".3"));
  EXPECT_FALSE(std::filesystem::exists(options.path + ".next"));
  EXPECT_EQ(test::read_lines(options.path).size(), 1u);
  EXPECT_GE(next - blocked_from, 40);
}

TEST(AuditLog, TornTailIsCutOnOpen) {
  temp_dir dir;
  const std::string path = dir.file("audit.jsonl");
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"subject\":\"ok\"}\n{\"subject\":\"tor";
  }
  audit_log_options options;
  options.path = path;
  {
    audit_log log(options);
    EXPECT_EQ(log.stats().torn_bytes_dropped, 15u);
    std::promise<void> done;
    log.append(record("after", "{}"), [&](std::error_code) { done.set_value(); });
    done.get_future().wait();
  }
  const auto lines = test::read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_line(lines[0]).at("subject").get<std::string>(), "ok");
  EXPECT_EQ(parse_line(lines[1]).at("subject").get<std::string>(), "after");
}

TEST(AuditLog, AppendAfterCloseFailsAtOnce) {
  temp_dir dir;
  audit_log_options options;
  options.path = dir.file("audit.jsonl");
  audit_log log(options);
  log.close();
  std::error_code result;
  bool called = false;
  log.append(record("s", "{}"), [&](std::error_code ec) {
    called = true;
    result = ec;
  });
  EXPECT_TRUE(called);
  EXPECT_EQ(result, std::make_error_code(std::errc::operation_canceled));
}

// A callback, or the state it captures, may hold the last reference to the
// log (the audit handler's completion holds the handler, which holds the
// log), so the log can be destroyed on its own writer thread. That used to
// destroy a joinable std::thread - "terminate called without an active
// exception" - seen in CI as DispatcherTest.ExpiredEventIsNotRunButExpired-
// AuditIsRecorded. The log must instead go away cleanly, still making a
// record queued meanwhile durable and acknowledging it.
TEST(AuditLog, LastReferenceReleasedOnTheWriterThread) {
  temp_dir dir;
  audit_log_options options;
  options.path = dir.file("audit.jsonl");
  auto log = std::make_shared<audit_log>(options);
  const std::weak_ptr<audit_log> watch = log;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto first = std::make_shared<std::promise<std::error_code>>();
  auto second = std::make_shared<std::promise<std::error_code>>();
  log->append(record("a.first", "1"), [keep = log, released, first](std::error_code ec) {
    first->set_value(ec);
    released.wait();  // until the test has dropped its own reference
  });
  auto first_done = first->get_future();
  ASSERT_EQ(first_done.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(first_done.get());
  // Queued while the writer is inside the first callback: the destructor,
  // running on the writer thread, has to write and acknowledge it.
  log->append(record("a.second", "2"), [second](std::error_code ec) { second->set_value(ec); });
  log.reset();
  release.set_value();  // the callback returns; dropping it destroys the log
  auto second_done = second->get_future();
  ASSERT_EQ(second_done.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(second_done.get());
  EXPECT_TRUE(test::wait_until([&] { return watch.expired(); }));
  const auto lines = test::read_lines(options.path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_line(lines[0]).at("subject").get<std::string>(), "a.first");
  EXPECT_EQ(parse_line(lines[1]).at("subject").get<std::string>(), "a.second");
}

TEST(AuditLog, UnopenableFileThrows) {
  audit_log_options options;
  options.path = "/nonexistent-dir-for-courier-test/audit.jsonl";
  EXPECT_THROW(audit_log log(options), std::system_error);
}

// ---- kill -9 -----------------------------------------------------------

constexpr const char* child_env = "COURIER_AUDIT_CHILD_PATH";

/// Runs only inside the child process started by the kill -9 test: appends
/// records from several threads forever and prints "ACK <id>" for each
/// record once its callback reported it durable.
TEST(AuditLogChild, AppendAndAcknowledgeUntilKilled) {
  const char* path = std::getenv(child_env);
  if (path == nullptr) GTEST_SKIP() << "helper for AuditLogCrash; runs only in its child process";
  audit_log_options options;
  options.path = path;
  options.max_bytes = 64 * 1024;  // rotate often while being killed
  options.max_files = 100000;     // keep every file: the parent checks all acks
  audit_log log(options);
  std::atomic<int> next{0};
  std::atomic<int> outstanding{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      while (true) {
        while (outstanding.load() > 64) std::this_thread::yield();
        const int id = next++;
        ++outstanding;
        const std::string payload = R"({"id":)" + std::to_string(id) + R"(,"correlationId":"c-)" +
                                    std::to_string(id) + R"(","pad":")" + std::string(200, 'x') + "\"}";
        log.append(record("kiam.audit.crash", payload), [id, &outstanding](std::error_code ec) {
          if (!ec) {
            const std::string line = "ACK " + std::to_string(id) + "\n";
            // One write() per ack line: atomic on a pipe (< PIPE_BUF).
            [[maybe_unused]] auto n = ::write(1, line.data(), line.size());
          }
          --outstanding;
        });
      }
    });
  }
  for (auto& w : writers) w.join();  // never returns: the parent kills us
}

TEST(AuditLogCrash, AcknowledgedRecordsSurviveKillDashNine) {
  temp_dir dir;
  const std::string path = dir.file("audit.jsonl");
  test::child_process child;
  const std::string env = std::string(child_env) + "=" + path;
  ASSERT_TRUE(child.start({"/proc/self/exe", "--gtest_filter=AuditLogChild.*"}, {env}));
  // Kill after 2000 acks, or after 30 s on a machine where fsync is slow;
  // 64 KiB files hold about 250 records, so 600 acks span several rotations.
  std::set<int> acked;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (acked.size() < 2000 && std::chrono::steady_clock::now() < deadline) {
    const auto id = child.wait_for_line("ACK ", 20s);
    ASSERT_TRUE(id.has_value()) << "child stopped acknowledging after " << acked.size();
    acked.insert(std::stoi(*id));
  }
  // Kill mid-stream, then collect the acks still in the pipe.
  const std::string rest = child.kill_and_drain();
  std::istringstream tail(rest);
  for (std::string line; std::getline(tail, line);)
    if (line.rfind("ACK ", 0) == 0 && line.size() > 4 && line.find_first_not_of("0123456789", 4) == std::string::npos)
      acked.insert(std::stoi(line.substr(4)));
  ASSERT_GE(acked.size(), 600u);

  // Read every file: rotated ones complete; the live one may end in a torn,
  // never-acknowledged line.
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files.push_back(entry.path().string());
  std::set<std::int64_t> found;
  std::size_t torn = 0;
  for (const auto& file : files) {
    const std::string text = test::read_file(file);
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      const bool complete = end != std::string::npos;
      if (!complete) end = text.size();
      const std::string line = text.substr(start, end - start);
      start = end + 1;
      picojson::value v;
      std::string error;
      if (!complete) {
        ++torn;
        EXPECT_EQ(file, path) << "torn line in a rotated file";
        continue;
      }
      ASSERT_TRUE(parse_json_document(line, v, error)) << file << ": " << error;
      found.insert(v.get<picojson::object>().at("message").get<picojson::object>().at("id").get<std::int64_t>());
    }
  }
  EXPECT_LE(torn, 1u);
  std::size_t missing = 0;
  for (int id : acked)
    if (!found.count(id)) ++missing;
  EXPECT_EQ(missing, 0u) << "acknowledged records lost after kill -9";
  EXPECT_GT(files.size(), 2u) << "expected rotation during the run";

  // Restart: the log opens cleanly, cuts any torn tail, and appends after it.
  audit_log_options options;
  options.path = path;
  {
    audit_log log(options);
    std::promise<void> done;
    log.append(record("after.restart", "{}"), [&](std::error_code) { done.set_value(); });
    done.get_future().wait();
  }
  const auto lines = test::read_lines(path);
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) parse_line(line);
  EXPECT_EQ(parse_line(lines.back()).at("subject").get<std::string>(), "after.restart");
}

}  // namespace
}  // namespace courier::mss
