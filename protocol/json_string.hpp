// A JSON string as Go's encoding/json writes it (json.Marshal, HTML escaping
// on), which is how nats-server writes every JSON it sends: INFO and CONNECT
// lines and the monitoring documents. So "<", ">" and "&" become \u003c,
// \u003e and \u0026, a tab \t but other control characters \u00XX (lower-case
// hex), U+2028 and U+2029 \u2028 and \u2029, and each byte that is not part
// of well-formed UTF-8 \ufffd; other characters are copied.
#pragma once

#include <string>
#include <string_view>

namespace courier::protocol {

/// Appends `text` quoted and escaped as Go's json.Marshal does.
void append_json_string(std::string& out, std::string_view text);

}  // namespace courier::protocol
