# cmake -DCHECK=agentd_check_plugin.cmake -DPLUGIN=x.so -DEXPECT=pass|fail [-DREGEX=re] -P this
# Runs the plugin symbol check and asserts its outcome and (optionally) that its output matches.
foreach(var CHECK PLUGIN EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_check.cmake: -D${var}= is required")
  endif()
endforeach()
if(NOT EXISTS "${PLUGIN}")
  message(FATAL_ERROR "${PLUGIN} does not exist (build the fixture plugins first)")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -DPLUGIN=${PLUGIN} -P ${CHECK}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
# CMake wraps message() text; compare with runs of whitespace collapsed to one space.
string(REGEX REPLACE "[ \t\r\n]+" " " all "${out}${err}")
if(EXPECT STREQUAL "pass" AND NOT rc EQUAL 0)
  message(FATAL_ERROR "check rejected ${PLUGIN} (rc=${rc}):\n${all}")
elseif(EXPECT STREQUAL "fail" AND rc EQUAL 0)
  message(FATAL_ERROR "check accepted ${PLUGIN}, expected a rejection:\n${all}")
endif()
if(DEFINED REGEX AND NOT all MATCHES "${REGEX}")
  message(FATAL_ERROR "check output does not match '${REGEX}':\n${all}")
endif()
message(STATUS "as expected (${EXPECT}): ${all}")
