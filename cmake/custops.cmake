# custops_library(NAME <name> SRCS ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# Defines custops_<name> with the alias custops::<name>; headers in include/, sources in src/.
function(custops_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(custops_${ARG_NAME} ${ARG_SRCS})
  add_library(custops::${ARG_NAME} ALIAS custops_${ARG_NAME})
  target_include_directories(custops_${ARG_NAME}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(custops_${ARG_NAME} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# custops_test(NAME <name> SRCS ... DEPS ... [LABELS ...] [TIMEOUT s] [PROPERTIES k v ...]):
# a GoogleTest binary registered with ctest; PROPERTIES are extra ctest test
# properties of every test case (e.g. FIXTURES_REQUIRED kafka).
function(custops_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;PROPERTIES" ${ARGN})
  if(NOT CUSTOPS_BUILD_TESTS)
    return()
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  # The test sources themselves compile at -O1 in an optimized build: the
  # libraries and binaries they test keep the build's -O3, while gtest's
  # macros at -O3 took a third more compile time for nothing measured
  # (docs/operations.md "Builds").
  if(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
    target_compile_options(${ARG_NAME} PRIVATE -O1)
  endif()
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}" ${ARG_PROPERTIES})
endfunction()

# custops_link_allocator(<dir>): links custops_allocator (CMakeLists.txt) into
# every executable defined in <dir> and its subdirectories, so the binary,
# the tools, the tests and the benchmarks run on the same allocator.
function(custops_link_allocator dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_link_libraries(${t} PRIVATE custops_allocator)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(d IN LISTS subdirs)
    custops_link_allocator(${d})
  endforeach()
endfunction()
