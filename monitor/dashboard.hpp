// The live monitoring page served at GET <http_base_path>/dashboard.
//
// The page is monitor/dashboard.html, one self-contained HTML file (inline
// CSS and script, no external resource) that polls the monitoring endpoints
// beside it. The build turns it into a C++ source (cmake/embed_text.cmake),
// so the binary serves it without reading any file at run time.
#pragma once

#include <string_view>

namespace courier::monitor {

/// The whole page, UTF-8 HTML, to send with `Content-Type: text/html;
/// charset=utf-8`. Static storage: the view stays valid for the program's life.
std::string_view dashboard_html();

}  // namespace courier::monitor
