#include "protocol/encoder.hpp"

namespace courier::protocol {

char* format_decimal(char* dest, std::uint64_t value) noexcept {
  return encoder_detail::write_decimal(dest, value, encoder_detail::decimal_digits(value));
}

}  // namespace courier::protocol
