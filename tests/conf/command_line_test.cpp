#include "conf/command_line.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "conf/config_error.hpp"

namespace courier::conf {
namespace {

using args = std::vector<std::string>;

std::string error_of(const args& arguments) {
  try {
    parse_command_line(arguments);
  } catch (const config_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed, but must fail";
  return {};
}

/// A config file in a temporary directory, removed at the end.
class temp_config {
 public:
  explicit temp_config(const std::string& text)
      : path_((std::filesystem::temp_directory_path() /
               ("courier-cl-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".conf"))
                  .string()) {
    std::ofstream(path_) << text;
  }
  ~temp_config() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(command_line, no_arguments_gives_defaults) {
  const auto cl = parse_command_line(args{});
  EXPECT_EQ(cl.options.port, 4222);
  EXPECT_EQ(cl.options.host, "0.0.0.0");
  EXPECT_FALSE(cl.test_config || cl.show_help || cl.show_version);
}

TEST(command_line, value_forms_and_dashes) {
  for (const args& a : {args{"-p", "4333"}, args{"-p=4333"}, args{"--p", "4333"}, args{"--port=4333"},
                        args{"-port", "4333"}, args{"--port", "4333"}}) {
    SCOPED_TRACE(a[0]);
    EXPECT_EQ(parse_command_line(a).options.port, 4333);
  }
  for (const args& a : {args{"-a", "::"}, args{"--addr=::"}, args{"-net", "::"}, args{"--net", "::"}}) {
    EXPECT_EQ(parse_command_line(a).options.host, "::");
  }
  for (const args& a : {args{"-n", "x"}, args{"--name", "x"}, args{"--server_name=x"}}) {
    EXPECT_EQ(parse_command_line(a).options.server_name, "x");
  }
  // Go's integer syntax.
  EXPECT_EQ(parse_command_line(args{"-p", "0x10E1"}).options.port, 4321);
  // A value may start with a dash.
  EXPECT_EQ(parse_command_line(args{"-P", "-odd-name"}).options.pid_file, "-odd-name");
}

TEST(command_line, every_flag_sets_its_option) {
  const auto cl = parse_command_line(args{"-a", "127.0.0.1", "-p", "5000", "-n", "srv", "-P", "/tmp/p.pid",
                                          "-l", "/tmp/l.log", "-D", "-V", "-T=false", "-m", "8222",
                                          "--user", "u", "--pass", "pw", "--auth", "tok", "--threads", "3",
                                          "--mss-only", "http://h:1"});
  const auto& o = cl.options;
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 5000);
  EXPECT_EQ(o.server_name, "srv");
  EXPECT_EQ(o.pid_file, "/tmp/p.pid");
  EXPECT_EQ(o.log_file, "/tmp/l.log");
  EXPECT_TRUE(o.debug);
  EXPECT_TRUE(o.trace);
  EXPECT_FALSE(o.logtime);
  EXPECT_EQ(o.http_port, 8222);
  EXPECT_EQ(o.username, "u");
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(o.authorization_token, "tok");
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.mss_only_url, "http://h:1");
}

TEST(command_line, combined_logging_flags) {
  auto cl = parse_command_line(args{"-DV"});
  EXPECT_TRUE(cl.options.debug && cl.options.trace);
  cl = parse_command_line(args{"-VV"});
  EXPECT_TRUE(cl.options.trace);
  EXPECT_FALSE(cl.options.debug);
  cl = parse_command_line(args{"--DVV"});
  EXPECT_TRUE(cl.options.debug && cl.options.trace);
  cl = parse_command_line(args{"-D", "-D=false"});
  EXPECT_FALSE(cl.options.debug);
  cl = parse_command_line(args{"--logtime=0"});
  EXPECT_FALSE(cl.options.logtime);
  cl = parse_command_line(args{"-T"});
  EXPECT_TRUE(cl.options.logtime);
}

TEST(command_line, help_version_and_words) {
  EXPECT_TRUE(parse_command_line(args{"-h"}).show_help);
  EXPECT_TRUE(parse_command_line(args{"--help"}).show_help);
  EXPECT_TRUE(parse_command_line(args{"-v"}).show_version);
  EXPECT_TRUE(parse_command_line(args{"--version"}).show_version);
  EXPECT_TRUE(parse_command_line(args{"version"}).show_version);
  EXPECT_TRUE(parse_command_line(args{"-D", "HELP"}).show_help);
  // help and version do not read the config file.
  EXPECT_TRUE(parse_command_line(args{"-c", "/nonexistent/x.conf", "-v"}).show_version);
  const std::string usage = usage_text("courier");
  EXPECT_NE(usage.find("Usage: courier [options]"), std::string::npos);
  for (const char* flag : {"--addr", "--port", "--config", "--signal", "--tlsverify", "--threads", "--mss-only"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

TEST(command_line, bad_flags_have_nats_server_wording) {
  EXPECT_EQ(error_of({"--foo"}), "flag provided but not defined: -foo");
  EXPECT_EQ(error_of({"-p", "abc"}), "invalid value \"abc\" for flag -p: parse error");
  EXPECT_EQ(error_of({"-p"}), "flag needs an argument: -p");
  EXPECT_EQ(error_of({"extra"}), "unrecognized command: \"extra\"");
  // A boolean flag takes no separate value: the value becomes a command.
  EXPECT_EQ(error_of({"-D", "true"}), "unrecognized command: \"true\"");
  EXPECT_EQ(error_of({"-D=maybe"}), "invalid boolean value \"maybe\" for -D: parse error");
  EXPECT_EQ(error_of({"---p"}), "bad flag syntax: ---p");
  EXPECT_EQ(error_of({"-t"}), "must specify [-c, --config] option to check configuration file syntax");
  EXPECT_EQ(error_of({"--signal", "bogus"}), "unknown signal \"bogus\"");
  EXPECT_EQ(error_of({"--signal", "stop=1=2=3"}), "invalid signal parameters: [2 3]");
  EXPECT_EQ(error_of({"-js"}), "flag not supported by Courier: -js");
  EXPECT_EQ(error_of({"--cluster", "nats://x:6222"}), "flag not supported by Courier: -cluster");
  EXPECT_EQ(error_of({"--threads", "-1"}).find("invalid value \"-1\" for flag -threads"), 0u);
  EXPECT_NE(error_of({"-p", "70000"}).find("invalid value \"70000\" for flag -p"), std::string::npos);
  EXPECT_EQ(error_of({"-c", "/nonexistent/courier.conf"}).find("error opening config file"), 0u);
}

TEST(command_line, flags_after_double_dash_or_word_are_not_flags) {
  EXPECT_EQ(error_of({"--", "-p", "1"}), "unrecognized command: \"-p\"");
}

TEST(command_line, signal_is_split_and_skips_the_config) {
  auto cl = parse_command_line(args{"--signal", "reload=/run/courier.pid", "-c", "/nonexistent.conf"});
  EXPECT_EQ(cl.signal_command, "reload");
  EXPECT_EQ(cl.signal_pid, "/run/courier.pid");
  cl = parse_command_line(args{"-sl", "ldm"});
  EXPECT_EQ(cl.signal_command, "ldm");
  EXPECT_EQ(cl.signal_pid, "");
  for (const char* command : {"stop", "quit", "term", "reopen", "reload", "ldm"}) {
    EXPECT_EQ(parse_command_line(args{"--signal=" + std::string(command) + "=42"}).signal_pid, "42");
  }
}

TEST(command_line, flags_override_the_config_file) {
  temp_config file("port: 4444\nhost: 10.0.0.1\ndebug: true\nserver_name: from_file\nmax_payload: 2MB\n");
  const auto cl = parse_command_line(args{"-p", "5555", "-c", file.path(), "-D=false"});
  EXPECT_EQ(cl.options.port, 5555);            // flag wins, even given before -c
  EXPECT_FALSE(cl.options.debug);              // flag wins
  EXPECT_EQ(cl.options.host, "10.0.0.1");      // from the file
  EXPECT_EQ(cl.options.server_name, "from_file");
  EXPECT_EQ(cl.options.max_payload, 2 * 1024 * 1024);
  EXPECT_EQ(cl.options.config_file, file.path());
  // Without the flags the file's values stand.
  const auto plain = parse_command_line(args{"--config=" + file.path()});
  EXPECT_EQ(plain.options.port, 4444);
  EXPECT_TRUE(plain.options.debug);
}

TEST(command_line, reload_reads_the_file_again_under_the_same_flags) {
  temp_config file("port: 4444\nserver_name: before\ndebug: false\n");
  const auto cl = parse_command_line(args{"-c", file.path(), "-D"});
  EXPECT_EQ(cl.options.server_name, "before");
  std::ofstream(file.path()) << "port: 4445\nserver_name: after\ndebug: false\n";
  const auto reloaded = reload_options(cl);
  EXPECT_EQ(reloaded.port, 4445);
  EXPECT_EQ(reloaded.server_name, "after");
  EXPECT_TRUE(reloaded.debug);  // the flag still wins
  std::ofstream(file.path()) << "port: 4445\nbogus: 1\n";
  EXPECT_THROW(reload_options(cl), config_error);
}

TEST(command_line, test_config_mode) {
  temp_config good("port: 4444\n");
  const auto cl = parse_command_line(args{"-t", "-c", good.path()});
  EXPECT_TRUE(cl.test_config);
  temp_config bad("port: 4444\nfoo: 1\n");
  EXPECT_EQ(error_of({"-t", "-c", bad.path()}), bad.path() + ":2:1: unknown field \"foo\"");
  // Warnings pass when running but fail -t, as with nats-server.
  temp_config warned("ping_interval: 60\n");
  EXPECT_NO_THROW(parse_command_line(args{"-c", warned.path()}));
  EXPECT_NE(error_of({"-t", "-c", warned.path()}).find("ping_interval should be converted to a duration"),
            std::string::npos);
}

TEST(command_line, tls_flags) {
  auto cl = parse_command_line(args{"--tlscert", "c.pem", "--tlskey", "k.pem", "--tlsverify", "--tlscacert", "ca.pem"});
  const auto& tls = cl.options.tls_flags;
  EXPECT_TRUE(tls.given);
  EXPECT_TRUE(tls.enabled);
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.cert_file, "c.pem");
  EXPECT_EQ(tls.key_file, "k.pem");
  EXPECT_EQ(tls.ca_file, "ca.pem");
  EXPECT_EQ(error_of({"--tls"}), "TLS Server certificate must be present and valid");
  EXPECT_EQ(error_of({"--tls", "--tlscert", "c.pem"}), "TLS Server private key must be present and valid");
  cl = parse_command_line(args{"--tls=false", "--tlscert", "c.pem"});
  EXPECT_TRUE(cl.options.tls_flags.given);
  EXPECT_FALSE(cl.options.tls_flags.enabled);
  EXPECT_FALSE(parse_command_line(args{}).options.tls_flags.given);
}

TEST(command_line, argv_form_skips_the_program_name) {
  const char* argv[] = {"courier", "-p", "6000"};
  EXPECT_EQ(parse_command_line(3, argv).options.port, 6000);
}

}  // namespace
}  // namespace courier::conf
