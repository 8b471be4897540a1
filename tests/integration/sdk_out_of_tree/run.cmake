# Out-of-tree SDK round trip: install the `sdk` component into a temporary prefix, build a C++
# and a C plugin in separate projects with find_package(agentd-sdk) + agentd_add_plugin(), then
# load and call each with the host's loader and list them with `agentd plugins list`.
#   cmake -DBINARY_DIR= -DSOURCE_DIR= -DTMP_ROOT= -DGENERATOR= -DCXX= -DC= [-DLOADER=] [-DAGENTD=]
#         -P run.cmake
foreach(var BINARY_DIR SOURCE_DIR TMP_ROOT GENERATOR CXX C)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: -D${var}= is required")
  endif()
endforeach()

string(RANDOM LENGTH 10 ALPHABET 0123456789abcdef tag)
set(tmp ${TMP_ROOT}/sdk_out_of_tree.${tag})
set(prefix ${tmp}/prefix)
file(REMOVE_RECURSE ${tmp})
file(MAKE_DIRECTORY ${tmp})

macro(fail message)
  file(REMOVE_RECURSE ${tmp})
  message(FATAL_ERROR "${message}")
endmacro()

# Runs a command; fails the test with its output unless it exits 0.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    fail("${what} failed (${rc}):\n${ARGN}\n${out}")
  endif()
  message(STATUS "${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# (a) Install only the SDK.
step("install sdk" ${CMAKE_COMMAND} --install ${BINARY_DIR} --component sdk --prefix ${prefix})
foreach(f include/agentd/plugin.h include/agentd/plugin.hpp)
  if(NOT EXISTS ${prefix}/${f})
    fail("install did not provide ${f}")
  endif()
endforeach()
file(GLOB_RECURSE configs ${prefix}/*/agentd-sdkConfig.cmake)
if(NOT configs)
  fail("install did not provide agentd-sdkConfig.cmake")
endif()
file(GLOB_RECURSE abi_docs ${prefix}/*/ABI.md)
if(NOT abi_docs)
  fail("install did not provide ABI.md")
endif()
file(GLOB_RECURSE stray ${prefix}/bin/* ${prefix}/*.a ${prefix}/*.so)
if(stray)
  fail("the sdk component installed more than the SDK: ${stray}")
endif()

# (b, c) Configure and build each project from a copy outside the source tree.
foreach(project hello hello_c)
  set(src ${tmp}/${project}-src)
  set(bin ${tmp}/${project}-build)
  file(COPY ${SOURCE_DIR}/${project}/ DESTINATION ${src})
  step("configure ${project}" ${CMAKE_COMMAND} -S ${src} -B ${bin} -G ${GENERATOR}
       -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
       -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${C} -DCMAKE_BUILD_TYPE=Release)
  file(STRINGS ${bin}/CMakeCache.txt sdk_dir REGEX "^agentd-sdk_DIR:")
  string(FIND "${sdk_dir}" "${prefix}/" at)
  if(NOT at GREATER -1)
    fail("${project} found the SDK elsewhere: ${sdk_dir}")
  endif()
  step("build ${project}" ${CMAKE_COMMAND} --build ${bin})
  if(NOT EXISTS ${bin}/${project}.so)
    fail("${project}.so was not produced")
  endif()
endforeach()

# (d) Load each with the host's loader and call its tool.
if(LOADER)
  step("load hello" ${LOADER} ${tmp}/hello-build/hello.so ${tmp}/copies hello hello
       [=[{"message":"hello","arguments":{"name":"x"}}]=])
  message(STATUS "${step_output}")
  step("load hello_c" ${LOADER} ${tmp}/hello_c-build/hello_c.so ${tmp}/copies hello_c hello_c
       "hello from C")
  message(STATUS "${step_output}")
else()
  message(WARNING "load step skipped: the agentd_plugin library is not part of this build")
endif()

# (e) Load both through agentd.toml with the CLI, as AGENT_TEMPLATE_GUIDE.md shows: hello_c from
# a plugin directory, hello from an explicit table pinned by its SHA-256.
if(AGENTD)
  if(NOT EXISTS ${AGENTD})
    fail("${AGENTD} does not exist: build the agentd target first")
  endif()
  file(MAKE_DIRECTORY ${tmp}/plugins.d)
  file(COPY ${tmp}/hello_c-build/hello_c.so DESTINATION ${tmp}/plugins.d)
  file(SHA256 ${tmp}/hello-build/hello.so hello_sha)
  file(WRITE ${tmp}/agentd.toml "[plugins]
directories = [\"plugins.d\"]

[plugins.hello]
path = \"hello-build/hello.so\"
sha256 = \"${hello_sha}\"
config = { greeting = \"hi\" }
")
  step("agentd plugins list" ${AGENTD} plugins list --config ${tmp}/agentd.toml --json)
  message(STATUS "${step_output}")
  foreach(expect [=["name":"hello","kind":"tool"]=] [=["name":"hello_c","kind":"tool"]=]
                 [=["errors":[]]=])
    string(FIND "${step_output}" "${expect}" at)
    if(at EQUAL -1)
      fail("agentd plugins list output lacks ${expect}:\n${step_output}")
    endif()
  endforeach()
endif()

file(REMOVE_RECURSE ${tmp})
