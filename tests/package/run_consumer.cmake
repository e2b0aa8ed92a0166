# run_consumer.cmake — driver for the packaging tests (cmake -P), one step per MODE:
#   install           install BUILD_DIR into a fresh PREFIX (cmake --install)
#   find_package      configure, build and run find_package/ against PREFIX
#   pkg_config        compile consumer.cpp with `pkg-config --cflags --libs event_manager` from PREFIX (which
#                     must not set -std) and the standard its cxx_standard variable names, run it
#   add_subdirectory  configure, build and run add_subdirectory/ on SOURCE_DIR
#   readme            compile the README's usage example against LIBRARY (this build tree), run it
# The consumers are built with the same compiler, generator and flags as the
# calling build tree (so a sanitizer build links its sanitizer runtime) into WORK_DIR.
cmake_minimum_required(VERSION 3.25)

function(run)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "run: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${shown}")
  endif()
endfunction()

# Configure, build and run the CMake consumer project in SOURCE.
function(build_and_run_cmake_consumer source)
  file(REMOVE_RECURSE "${WORK_DIR}")
  run("${CMAKE_COMMAND}" -S "${source}" -B "${WORK_DIR}" -G "${GENERATOR}" "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}" ${ARGN})
  run("${CMAKE_COMMAND}" --build "${WORK_DIR}")
  run("${WORK_DIR}/consumer")
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}")
  foreach(path IN ITEMS "${LIBDIR}/cmake/event_manager/event_managerConfig.cmake"
                        "${LIBDIR}/pkgconfig/event_manager.pc" "include/event_manager/event_manager.hpp")
    if(NOT EXISTS "${PREFIX}/${path}")
      message(FATAL_ERROR "not installed: ${PREFIX}/${path}")
    endif()
  endforeach()
elseif(MODE STREQUAL "find_package")
  build_and_run_cmake_consumer("${SOURCE_DIR}/tests/package/find_package" "-DCMAKE_PREFIX_PATH=${PREFIX}"
                               "-DEXPECTED_PREFIX=${PREFIX}" "-DEXPECTED_VERSION=${VERSION}")
elseif(MODE STREQUAL "pkg_config")
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${LIBDIR}/pkgconfig")
  execute_process(COMMAND "${PKG_CONFIG}" --modversion event_manager OUTPUT_VARIABLE found_version
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  if(NOT found_version STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config found event_manager ${found_version}, expected ${VERSION}")
  endif()
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs event_manager OUTPUT_VARIABLE pc_flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  # The consumer picks its C++ standard: a -std in the .pc file would come after
  # the consumer's own and, the last one winning, downgrade a newer one.
  if(pc_flags MATCHES "-std=")
    message(FATAL_ERROR "pkg-config --cflags --libs event_manager sets the C++ standard: '${pc_flags}'")
  endif()
  execute_process(COMMAND "${PKG_CONFIG}" --variable=cxx_standard event_manager OUTPUT_VARIABLE cxx_standard
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  if(NOT cxx_standard STREQUAL "c++23")
    message(FATAL_ERROR "pkg-config --variable=cxx_standard event_manager gives '${cxx_standard}', expected c++23")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  separate_arguments(extra_flags UNIX_COMMAND "${CXX_FLAGS} ${LINKER_FLAGS}")
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  # The shell equivalent:
  #   c++ -std=$(pkg-config --variable=cxx_standard event_manager) consumer.cpp \
  #       $(pkg-config --cflags --libs event_manager) -o consumer
  run("${CXX_COMPILER}" ${extra_flags} "-std=${cxx_standard}" -Wall -Wextra -Werror
      "${SOURCE_DIR}/tests/package/consumer.cpp" ${pc_flags} -o "${WORK_DIR}/consumer")
  run("${WORK_DIR}/consumer")
elseif(MODE STREQUAL "add_subdirectory")
  build_and_run_cmake_consumer("${SOURCE_DIR}/tests/package/add_subdirectory" "-DEVENT_MANAGER_SOURCE_DIR=${SOURCE_DIR}")
elseif(MODE STREQUAL "readme")
  # The C++ block right after the "<!-- readme-example -->" marker in README.md.
  file(READ "${SOURCE_DIR}/README.md" readme)
  string(FIND "${readme}" "<!-- readme-example -->\n```cpp\n" start)
  if(start LESS 0)
    message(FATAL_ERROR "README.md has no '<!-- readme-example -->' marker followed by a ```cpp block")
  endif()
  string(SUBSTRING "${readme}" ${start} -1 readme)
  string(REGEX MATCH "```cpp\n(.*)" block "${readme}")
  string(FIND "${CMAKE_MATCH_1}" "\n```" end)
  string(SUBSTRING "${CMAKE_MATCH_1}" 0 ${end} example)
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(WRITE "${WORK_DIR}/readme_example.cpp" "${example}\n")
  separate_arguments(extra_flags UNIX_COMMAND "${CXX_FLAGS} ${LINKER_FLAGS}")
  run("${CXX_COMPILER}" ${extra_flags} -std=c++23 -Wall -Wextra -Werror "-I${SOURCE_DIR}/include"
      "${WORK_DIR}/readme_example.cpp" "${LIBRARY}" -pthread -o "${WORK_DIR}/readme_example")
  run("${WORK_DIR}/readme_example")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
