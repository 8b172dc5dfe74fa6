// A real Prometheus server for the tests (Debian's /usr/bin/prometheus): it
// scrapes one target every second into a temporary TSDB and answers
// instant queries over its HTTP API (/api/v1/query). Started on a free
// loopback port, SIGTERMed (then SIGKILLed) on destruction; its log goes
// to a file shown when a test fails.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <picojson.h>

#include "mss/peers/http_client.hpp"
#include "tests/mss/test_support.hpp"

namespace courier::monitor::test {

namespace mss_test = courier::mss::test;

/// GET `url`; the body of a 200 answer, or nullopt.
inline std::optional<std::string> http_get(mss_test::io_thread& io, const std::string& url,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  mss::http_request request;
  request.method = "GET";
  request.url = url;
  mss::http_options options;
  options.timeout = timeout;
  options.max_response_body = 16u << 20;
  const auto result = mss::http_request_future(io.executor(), request, options).get();
  if (!result.ok() || result.status != 200) return std::nullopt;
  return result.body;
}

/// Percent-encodes a query string value (RFC 3986 unreserved characters kept).
inline std::string url_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

/// One series of an instant query's answer.
struct query_sample {
  picojson::object labels;
  double value = 0;
};

/// A Prometheus process; see the file comment.
class prometheus_process {
 public:
  prometheus_process() = default;
  prometheus_process(const prometheus_process&) = delete;
  prometheus_process& operator=(const prometheus_process&) = delete;
  ~prometheus_process() { stop(); }

  /// Starts Prometheus scraping http://`target`/metrics (host:port) every
  /// second, and waits (up to `timeout`) until it says it is ready. False
  /// when it did not come up (see log()).
  bool start(const std::string& binary, const std::string& target, mss_test::io_thread& io,
             std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    io_ = &io;
    const std::string config = dir_.file("prometheus.yml");
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: courier\n"
                             "    metrics_path: /metrics\n"
                             "    static_configs:\n"
                             "      - targets: [\""
                          << target << "\"]\n";
    // A port that a process outside the tests took first makes Prometheus
    // exit ("bind: address already in use"): up to four tries, on new ports.
    for (int attempt = 1;; ++attempt) {
      port_ = mss_test::unused_port();
      const std::size_t log_start = mss_test::read_file(log_file()).size();  // the log is appended to
      if (launch(binary, config, timeout)) return true;
      if (attempt == 4 || !courier::test::port_taken(mss_test::read_file(log_file()).substr(log_start))) return false;
      stop();
    }
  }

 private:
  bool launch(const std::string& binary, const std::string& config, std::chrono::milliseconds timeout) {
    const std::vector<std::string> argv{binary,
                                        "--config.file=" + config,
                                        "--storage.tsdb.path=" + dir_.file("data"),
                                        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                        "--log.level=info"};
    courier::test::spawn_options options;
    options.log = log_file();
    pid_ = courier::test::spawn(argv, options);
    if (pid_ < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (http_get(*io_, base_url() + "/-/ready", std::chrono::seconds(5))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 public:
  /// An instant query: its series, or nullopt when the query failed.
  std::optional<std::vector<query_sample>> query(const std::string& expression) {
    const auto body = http_get(*io_, base_url() + "/api/v1/query?query=" + url_encode(expression));
    if (!body) return std::nullopt;
    picojson::value v;
    if (!picojson::parse(v, *body).empty() || !v.is<picojson::object>()) return std::nullopt;
    const auto& root = v.get<picojson::object>();
    if (!root.count("status") || root.at("status").to_str() != "success") return std::nullopt;
    const auto& data = root.at("data");
    if (!data.is<picojson::object>() || !data.get<picojson::object>().count("result")) return std::nullopt;
    const auto& result = data.get<picojson::object>().at("result");
    if (!result.is<picojson::array>()) return std::nullopt;
    std::vector<query_sample> out;
    for (const auto& item : result.get<picojson::array>()) {
      if (!item.is<picojson::object>()) return std::nullopt;
      const auto& o = item.get<picojson::object>();
      if (!o.count("value") || !o.at("value").is<picojson::array>() || o.at("value").get<picojson::array>().size() != 2)
        return std::nullopt;
      query_sample s;
      if (o.count("metric") && o.at("metric").is<picojson::object>()) s.labels = o.at("metric").get<picojson::object>();
      s.value = std::stod(o.at("value").get<picojson::array>()[1].to_str());
      out.push_back(std::move(s));
    }
    return out;
  }

  /// The single value of `expression`, or nullopt when it has none (not
  /// scraped yet) or several series.
  std::optional<double> value(const std::string& expression) {
    const auto samples = query(expression);
    if (!samples || samples->size() != 1) return std::nullopt;
    return samples->front().value;
  }

  /// SIGTERM, wait up to 10 s, then SIGKILL.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log_file() const { return dir_.file("prometheus.log"); }
  /// The last `bytes` of its log.
  std::string log(std::size_t bytes = 4000) const {
    const std::string text = mss_test::read_file(log_file());
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
  }

 private:
  mss_test::temp_dir dir_;
  mss_test::io_thread* io_ = nullptr;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace courier::monitor::test
