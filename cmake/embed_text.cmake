# Turns a text file into a C++ source defining a function that returns it,
# as a raw string literal:
#
#   cmake -DINPUT=page.html -DOUTPUT=page_html.cpp -DHEADER=monitor/dashboard.hpp
#         -DNAMESPACE=courier::monitor -DFUNCTION=dashboard_html -P embed_text.cmake
#
# Run at build time (add_custom_command), so editing the file rebuilds the
# source without re-running CMake. The literal's delimiter must not occur in
# the text followed by a quote; the script refuses a file in which it does.
foreach(name INPUT OUTPUT HEADER NAMESPACE FUNCTION)
  if(NOT DEFINED ${name})
    message(FATAL_ERROR "embed_text.cmake: -D${name}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" text)
# At most 16 characters (the C++ limit for a raw string delimiter).
set(delimiter "courier_embed")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "embed_text.cmake: ${INPUT} contains ')${delimiter}\"', which would end the raw string literal")
endif()

get_filename_component(input_name "${INPUT}" NAME)
set(source "// Generated from ${input_name} by cmake/embed_text.cmake at build time: edit ${input_name}, not this file.
#include \"${HEADER}\"

namespace ${NAMESPACE} {

std::string_view ${FUNCTION}() {
  static constexpr std::string_view text = R\"${delimiter}(${text})${delimiter}\";
  return text;
}

}  // namespace ${NAMESPACE}
")
# Rewrite only on change, so that an unchanged page does not recompile.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL source)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${source}")
