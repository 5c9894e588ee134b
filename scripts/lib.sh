# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Shared helpers for scripts/run, scripts/test and .ci/run. Source it, do not run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Defines CHATPRO_ROOT (the repository root), CHATPRO_PACKAGES (the Debian packages the
# build needs; the only list of them), CHATPRO_WIN64_PACKAGES (what the Windows cross-build
# and its Wine test add) and chatpro_* functions. Expects `set -euo pipefail`.

# Debian 12 packages needed to build and test ChatPro. Keep this the only copy of the list.
CHATPRO_PACKAGES=(
  build-essential
  cmake
  ninja-build
  pkg-config
  libzmq3-dev
  cppzmq-dev
  libflatbuffers-dev
  flatbuffers-compiler
  libleveldb-dev
  libsnappy-dev
  libpoco-dev
  # OpenSSL 3 headers: the admin console's HTTPS and its self-signed certificate.
  libssl-dev
  prometheus-cpp-dev
  prometheus
  libsodium-dev
  libhowardhinnant-date-dev
  tzdata
  libgtest-dev
  libsystemd-dev
  # The Debian package: dpkg-shlibdeps works out its library dependencies.
  dpkg-dev
  # The fuzz targets (scripts/fuzz): clang, and libFuzzer's runtime, which Debian
  # ships in clang's runtime package.
  clang
  libclang-rt-14-dev
  # The browser tests (tests/browser): Debian's chromium driven by playwright-core
  # (from the npm registry, `npm ci` in tests/browser) under node's test runner.
  # Node.js and npm: see chatpro_ensure_node.
  chromium
)

# What the Windows build adds (scripts/windows-deps, scripts/test-windows): the
# mingw-w64 cross compiler with POSIX threads, dpkg-dev for `apt-get source`, CLDR
# for the Windows zone names that the time-zone library reads on Windows, and Wine
# to run the result; autotools because libsodium's Debian source has no configure
# script; curl to talk HTTPS to the console under Wine. Not needed for the Linux build.
# shellcheck disable=SC2034  # used by the scripts that source this file
CHATPRO_WIN64_PACKAGES=(
  g++-mingw-w64-x86-64-posix
  dpkg-dev
  autoconf
  automake
  libtool
  unicode-cldr-core
  wine
  wine64
  curl
)

# Oldest CMake that reads CMakePresets.json version 3 and satisfies CMakeLists.txt.
CHATPRO_MIN_CMAKE=3.22

CHATPRO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

chatpro_log() { printf '==> %s\n' "$*" >&2; }
chatpro_warn() { printf 'warning: %s\n' "$*" >&2; }
chatpro_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Number of CPUs to build with.
chatpro_jobs() {
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2
}

# Seconds as "1m05s".
chatpro_duration() {
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# Succeeds if dpkg reports PACKAGE as installed (not merely known or half-removed).
chatpro_package_installed() {
  local status
  status="$(dpkg -s "$1" 2>/dev/null)" || return 1
  grep -q '^Status: install ok installed$' <<<"${status}"
}

# Prints, one a line, the packages among the arguments that are not installed.
chatpro_missing_packages() {
  local package
  for package in "$@"; do
    if ! chatpro_package_installed "${package}"; then
      printf '%s\n' "${package}"
    fi
  done
}

# Node.js and npm for the browser tests: the machine's own where it has both (a
# Node.js from elsewhere, such as NodeSource's package, brings its own npm and
# conflicts with Debian's npm package), else Debian's nodejs and npm.
chatpro_ensure_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    return 0
  fi
  chatpro_ensure_packages nodejs npm
}

# chatpro_ensure_packages [PACKAGE...]: installs whatever of the packages (default:
# CHATPRO_PACKAGES) is missing, with apt-get (through sudo when not root). Runs
# `apt-get update` only when something has to be installed.
chatpro_ensure_packages() {
  if (($# == 0)); then
    set -- "${CHATPRO_PACKAGES[@]}"
  fi
  command -v dpkg >/dev/null 2>&1 ||
    chatpro_die "dpkg not found: these scripts install dependencies on Debian 12 only." \
      "Install the equivalents of: $*"

  local -a missing
  mapfile -t missing < <(chatpro_missing_packages "$@")
  if ((${#missing[@]} == 0)); then
    chatpro_log "Build dependencies: all $# packages installed"
    return 0
  fi

  local -a as_root=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 ||
      chatpro_die "missing packages and no sudo; as root run:" \
        "apt-get update && apt-get install -y ${missing[*]}"
    as_root=(sudo)
  fi

  chatpro_log "Installing missing packages: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    chatpro_die "apt-get update failed"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    chatpro_die "apt-get install failed for: ${missing[*]}"

  # The prometheus package (promtool, and the Prometheus the tests start on free
  # ports of their own) also starts a system-wide Prometheus on :9090 where
  # services may start. Nothing here uses it: stop the one this installation started.
  if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      "${as_root[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus ]]; then
      "${as_root[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
    chatpro_log "Stopped the Prometheus service the prometheus package starts (tests run their own)"
  fi
}

# Dies unless cmake (new enough for the presets) and ninja are on PATH.
chatpro_check_tools() {
  command -v cmake >/dev/null 2>&1 || chatpro_die "cmake not found on PATH"
  command -v ninja >/dev/null 2>&1 || chatpro_die "ninja not found on PATH"
  local version
  version="$(cmake --version | sed -n '1s/^cmake version \([0-9.]*\).*/\1/p')"
  if [[ "$(printf '%s\n%s\n' "${CHATPRO_MIN_CMAKE}" "${version}" | sort -V | head -n1)" \
    != "${CHATPRO_MIN_CMAKE}" ]]; then
    chatpro_die "cmake ${version} is too old: CMakePresets.json needs ${CHATPRO_MIN_CMAKE} or newer"
  fi
}

# chatpro_configure PRESET: configures the build tree of a CMakePresets.json preset.
chatpro_configure() {
  chatpro_log "Configuring (preset $1)"
  (cd "${CHATPRO_ROOT}" && cmake --preset "$1")
}

# chatpro_build PRESET [TARGET...]: builds with Ninja on every CPU. Under CI, Ninja keeps
# going past the first failure so that one run shows every broken target.
chatpro_build() {
  local preset=$1
  shift
  local -a targets=() ninja_args=()
  if (($# > 0)); then
    targets=(--target "$@")
  fi
  if [[ "${CI:-}" == "true" ]]; then
    ninja_args=(-- -k 0)
  fi
  chatpro_log "Building (preset ${preset}, $(chatpro_jobs) jobs)"
  (cd "${CHATPRO_ROOT}" &&
    cmake --build --preset "${preset}" --parallel "$(chatpro_jobs)" \
      "${targets[@]}" "${ninja_args[@]}")
}
