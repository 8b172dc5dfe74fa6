// libFuzzer target for the config parser and loader (conf/config_parser,
// conf/config_loader): any input must either parse or fail with a
// config_error whose position lies inside the input; never crash, hang or
// throw anything else.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "conf/config_loader.hpp"
#include "conf/config_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Includes would read arbitrary files of the fuzzing machine (/dev/zero
  // never ends); the include tests cover them.
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("include") != std::string::npos) return 0;

  const int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  auto check = [&](const courier::conf::config_error& error) {
    if (error.problems().empty()) std::abort();
    for (const auto& problem : error.problems()) {
      if (problem.where.file == "fuzz.conf" && (problem.where.line < 1 || problem.where.line > lines ||
                                                problem.where.column < 1)) {
        std::abort();
      }
    }
  };
  try {
    const auto document = courier::conf::parse_config_string(text, "fuzz.conf");
    if (!document.root.is<picojson::object>()) std::abort();
    (void)document.root.serialize();
    courier::conf::server_options options;
    try {
      courier::conf::apply_config(document, options);
      courier::conf::validate_options(options);
    } catch (const courier::conf::config_error& error) {
      check(error);
    }
  } catch (const courier::conf::config_error& error) {
    check(error);
  }
  return 0;
}
