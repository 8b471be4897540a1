# agentd_add_plugin(NAME SOURCES src... [LIBRARIES lib...] [OUTPUT_DIRECTORY dir])
#
# Builds NAME.so as a MODULE against agentd::sdk with the flags the ABI requires
# (-fvisibility=hidden -fvisibility-inlines-hidden -fno-gnu-unique -Wl,--no-undefined, and a
# version script exporting only agentd_plugin_entry) and, after
# each build, checks that the library exports exactly one dynamic symbol (agentd_plugin_entry) and
# no STB_GNU_UNIQUE symbol, either of which would make hot swap unsafe.
function(agentd_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "agentd_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE agentd::sdk ${ARG_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fno-gnu-unique>)
  target_link_options(${name} PRIVATE -Wl,--no-undefined -Wl,--exclude-libs,ALL
                      -Wl,--version-script=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/agentd_plugin.map)
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS
               ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/agentd_plugin.map)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DPLUGIN=$<TARGET_FILE:${name}>
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/agentd_check_plugin.cmake
    VERBATIM)
endfunction()
