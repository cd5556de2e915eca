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

# The CTest labels a test may carry: CI and scripts/test.sh select tests by them, so a test without
# one (or with a misspelt one) would silently never run. Tests registered with a bare add_test()
# (shell scripts, fixtures) set LABELS themselves; the test every_test_has_a_label below fails
# when any test of the tree has none (`ctest -N -LE .` lists nothing).
set(TODOKE_TEST_LABELS unit service integration git k8s docker corpus e2e fuzz)

# todoke_test(NAME SOURCES x_test.cc DEPS libs... LABELS l1 [l2] [ENV K=V ...] [TIMEOUT s])
#   A GoogleTest binary registered with CTest (one CTest entry per binary, run from the
#   repository root so tests can find ../shared and testdata by relative path). A label is
#   required: FATAL_ERROR at configure time when the folder ends without one (LABELS here, or a
#   helper such as todoke_k8s_test() afterwards). Each is one of TODOKE_TEST_LABELS: unit (a core
#   with fakes), service (a gRPC service over a real port-0 server), integration (several real
#   processes), git (real Git servers on loopback), k8s (the test control plane), docker, corpus
#   (../shared/corpus), e2e, fuzz (the libFuzzer targets, scripts/fuzz.sh).
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
  # Checked once the folder is configured, so that helpers such as todoke_k8s_test() may add the
  # label after the call (EVAL: a deferred call's arguments are otherwise expanded when it runs).
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _todoke_require_labels [[${name}]])")
  if(ARG_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
endfunction()

# Refuses (FATAL_ERROR) a todoke_test without a label, or with one not in TODOKE_TEST_LABELS.
function(_todoke_require_labels name)
  get_test_property(${name} LABELS labels)
  if(NOT labels)
    message(FATAL_ERROR "todoke_test(${name}) in ${CMAKE_CURRENT_SOURCE_DIR} has no label: give "
                        "LABELS with one or more of: ${TODOKE_TEST_LABELS}")
  endif()
  foreach(label IN LISTS labels)
    if(NOT label IN_LIST TODOKE_TEST_LABELS)
      message(FATAL_ERROR "todoke_test(${name}) in ${CMAKE_CURRENT_SOURCE_DIR}: unknown label "
                          "\"${label}\"; known labels: ${TODOKE_TEST_LABELS}")
    endif()
  endforeach()
endfunction()

# every_test_has_a_label: fails when a test of the tree carries no label, bare add_test() calls
# included (CMake cannot read another folder's test properties, so CTest itself is asked once every
# folder is configured).
function(_todoke_add_label_check)
  add_test(NAME every_test_has_a_label
           COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${PROJECT_BINARY_DIR} -N -LE .)
  set_tests_properties(every_test_has_a_label PROPERTIES
    LABELS unit PASS_REGULAR_EXPRESSION "Total Tests: 0" TIMEOUT 60)
endfunction()
if(NOT TODOKE_LABEL_CHECK_DEFERRED)
  set(TODOKE_LABEL_CHECK_DEFERRED ON)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _todoke_add_label_check)
endif()
