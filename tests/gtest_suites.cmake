# Runs after a test binary is linked (cmake -P): lists its GoogleTest suites
# (--gtest_list_tests) and writes one CTest test per suite to OUTPUT:
# NAME <PREFIX><Suite>, running the binary with --gtest_filter=<Suite>.*
#
# One process per suite rather than per case (what gtest_discover_tests
# does): under the sanitizers a test process costs about 0.1 s of CPU to
# start and end, whatever it tests. Measured on the ASan+UBSan build:
# tests/conf's 55 cases take 5.9 s of CPU one process each and 1.0 s in one
# process, tests/auth's 64 cases 9.4 s and 0.8 s. A failing suite's output
# names the failing cases.
#
# The cases of a few slow suites stay one test each (SPLIT_SUITES), so that
# they run in parallel instead of making one long test that ends the run.
#
# Variables: TEST_EXECUTABLE, PREFIX, OUTPUT, TIMEOUT, WORKING_DIRECTORY,
# HELPER_SUITES (suites that only run as child processes of other tests,
# left out) and SPLIT_SUITES, both comma-separated.
cmake_minimum_required(VERSION 3.20)
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${WORKING_DIRECTORY}"
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE errors
  RESULT_VARIABLE result
  TIMEOUT 60)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${result}):\n${listing}\n${errors}")
endif()

string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
string(REPLACE "," ";" HELPER_SUITES "${HELPER_SUITES}")
string(REPLACE "," ";" SPLIT_SUITES "${SPLIT_SUITES}")
set(script "")
set(count 0)
function(add_one name filter)
  string(APPEND script
    "add_test([==[${name}]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${filter}]==])\n"
    "set_tests_properties([==[${name}]==] PROPERTIES TIMEOUT ${TIMEOUT} WORKING_DIRECTORY [==[${WORKING_DIRECTORY}]==])\n")
  set(script "${script}" PARENT_SCOPE)
endfunction()
set(suite "")
set(split OFF)
foreach(line IN LISTS lines)
  # Suite lines start in column 0 and end with "." (a typed or
  # parameterised suite may add "  # TypeParam = ..."); cases are indented
  # (a parameterised case adds "  # GetParam() = ...").
  if(line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(suite "${CMAKE_MATCH_1}")
    set(split OFF)
    if(suite IN_LIST HELPER_SUITES)
      continue()
    elseif(suite IN_LIST SPLIT_SUITES)
      set(split ON)
    else()
      add_one("${PREFIX}${suite}" "${suite}.*")
      math(EXPR count "${count} + 1")
    endif()
  elseif(split AND line MATCHES "^  ([^ ]+)")
    add_one("${PREFIX}${suite}.${CMAKE_MATCH_1}" "${suite}.${CMAKE_MATCH_1}")
    math(EXPR count "${count} + 1")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE}: no test suites listed:\n${listing}")
endif()
file(WRITE "${OUTPUT}" "${script}")
