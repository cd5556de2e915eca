# todoke_library(NAME SOURCES a.cc b.cc DEPS lib1 lib2)
#   A static library whose include root is the repository root, so headers are included as
#   "common/yaml.h" or "services/renderer/core/kustomize.h".
function(todoke_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/proto)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# todoke_binary(NAME [STATIC] SOURCES main.cc DEPS libs...)
#   STATIC (honoured when TODOKE_STATIC_BINARIES is ON): every dependency with a static archive
#   is linked in (cmake/link_static.sh), leaving only glibc shared: for binaries users copy
#   around and start often, such as the `todoke` CLI.
function(todoke_binary name)
  cmake_parse_arguments(ARG "STATIC" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  if(ARG_STATIC AND TODOKE_STATIC_BINARIES)
    set_target_properties(${name} PROPERTIES RULE_LAUNCH_LINK
      "${PROJECT_SOURCE_DIR}/cmake/link_static.sh --libdir=/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
  endif()
endfunction()

# todoke_test(NAME SOURCES x_test.cc DEPS libs... [LABELS l1 l2] [ENV K=V ...] [TIMEOUT s])
#   A GoogleTest binary registered with CTest (one CTest entry per binary, run from the
#   repository root so tests can find ../shared and testdata by relative path).
function(todoke_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS;ENV;FIXTURES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "TODOKE_BIN_DIR=${PROJECT_BINARY_DIR}/bin;TODOKE_SOURCE_DIR=${PROJECT_SOURCE_DIR};${ARG_ENV}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
  if(ARG_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
endfunction()
