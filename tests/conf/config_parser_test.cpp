#include "conf/config_parser.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace courier::conf {
namespace {

/// The tree as canonical JSON (picojson objects are sorted maps).
std::string json_of(const config_document& document) { return document.root.serialize(); }

/// expected_json re-serialized, so that spacing in the table does not matter.
std::string canonical(const std::string& expected_json) {
  picojson::value value;
  const std::string error = picojson::parse(value, expected_json);
  EXPECT_TRUE(error.empty()) << "bad expectation " << expected_json << ": " << error;
  return value.serialize();
}

struct syntax_case {
  const char* input;
  const char* expected;  // JSON
};

// Each construct of the language and the tree it must give. The values were
// checked against nats-server 2.9.10's conf package, except where the
// header lists a deliberate difference ("[1, 2]").
const syntax_case syntax_cases[] = {
    // separators
    {"a = 1", R"({"a":1})"},
    {"a: 1", R"({"a":1})"},
    {"a 1", R"({"a":1})"},
    {"a=1", R"({"a":1})"},
    {"a:1", R"({"a":1})"},
    {"a\t=\t1", R"({"a":1})"},
    {"a\n= 1", R"({"a":1})"},
    {"a = 1; b = 2", R"({"a":1,"b":2})"},
    {"a = 1, b = 2", R"({"a":1,"b":2})"},
    {"a = 1\nb = 2\n", R"({"a":1,"b":2})"},
    {"a = 1\r\nb = 2\r\n", R"({"a":1,"b":2})"},
    {"  a = 1  \n\n\n  b = 2  ", R"({"a":1,"b":2})"},
    {"a = 1\na = 2", R"({"a":2})"},
    {"", R"({})"},
    {"\n\n# only a comment\n", R"({})"},
    // comments
    {"# c\na = 1 # trailing\n// c2\nb = 2 // trailing", R"({"a":1,"b":2})"},
    {"a = \"x # not a comment\"", R"({"a":"x # not a comment"})"},
    {"a = x#y", R"({"a":"x#y"})"},
    // quoted keys
    {"\"a b\" = 1", R"({"a b":1})"},
    {"'a:b' = 1", R"({"a:b":1})"},
    {"\"a\":1", R"({"a":1})"},
    // strings
    {"a = \"hello world\"", R"({"a":"hello world"})"},
    {"a = 'hello world'", R"({"a":"hello world"})"},
    {"a = 'raw \\t'", R"({"a":"raw \\t"})"},
    {"a = \"t\\tn\\nr\\rq\\\"b\\\\x\\x41\"", R"({"a":"t\tn\nr\rq\"b\\xA"})"},
    {"a = \"\"", R"({"a":""})"},
    {"a = hello", R"({"a":"hello"})"},
    {"a = hello;", R"({"a":"hello"})"},
    {"a = nats://localhost:4222", R"({"a":"nats://localhost:4222"})"},
    {"a = localhost:4222", R"({"a":"localhost:4222"})"},
    {"a = 127.0.0.1:4222", R"({"a":"127.0.0.1:4222"})"},
    {"a = 127.0.0.1", R"({"a":"127.0.0.1"})"},
    {"a = 2s", R"({"a":"2s"})"},
    {"a = 500ms", R"({"a":"500ms"})"},
    {"a = 1h", R"({"a":"1h"})"},
    {"a = abc\\tdef", R"({"a":"abc\tdef"})"},
    {"a = \"multi\nline\"", R"({"a":"multi\nline"})"},
    {"a =", R"({"a":""})"},
    // booleans, any case; quoted they are strings
    {"a = true\nb = FALSE\nc = Yes\nd = no\ne = ON\nf = off", R"({"a":true,"b":false,"c":true,"d":false,"e":true,"f":false})"},
    {"a = \"true\"", R"({"a":"true"})"},
    {"a = truex", R"({"a":"truex"})"},
    // numbers
    {"a = 0", R"({"a":0})"},
    {"a = 42", R"({"a":42})"},
    {"a = -42", R"({"a":-42})"},
    {"a = 9223372036854775807", R"({"a":9223372036854775807})"},
    {"a = -9223372036854775808", R"({"a":-9223372036854775808})"},
    {"a = 1.5", R"({"a":1.5})"},
    {"a = -0.25", R"({"a":-0.25})"},
    {"a = 1k\nb = 1K\nc = 1kb\nd = 1KB\ne = 1ki\nf = 1KiB", R"({"a":1000,"b":1000,"c":1024,"d":1024,"e":1024,"f":1024})"},
    {"a = 2m\nb = 2mb\nc = 2MiB", R"({"a":2000000,"b":2097152,"c":2097152})"},
    {"a = 3g\nb = 3gb", R"({"a":3000000000,"b":3221225472})"},
    {"a = 1t\nb = 1tb", R"({"a":1000000000000,"b":1099511627776})"},
    {"a = 1p\nb = 1pb", R"({"a":1000000000000000,"b":1125899906842624})"},
    {"a = 1e\nb = 1eb", R"({"a":1000000000000000000,"b":1152921504606846976})"},
    {"a = -1k", R"({"a":-1000})"},
    {"a = 8MB;", R"({"a":8388608})"},
    {"a = 10x", R"({"a":"10x"})"},
    {"a = 1kx", R"({"a":"1kx"})"},
    // datetimes stay strings
    {"a = 2016-05-04T18:53:41Z", R"({"a":"2016-05-04T18:53:41Z"})"},
    // arrays
    {"a = []", R"({"a":[]})"},
    {"a = [1, 2, 3]", R"({"a":[1,2,3]})"},
    {"a = [1,2,3]", R"({"a":[1,2,3]})"},
    {"a = [1, 'two', \"three\", true, 4.5]", R"({"a":[1,"two","three",true,4.5]})"},
    {"a = [\n  1\n  2\n]", R"({"a":[1,2]})"},
    {"a = [\n  1,\n  2,\n]", R"({"a":[1,2]})"},
    {"a = [ # comment\n 1 # one\n // two\n 2\n]", R"({"a":[1,2]})"},
    {"a = [[1, 2], [3]]", R"({"a":[[1,2],[3]]})"},
    {"a = [{x = 1}, {y = 2}]", R"({"a":[{"x":1},{"y":2}]})"},
    {"a = [foo, bar]", R"({"a":["foo","bar"]})"},
    // maps
    {"a {}", R"({"a":{}})"},
    {"a { b = 1 }", R"({"a":{"b":1}})"},
    {"a = { b = 1 }", R"({"a":{"b":1}})"},
    {"a: { b: 1 }", R"({"a":{"b":1}})"},
    {"a {\n  b = 1\n  c: 2\n  d 3\n}", R"({"a":{"b":1,"c":2,"d":3}})"},
    {"a { b = 1, c = 2; d = 3 }", R"({"a":{"b":1,"c":2,"d":3}})"},
    {"a {\n  b\n  = 1\n}", R"({"a":{"b":1}})"},
    {"a { b { c { d = deep } } }", R"({"a":{"b":{"c":{"d":"deep"}}}})"},
    {"a {\n  # comment\n  b = 1 # trailing\n  // another\n}", R"({"a":{"b":1}})"},
    {"a { 'b c' = 1, \"d\" = 2 }", R"({"a":{"b c":1,"d":2}})"},
    // a JSON document is a config file
    {"{\"a\": 1, \"b\": [true, \"x\"], \"c\": {\"d\": 2.5}}", R"({"a":1,"b":[true,"x"],"c":{"d":2.5}})"},
    {"{\n  \"a\": 1,\n  \"b\": {\"c\": \"d\"}\n}\n", R"({"a":1,"b":{"c":"d"}})"},
    // raw blocks
    {"a = (\nline one\nline two\n)\nb = 1", R"({"a":"\nline one\nline two\n","b":1})"},
    // bcrypt hashes are not variables
    {"a = $2a$11$abcdefghijklmnopqrstuv", R"({"a":"$2a$11$abcdefghijklmnopqrstuv"})"},
};

TEST(config_parser, syntax_table) {
  for (const auto& c : syntax_cases) {
    SCOPED_TRACE(c.input);
    try {
      EXPECT_EQ(json_of(parse_config_string(c.input)), canonical(c.expected));
    } catch (const config_error& e) {
      ADD_FAILURE() << "unexpected error: " << e.what();
    }
  }
}

TEST(config_parser, crlf_and_trailing_comment_do_not_change_meaning) {
  for (const auto& c : syntax_cases) {
    std::string input = c.input;
    if (input.find('(') != std::string::npos || input.find('"') != std::string::npos) continue;
    std::string crlf;
    for (char ch : input) {
      if (ch == '\n') crlf += "\r\n";
      else crlf += ch;
    }
    SCOPED_TRACE(input);
    try {
      EXPECT_EQ(json_of(parse_config_string(crlf)), canonical(c.expected));
      if (input.empty() || input.back() != '=') {
        EXPECT_EQ(json_of(parse_config_string(input + " # trailing comment\n")), canonical(c.expected));
      }
    } catch (const config_error& e) {
      ADD_FAILURE() << "unexpected error: " << e.what();
    }
  }
}

// Every prefix of every valid input either parses or fails with a
// config_error that has a position inside the input: never another
// exception, a crash, or a position past the end.
TEST(config_parser, every_prefix_parses_or_fails_cleanly) {
  for (const auto& c : syntax_cases) {
    const std::string input = c.input;
    for (std::size_t length = 0; length <= input.size(); ++length) {
      const std::string prefix = input.substr(0, length);
      SCOPED_TRACE(prefix);
      try {
        parse_config_string(prefix, "prefix.conf");
      } catch (const config_error& e) {
        ASSERT_EQ(e.problems().size(), 1u);
        const auto& where = e.problems()[0].where;
        EXPECT_EQ(where.file, "prefix.conf");
        EXPECT_GE(where.line, 1);
        EXPECT_GE(where.column, 1);
        EXPECT_LE(where.line, 1 + static_cast<int>(std::count(prefix.begin(), prefix.end(), '\n')));
      }
    }
  }
}

struct error_case {
  const char* input;
  int line;
  int column;
  const char* message;  // must appear in the error
};

const error_case error_cases[] = {
    {"port: 4222 4333", 1, 12,
     "Expected a top-level value to end with a new line, comment or EOF, but got '4' instead."},
    {"a = 1\nb = [1,\n", 3, 1, "Unexpected EOF processing array."},
    {"a = [1,,2]", 1, 8, "Unexpected array value terminator ','."},
    {"a = [1 2]", 1, 8, "Expected an array value terminator \",\" or an array terminator \"]\", but got '2' instead."},
    {"a {\n  b = 1\n", 3, 1, "Unexpected EOF processing map."},
    {"a { b = 1 c = 2 }", 1, 11, "Expected a map value terminator \",\" or a map terminator \"}\", but got 'c' instead."},
    {"a { = 1 }", 1, 5, "Unexpected key separator '='."},
    {"a { ] }", 1, 5, "Unexpected array end ']' processing map."},
    {"a { b = , }", 1, 9, "Unexpected map value terminator ','."},
    {"a { b }", 1, 7, "Expected a value for key 'b'."},
    {"= 1", 1, 1, "Unexpected key separator '='."},
    {"a =\n1", 1, 4, "Expected value but found new line"},
    {"x = 1\n  y = \"unterminated\n", 3, 1, "Unexpected EOF."},
    {"a = 'open", 1, 10, "Unexpected EOF."},
    {"a = \"bad \\q escape\"", 1, 11, "Invalid escape character 'q'."},
    {"a = \"\\xZZ\"", 1, 7, "Expected two hexadecimal digits after '\\x', but got 'ZZ'"},
    {"a = .5", 1, 5, "Floats must start with a digit"},
    {"a = -.5", 1, 6, "Floats must start with a digit, not '.'."},
    {"a = -x", 1, 6, "Expected a digit but got 'x'."},
    {"a = 1.x", 1, 7, "Floats must have a digit after the '.', but got 'x' instead."},
    {"a = 12-01", 1, 7, "All ISO8601 dates must be in full Zulu form."},
    {"a = 2016-05-04X18:53:41Z", 1, 15, "Expected 'T' in ISO8601 datetime, but found 'X' instead."},
    {"a = 2016-13-04T18:53:41Z", 1, 5, "expected Zulu formatted DateTime, but got '2016-13-04T18:53:41Z'"},
    {"a = 99999999999999999999", 1, 5, "integer '99999999999999999999' is out of the range"},
    {"a = 9000000000000000000k", 1, 5, "integer '9000000000000000000k' is out of the range"},
    {"a = 1kbb", 1, 5, "expected integer, but got '1kbb'"},
    {"a = 10.5s", 1, 9, "Expected a top-level value to end with a new line, comment or EOF, but got 's' instead."},
    {"a = 1m30s", 1, 7, "Expected a top-level value to end with a new line, comment or EOF, but got '3' instead."},
    {"\n\n  a = $undefined_courier_test_var", 3, 7, "variable reference for 'undefined_courier_test_var' can not be found"},
    {"a = (\nnever closed", 1, 5, "Unexpected EOF processing block."},
    {"include\n", 1, 8, "Expected include value but found new line"},
    {"include [x]", 1, 9, "Expected include value but found start of an array"},
    {"a { include {x} }", 1, 13, "Expected include value but found start of a map"},
};

TEST(config_parser, error_positions) {
  for (const auto& c : error_cases) {
    SCOPED_TRACE(c.input);
    try {
      parse_config_string(c.input, "broken.conf");
      ADD_FAILURE() << "parsed, but must fail";
    } catch (const config_error& e) {
      ASSERT_EQ(e.problems().size(), 1u);
      const auto& problem = e.problems()[0];
      EXPECT_EQ(problem.where.file, "broken.conf");
      EXPECT_EQ(problem.where.line, c.line);
      EXPECT_EQ(problem.where.column, c.column);
      EXPECT_NE(problem.message.find(c.message), std::string::npos) << problem.message;
      // what() has the shape of nats-server's config errors.
      EXPECT_EQ(std::string(e.what()).rfind("broken.conf:" + std::to_string(c.line) + ":" +
                                                std::to_string(c.column) + ": ",
                                            0),
                0u)
          << e.what();
    }
  }
}

TEST(config_parser, key_positions) {
  const auto document = parse_config_string(
      "port: 4222\n"
      "  authorization {\n"
      "    users = [\n"
      "      {user: a, password: b}\n"
      "    ]\n"
      "  }\n",
      "pos.conf");
  auto at = [&](const std::string& path) {
    const auto* where = document.position_of(path);
    EXPECT_NE(where, nullptr) << path;
    return where ? std::make_pair(where->line, where->column) : std::make_pair(0, 0);
  };
  EXPECT_EQ(at("port"), std::make_pair(1, 1));
  EXPECT_EQ(at("authorization"), std::make_pair(2, 3));
  EXPECT_EQ(at("authorization/users"), std::make_pair(3, 5));
  EXPECT_EQ(at("authorization/users/0"), std::make_pair(4, 7));
  EXPECT_EQ(at("authorization/users/0/user"), std::make_pair(4, 8));
  EXPECT_EQ(at("authorization/users/0/password"), std::make_pair(4, 17));
  EXPECT_EQ(document.position_of("authorization/users/0/nope"), nullptr);
  EXPECT_EQ(document.nearest_position("authorization/users/0/nope").line, 4);
  EXPECT_EQ(document.position_of("port")->file, "pos.conf");
}

TEST(config_parser, paths_escape_slash_and_tilde) {
  EXPECT_EQ(config_path("", "a"), "a");
  EXPECT_EQ(config_path("a", "b/c"), "a/b~1c");
  EXPECT_EQ(config_path("a", "~x"), "a/~0x");
  EXPECT_EQ(config_path("a", std::size_t{3}), "a/3");
  const auto document = parse_config_string("\"a/b\" { \"~\" = 1 }");
  EXPECT_NE(document.position_of("a~1b/~0"), nullptr);
}

TEST(config_parser, variables_resolve_in_enclosing_blocks) {
  const auto document = parse_config_string(
      "TOP = 1\n"
      "size = 2kb\n"
      "outer {\n"
      "  INNER = \"in\"\n"
      "  a = $TOP\n"
      "  b = $INNER\n"
      "  nested { c = $INNER, d = $size }\n"
      "  list = [$TOP, {e = $INNER}]\n"
      "}\n"
      "copy = $outer\n");
  EXPECT_EQ(json_of(document),
            canonical(R"({"TOP":1,"size":2048,"outer":{"INNER":"in","a":1,"b":"in",
                          "nested":{"c":"in","d":2048},"list":[1,{"e":"in"}]},
                          "copy":{"INNER":"in","a":1,"b":"in","nested":{"c":"in","d":2048},"list":[1,{"e":"in"}]}})"));
  EXPECT_TRUE(document.is_used_variable("TOP"));
  EXPECT_TRUE(document.is_used_variable("size"));
  EXPECT_TRUE(document.is_used_variable("outer/INNER"));
  EXPECT_TRUE(document.is_used_variable("outer"));
  EXPECT_FALSE(document.is_used_variable("copy"));
}

TEST(config_parser, variables_see_only_earlier_keys_and_enclosing_scopes) {
  // Defined later: not found.
  EXPECT_THROW(parse_config_string("a = $B\nB = 1"), config_error);
  // A sibling block's keys are not in scope.
  EXPECT_THROW(parse_config_string("x { V = 1 }\ny { a = $V }"), config_error);
  // The innermost definition wins.
  const auto document = parse_config_string("V = outer\nb { V = inner, a = $V }\nc = $V");
  EXPECT_EQ(json_of(document), canonical(R"({"V":"outer","b":{"V":"inner","a":"inner"},"c":"outer"})"));
}

TEST(config_parser, variables_from_the_environment_are_parsed_as_values) {
  ::setenv("COURIER_TEST_INT", "4333", 1);
  ::setenv("COURIER_TEST_SIZE", "2MB", 1);
  ::setenv("COURIER_TEST_STR", "hello", 1);
  ::setenv("COURIER_TEST_BOOL", "true", 1);
  ::setenv("COURIER_TEST_LIST", "[1, 2]", 1);
  ::setenv("COURIER_TEST_BAD", "two words", 1);
  ::setenv("COURIER_TEST_SELF", "$COURIER_TEST_SELF", 1);
  const auto document = parse_config_string(
      "a = $COURIER_TEST_INT\nb = $COURIER_TEST_SIZE\nc = $COURIER_TEST_STR\n"
      "d = $COURIER_TEST_BOOL\ne = $COURIER_TEST_LIST\n");
  EXPECT_EQ(json_of(document), canonical(R"({"a":4333,"b":2097152,"c":"hello","d":true,"e":[1,2]})"));
  // A block's own key shadows the environment.
  EXPECT_EQ(json_of(parse_config_string("COURIER_TEST_INT = 1\na = $COURIER_TEST_INT")),
            canonical(R"({"COURIER_TEST_INT":1,"a":1})"));
  try {
    parse_config_string("x = 1\ny = $COURIER_TEST_BAD", "env.conf");
    ADD_FAILURE() << "must fail";
  } catch (const config_error& e) {
    EXPECT_EQ(e.problems()[0].where.line, 2);
    EXPECT_EQ(e.problems()[0].where.column, 5);
    EXPECT_NE(std::string(e.what()).find("variable reference for 'COURIER_TEST_BAD' could not be parsed"),
              std::string::npos)
        << e.what();
  }
  // A variable whose value names itself ends, with an error.
  EXPECT_THROW(parse_config_string("a = $COURIER_TEST_SELF"), config_error);
  ::unsetenv("COURIER_TEST_INT");
  EXPECT_THROW(parse_config_string("a = $COURIER_TEST_INT"), config_error);
}

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "courier-conf-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(config_parser, include_is_relative_to_the_including_file) {
  temp_dir dir;
  dir.write("sub/auth.conf", "authorization {\n  user: alice\n}\ninclude 'more/extra.conf'\n");
  dir.write("sub/more/extra.conf", "\n  extra = 7\n");
  dir.write("limits.conf", "max_payload = 2MB");
  const std::string main_file = dir.write("main.conf",
                                          "port = 4222\n"
                                          "include \"sub/auth.conf\"\n"
                                          "include limits.conf\n"
                                          "block {\n  include 'limits.conf'\n  own = 1\n}\n");
  const auto document = parse_config_file(main_file);
  EXPECT_EQ(json_of(document), canonical(R"({"port":4222,"authorization":{"user":"alice"},"extra":7,
                                            "max_payload":2097152,
                                            "block":{"max_payload":2097152,"own":1}})"));
  // Included keys keep their own file and position.
  const auto* user = document.position_of("authorization/user");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->file, (dir.path() / "sub/auth.conf").string());
  EXPECT_EQ(user->line, 2);
  EXPECT_EQ(user->column, 3);
  const auto* extra = document.position_of("extra");
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(extra->file, (dir.path() / "sub/more/extra.conf").string());
  EXPECT_EQ(extra->line, 2);
  EXPECT_EQ(document.position_of("block/max_payload")->file, (dir.path() / "limits.conf").string());
  EXPECT_EQ(document.position_of("port")->file, main_file);
}

TEST(config_parser, include_errors) {
  temp_dir dir;
  const std::string missing = dir.write("missing.conf", "a = 1\ninclude nothere.conf\n");
  try {
    parse_config_file(missing);
    ADD_FAILURE() << "must fail";
  } catch (const config_error& e) {
    EXPECT_EQ(e.problems()[0].where.file, missing);
    EXPECT_EQ(e.problems()[0].where.line, 2);
    EXPECT_EQ(e.problems()[0].where.column, 9);
    EXPECT_NE(std::string(e.what()).find("error parsing include file 'nothere.conf'"), std::string::npos);
  }
  // An error inside an included file names that file.
  dir.write("broken.conf", "ok = 1\nbad = [1,,2]\n");
  const std::string includer = dir.write("includer.conf", "include broken.conf\n");
  try {
    parse_config_file(includer);
    ADD_FAILURE() << "must fail";
  } catch (const config_error& e) {
    EXPECT_EQ(e.problems()[0].where.file, (dir.path() / "broken.conf").string());
    EXPECT_EQ(e.problems()[0].where.line, 2);
  }
  // A file that includes itself stops.
  const std::string loop = dir.write("loop.conf", "include loop.conf\n");
  EXPECT_THROW(parse_config_file(loop), config_error);
  // Included files do not see the includer's variables.
  dir.write("usesvar.conf", "a = $FROM_MAIN_COURIER\n");
  const std::string scoped = dir.write("scoped.conf", "FROM_MAIN_COURIER = 1\ninclude usesvar.conf\n");
  EXPECT_THROW(parse_config_file(scoped), config_error);
  // Only regular files: a device could be read forever.
  EXPECT_THROW(parse_config_string("include /dev/zero\n"), config_error);
  EXPECT_THROW(parse_config_file(dir.write("dir.conf", "include " + dir.path().string() + "\n")), config_error);
  // A missing top-level file.
  try {
    parse_config_file((dir.path() / "absent.conf").string());
    ADD_FAILURE() << "must fail";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("error opening config file"), std::string::npos);
  }
}

TEST(config_parser, deep_nesting_is_refused_not_a_crash) {
  std::string deep = "a = ";
  for (int i = 0; i < 100000; ++i) deep += '[';
  EXPECT_THROW(parse_config_string(deep), config_error);
  std::string maps = "a ";
  for (int i = 0; i < 100000; ++i) maps += "{b ";
  EXPECT_THROW(parse_config_string(maps), config_error);
  std::string fine = "a = ";
  for (int i = 0; i < 100; ++i) fine += '[';
  for (int i = 0; i < 100; ++i) fine += ']';
  EXPECT_NO_THROW(parse_config_string(fine));
}

TEST(config_parser, type_names) {
  const auto document = parse_config_string("a = 1\nb = 1.5\nc = x\nd = true\ne = []\nf {}");
  const auto& map = document.root.get<picojson::object>();
  EXPECT_EQ(config_type_name(map.at("a")), "int64");
  EXPECT_EQ(config_type_name(map.at("b")), "float64");
  EXPECT_EQ(config_type_name(map.at("c")), "string");
  EXPECT_EQ(config_type_name(map.at("d")), "bool");
  EXPECT_EQ(config_type_name(map.at("e")), "array");
  EXPECT_EQ(config_type_name(map.at("f")), "map");
}

}  // namespace
}  // namespace courier::conf
