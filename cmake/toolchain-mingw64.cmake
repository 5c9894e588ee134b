# SPDX-License-Identifier: Apache-2.0
# Cross-compiling ChatPro (and its dependencies, scripts/windows-deps) for
# 64-bit Windows with Debian's mingw-w64 GCC:
#
#   cmake -S . -B build/win64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
#
# The dependencies are static libraries in one prefix, by default the one
# scripts/windows-deps fills: $CHATPRO_WIN64_DEPS/prefix, else
# $XDG_CACHE_HOME/chatpro/win64-deps/prefix, else ~/.cache/chatpro/win64-deps/prefix.
# Set CHATPRO_WIN64_PREFIX (cache variable or environment) to use another one.
#
# Programs are linked statically (no libstdc++/libgcc/winpthread DLLs to ship),
# and CMAKE_CROSSCOMPILING_EMULATOR runs the .exe files under Wine.

set(CMAKE_SYSTEM_NAME Windows)
# Without a version libzmq builds with an empty _WIN32_WINNT.
set(CMAKE_SYSTEM_VERSION 10.0)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

# The -posix compilers: the default (win32 thread model) GCC 12 has no
# std::thread or std::mutex.
set(CHATPRO_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${CHATPRO_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${CHATPRO_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${CHATPRO_MINGW_TRIPLE}-windres)
set(CMAKE_MC_COMPILER ${CHATPRO_MINGW_TRIPLE}-windmc)
set(CMAKE_AR ${CHATPRO_MINGW_TRIPLE}-gcc-ar-posix CACHE FILEPATH "archiver")
set(CMAKE_RANLIB ${CHATPRO_MINGW_TRIPLE}-gcc-ranlib-posix CACHE FILEPATH "ranlib")

set(CMAKE_CROSSCOMPILING_EMULATOR wine)

if(NOT CHATPRO_WIN64_PREFIX)
  if(DEFINED ENV{CHATPRO_WIN64_PREFIX})
    set(CHATPRO_WIN64_PREFIX "$ENV{CHATPRO_WIN64_PREFIX}")
  elseif(DEFINED ENV{CHATPRO_WIN64_DEPS})
    set(CHATPRO_WIN64_PREFIX "$ENV{CHATPRO_WIN64_DEPS}/prefix")
  elseif(DEFINED ENV{XDG_CACHE_HOME})
    set(CHATPRO_WIN64_PREFIX "$ENV{XDG_CACHE_HOME}/chatpro/win64-deps/prefix")
  else()
    set(CHATPRO_WIN64_PREFIX "$ENV{HOME}/.cache/chatpro/win64-deps/prefix")
  endif()
endif()
set(CHATPRO_WIN64_PREFIX "${CHATPRO_WIN64_PREFIX}" CACHE PATH
    "Prefix holding the dependencies cross-built for Windows")
# try_compile projects re-read this file: hand them the same prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CHATPRO_WIN64_PREFIX)

# Libraries, headers and CMake packages come only from the Windows prefix and
# the mingw-w64 sysroot; programs (flatc, windmc) from the host.
set(CMAKE_FIND_ROOT_PATH "${CHATPRO_WIN64_PREFIX}" /usr/${CHATPRO_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config sees only the prefix's .pc files, never the host's (the host's
# libbsd would otherwise leak into libzmq's link interface).
set(ENV{PKG_CONFIG_LIBDIR} "${CHATPRO_WIN64_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# OpenSSL is static too: FindOpenSSL then adds the Windows libraries it needs
# (ws2_32, crypt32) to its targets.
set(OPENSSL_USE_STATIC_LIBS TRUE)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")
