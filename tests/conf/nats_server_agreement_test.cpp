// Courier's `-t` against the real nats-server 2.9.10's `-t` on the same
// files: both must accept the same files, and reject the broken ones at the
// same line. nats-server is the one CMake found (COURIER_NATS_SERVER); the
// tests fail when it is missing.
#include "conf/command_line.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "conf/config_error.hpp"

namespace courier::conf {
namespace {

struct verdict {
  bool valid = false;
  std::string text;  // what the server printed
  int line = 0;      // the line it blamed; 0 when none
};

/// The line of the first position in an error text, in either of the two
/// shapes nats-server uses: "file:3:5: ..." or "Parse error on line 3: ...".
int blamed_line(const std::string& text, const std::string& file) {
  std::smatch match;
  if (std::regex_search(text, match, std::regex(std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") + R"(:(\d+):\d+:)"))) {
    return std::stoi(match[1]);
  }
  if (std::regex_search(text, match, std::regex(R"(on line (\d+))"))) return std::stoi(match[1]);
  return 0;
}

std::optional<verdict> run_nats_server(const std::string& file) {
  const std::string command = std::string(COURIER_NATS_SERVER) + " -t -c '" + file + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  verdict result;
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) result.text += buffer.data();
  const int status = ::pclose(pipe);
  result.valid = status == 0;
  result.line = result.valid ? 0 : blamed_line(result.text, file);
  return result;
}

verdict run_courier(const std::string& file) {
  verdict result;
  try {
    parse_command_line(std::vector<std::string>{"-t", "-c", file});
    result.valid = true;
  } catch (const config_error& e) {
    result.text = e.what();
    result.line = e.problems().front().where.line;
  }
  return result;
}

bool have_nats_server() {
  return std::system((std::string(COURIER_NATS_SERVER) + " --version > /dev/null 2>&1").c_str()) == 0;
}

// Files that use only options Courier supports, valid or broken.
const char* const agreement_cases[] = {
    "port: 4222\n",
    "listen: 127.0.0.1:4333\nserver_name: a\n",
    "listen: \"[::1]:4333\"\n",
    "{\n  \"port\": 4222,\n  \"debug\": true\n}\n",
    "max_payload: 512KB\nmax_pending: 32MB\nmax_connections: 10\nmax_control_line: 1kb\n",
    "ping_interval: \"1m30s\"\nping_max: 3\nwrite_deadline: \"5s\"\n",
    "lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"5s\"\n",
    "debug: yes\ntrace: OFF\nlogtime: false\n",
    "P = 4555\nport: $P\n",
    "authorization {\n  user: alice\n  password: s3cret\n}\n",
    "# comment\n// comment\nport = 4222 # trailing\n",
    "port: 4222; debug: true\n",
    // broken
    "port: 4222\nfoo: bar\n",
    "port: 4222\nmax_payload: \"abc\"\n",
    "\n\ndebug: 5\n",
    "port: 4222\n  max_connections: 1.5\n",
    "port: 4222\nping_interval: \"abc\"\n",
    "port: 4222\nping_interval: 60\n",
    "port: 4222\nlame_duck_duration: \"10s\"\n",
    "port: 4222\nmax_payload: 3GB\n",
    "port: 4222\nlisten: \"nope\"\n",
    "port: 4222 4333\n",
    "port: 4222\nx = [1,,2]\n",
    "port: 4222\ny = \"unterminated\nz = 1\n",
    "port: 4222\nport: $UNDEFINED_COURIER_AGREEMENT\n",
    "port: 4222\n  a {\n    b = 1\n",
    "port: 4222\nfoo {\n  bar: 1\n}\n",
};

TEST(nats_server_agreement, same_verdict_and_line_as_nats_server) {
  ASSERT_TRUE(have_nats_server()) << COURIER_NATS_SERVER << " does not run";
  const auto file = (std::filesystem::temp_directory_path() /
                     ("courier-agreement-" + std::to_string(::getpid()) + ".conf"))
                        .string();
  for (const char* text : agreement_cases) {
    SCOPED_TRACE(text);
    std::ofstream(file) << text;
    const auto nats = run_nats_server(file);
    ASSERT_TRUE(nats);
    const auto ours = run_courier(file);
    EXPECT_EQ(ours.valid, nats->valid) << "nats-server: " << nats->text << "courier: " << ours.text;
    if (!ours.valid && !nats->valid) {
      EXPECT_EQ(ours.line, nats->line) << "nats-server: " << nats->text << "courier: " << ours.text;
    }
  }
  std::filesystem::remove(file);
}

/// A copy of `file` without its Courier-only top-level `mss { ... }` block
/// (written from a line "mss {" to the next line "}"), which nats-server does
/// not know. Returns the copy's path, or `file` itself when it has no such
/// block (a copy elsewhere would break its relative includes).
std::string without_mss_block(const std::string& file) {
  {
    std::ifstream probe(file);
    std::string line;
    bool found = false;
    while (!found && std::getline(probe, line)) found = line.rfind("mss {", 0) == 0;
    if (!found) return file;
  }
  std::ifstream in(file);
  const std::string copy = (std::filesystem::temp_directory_path() / "courier-agreement-nomss.conf").string();
  std::ofstream out(copy);
  std::string line;
  bool skipping = false;
  while (std::getline(in, line)) {
    if (!skipping && line.rfind("mss {", 0) == 0) skipping = true;
    if (!skipping) out << line << '\n';
    if (skipping && line == "}") skipping = false;
  }
  return copy;
}

TEST(nats_server_agreement, shipped_configs_are_valid_for_both) {
  ASSERT_TRUE(have_nats_server()) << COURIER_NATS_SERVER << " does not run";
  for (const char* relative : {"/conf/courier.conf", "/conf/examples/full.conf"}) {
    const std::string file = std::string(COURIER_SOURCE_DIR) + relative;
    SCOPED_TRACE(file);
    const auto nats = run_nats_server(without_mss_block(file));
    ASSERT_TRUE(nats);
    EXPECT_TRUE(nats->valid) << nats->text;
    const auto ours = run_courier(file);
    EXPECT_TRUE(ours.valid) << ours.text;
  }
}

}  // namespace
}  // namespace courier::conf
