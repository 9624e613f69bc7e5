# spillway_python_suite(): one ctest test per test method of a Python integration suite that
# runs the real binaries (tests/integration/*), through tests/integration/run_test.py from the
# suite's folder. The runner lists "module.Class.test" ids at configure time; each id becomes
# <prefix>.<id without STRIP>.
#
#   spillway_python_suite(<prefix>
#     [MODULES <names...>]     default: every test_*.py in this folder
#     [DEPENDS <files...>]     helper modules whose edits list the tests again
#     [STRIP <regex>]          default: the module name, "^test_[a-z0-9_]+\\."
#     [REQUIRES <targets...>]  default: spillway; a missing target leaves the suite out
#     [ENV <VAR=value...>] [ARGS <runner arguments...>] [TIMEOUT <s>] [LABELS <labels...>])
set(SPILLWAY_PYTHON /usr/bin/python3 CACHE FILEPATH "Python used by the integration tests")

function(spillway_python_suite prefix)
  cmake_parse_arguments(S "" "STRIP;TIMEOUT"
                        "MODULES;DEPENDS;REQUIRES;ENV;ARGS;LABELS" ${ARGN})
  file(RELATIVE_PATH where ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  if(NOT S_REQUIRES)
    set(S_REQUIRES spillway)
  endif()
  foreach(t ${S_REQUIRES})
    if(NOT TARGET ${t})
      message(STATUS "${where}: no ${t} target, tests not registered")
      return()
    endif()
  endforeach()
  set(S_RUNNER ${CMAKE_SOURCE_DIR}/tests/integration/run_test.py)
  if(NOT S_STRIP)
    set(S_STRIP "^test_[a-z0-9_]+\\.")
  endif()
  if(NOT S_TIMEOUT)
    set(S_TIMEOUT 90)
  endif()
  if(NOT S_MODULES)
    file(GLOB paths CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_*.py)
    foreach(path ${paths})
      get_filename_component(mod ${path} NAME_WE)
      list(APPEND S_MODULES ${mod})
    endforeach()
  endif()
  foreach(mod ${S_MODULES})
    list(APPEND S_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${mod}.py)
  endforeach()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${S_DEPENDS} ${S_RUNNER})

  set(env ${S_ENV})
  set(runner ${SPILLWAY_PYTHON} -B ${S_RUNNER})
  if(env)
    set(runner ${CMAKE_COMMAND} -E env ${env} ${runner})
  endif()

  execute_process(
    COMMAND ${runner} --list ${S_MODULES}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE ids
    RESULT_VARIABLE rc
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(WARNING "${where}: listing tests failed: ${err}")
    return()
  endif()
  string(REPLACE "\n" ";" ids "${ids}")
  foreach(id ${ids})
    if(id STREQUAL "")
      continue()
    endif()
    string(REGEX REPLACE "${S_STRIP}" "" short ${id})
    add_test(NAME ${prefix}.${short}
             COMMAND ${runner} --spillway $<TARGET_FILE:spillway> ${S_ARGS} ${id}
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(${prefix}.${short} PROPERTIES
                         TIMEOUT ${S_TIMEOUT}
                         SKIP_RETURN_CODE 77
                         LABELS "${S_LABELS}")
  endforeach()
endfunction()
