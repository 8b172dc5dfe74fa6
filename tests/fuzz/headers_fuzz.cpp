// libFuzzer target: headers_view::parse on arbitrary bytes. For a valid block:
// iteration agrees with size(), get() finds the first field of each name, and
// rebuilding the block with headers_builder parses back to the same fields.
#include "protocol/headers.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace courier::protocol;
  const std::string block(reinterpret_cast<const char*>(data), size);
  const auto view = headers_view::parse(block);
  if (!view) return 0;
  std::vector<header_field> fields(view->begin(), view->end());
  if (fields.size() != view->size()) std::abort();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto& field = fields[i];
    if (field.name.empty()) std::abort();
    std::size_t first = 0;
    while (fields[first].name != field.name) ++first;
    if (view->get(field.name) != fields[first].value) std::abort();
    if (!view->get_ignore_case(field.name)) std::abort();
  }
  if (view->status() != 0 && view->status() < 100) return 0;  // builder writes 100..999 only
  headers_builder builder = view->status() ? headers_builder(view->status(), view->description())
                                           : headers_builder();
  if (view->status() == 0 && !view->description().empty()) std::abort();
  for (const auto& field : fields) {
    if (!builder.add(field.name, field.value)) std::abort();
  }
  const std::string rebuilt = builder.finish();
  const auto again = headers_view::parse(rebuilt);
  if (!again || again->status() != view->status() || again->description() != view->description() ||
      again->size() != view->size()) {
    std::abort();
  }
  std::size_t i = 0;
  for (const auto& field : *again) {
    if (field.name != fields[i].name || field.value != fields[i].value) std::abort();
    ++i;
  }
  return 0;
}
