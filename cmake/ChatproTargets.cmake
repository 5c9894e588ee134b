# SPDX-License-Identifier: Apache-2.0
# Helpers that give every ChatPro target the same strict flags.

if(MSVC)
  set(CHATPRO_WARNINGS /W4 /WX /permissive-)
else()
  set(CHATPRO_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Werror)
endif()

# chatpro_library(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
function(chatpro_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CHATPRO_WARNINGS})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# chatpro_test(NAME LABEL SOURCES ... DEPS ...): one GoogleTest executable per library.
function(chatpro_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CHATPRO_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABEL}" DISCOVERY_TIMEOUT 60)
endfunction()

function(chatpro_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CHATPRO_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  if(MINGW)
    target_link_libraries(${name} PRIVATE ${CHATPRO_MINGW_BINMODE})
  endif()
endfunction()

# Where the built-in plugins are put in the build tree, beside bin/ as in an
# installation (<prefix>/bin/chatpro-broker, <prefix>/lib/chatpro/plugins/).
set(CHATPRO_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/lib/chatpro/plugins)

# chatpro_plugin(NAME SOURCES ... [OUTPUT_DIR dir]): a plugin as a loadable
# module named libchatpro_NAME.so (chatpro_NAME.dll on Windows). It sees only the plugin API header (and the
# header-only helpers in plugins/support), links no ChatPro library, and
# exports nothing but `chatpro_plugin_entry`.
function(chatpro_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CHATPRO_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CHATPRO_WARNINGS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  if(WIN32)
    set(prefix "")
  else()
    set(prefix "lib")
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX "${prefix}"
    OUTPUT_NAME ${name}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    # Hidden visibility leaves some template and typeinfo symbols of the
    # standard library exported; the version script makes the list exact.
    set(map ${CMAKE_SOURCE_DIR}/plugins/support/exports.map)
    target_link_options(${name} PRIVATE -Wl,--version-script=${map})
    set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${map})
  endif()
endfunction()
