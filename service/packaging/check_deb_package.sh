#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Debian packages, end to end on this machine: cpack builds chatpro and
# chatpro-dev; dpkg -i installs chatpro (without a running systemd); the
# files, owners, modes, the user chatpro and the enabled unit are checked; an
# administrator's edit of /etc/chatpro/chatpro.conf (a policy plugin by its
# short name) is made; the installed broker runs as the user chatpro on a
# free loopback port, with the installed unit's command line, and the
# installed `chatpro` client enrolls, chats and sees the plugin at work; a
# program of one's own, built with pkg-config against the installed
# chatpro-dev, enrolls and sends; SIGTERM stops the broker cleanly; an upgrade
# (the same programs as a later version) keeps the edited configuration and
# the messages; dpkg -r removes the programs and keeps the configuration;
# dpkg -P removes the configuration and keeps /var/lib/chatpro and the user,
# as the README says.
#
#   check_deb_package.sh BUILD_DIR VERSION CPACK SOURCE_DIR
#
# Needs root or passwordless sudo; exits 77 (skipped, with the reason) without
# them, or when the machine has ChatPro installed or left over already (a
# chatpro or chatpro-dev package, the user chatpro, /etc/chatpro or
# /var/lib/chatpro), which it never touches. Whatever it installed or created
# is removed on exit, also when a check fails.
set -euo pipefail

build_dir=$1 version=$2 cpack=$3 source_dir=$4
readonly kSkip=77

skip() {
  echo "SKIPPED: $*"
  exit "${kSkip}"
}
fail() {
  echo "FAILED: $*" >&2
  exit 1
}
step() { echo "==> $*"; }

if ((EUID == 0)); then
  as_root=()
  as_chatpro=(setpriv --reuid=chatpro --regid=chatpro --init-groups --)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
  as_chatpro=(sudo -n -u chatpro --)
else
  skip "installing a package needs root or passwordless sudo (sudo -n true failed)"
fi
command -v dpkg >/dev/null 2>&1 || skip "dpkg not found: not a Debian system"
command -v dpkg-shlibdeps >/dev/null 2>&1 ||
  fail "dpkg-shlibdeps not found: install dpkg-dev (scripts/lib.sh lists it)"

# One run at a time on a machine (a second build tree's run waits here).
exec 9>"${TMPDIR:-/tmp}/chatpro-deb-package-test.lock"
flock 9

# Succeeds if dpkg knows PACKAGE as installed, or removed with its configuration left.
known_to_dpkg() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
  [[ -n "${status}" && "${status}" != "un "* && "${status}" != "pn "* ]]
}
for package in chatpro chatpro-dev; do
  if known_to_dpkg "${package}"; then
    skip "the package ${package} is on this machine ($(dpkg-query -W -f='${db:Status-Abbrev}' \
      "${package}")); not replacing it"
  fi
done
getent passwd chatpro >/dev/null && skip "the user chatpro exists already; not touching it"
getent group chatpro >/dev/null && skip "the group chatpro exists already; not touching it"
for dir in /etc/chatpro /var/lib/chatpro; do
  [[ -e "${dir}" ]] && skip "${dir} exists already; not touching it"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/chatpro-deb.XXXXXX")
job="" # the background job that runs the broker (itself, or sudo)
pid="" # the broker's process
installed=0

cleanup() {
  local rc=$?
  set +e
  if [[ -n "${pid}" ]]; then
    "${as_root[@]}" kill -KILL "${pid}" 2>/dev/null
  fi
  if [[ -n "${job}" ]]; then
    kill -KILL "${job}" 2>/dev/null
    wait "${job}" 2>/dev/null
  fi
  if ((installed)); then
    for package in chatpro-dev chatpro; do
      if known_to_dpkg "${package}"; then
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive dpkg --purge "${package}" >/dev/null </dev/null
      fi
    done
  fi
  # The test made sure none of these existed before it started.
  if ((installed)); then
    getent passwd chatpro >/dev/null && "${as_root[@]}" userdel chatpro
    getent group chatpro >/dev/null && "${as_root[@]}" groupdel chatpro
    "${as_root[@]}" rm -rf /var/lib/chatpro /etc/chatpro
  fi
  if ((rc != 0)); then
    for log in "${work}"/broker-*.log; do
      [[ -f "${log}" ]] || continue
      echo "---- ${log##*/} ----" >&2
      cat "${log}" >&2
    done
  fi
  "${as_root[@]}" rm -rf "${work}"
  exit "${rc}"
}
trap cleanup EXIT

# expect_mode PATH OWNER:GROUP MODE
expect_mode() {
  [[ -e "$1" ]] || fail "$1 is missing"
  local got
  got=$(stat -L -c '%U:%G %a' "$1")
  [[ "${got}" == "$2 $3" ]] || fail "$1 is ${got}, expected $2 $3"
}
expect_absent() {
  [[ ! -e "$1" && ! -L "$1" ]] || fail "$1 is still there"
}
# expect_output "what" PATTERN COMMAND...: runs COMMAND and greps its output.
expect_output() {
  local what=$1 pattern=$2 out
  shift 2
  out=$("$@" 2>&1) || fail "${what}: '$*' failed:"$'\n'"${out}"
  grep -q -- "${pattern}" <<<"${out}" || fail "${what}: no '${pattern}' in the output of '$*':"$'\n'"${out}"
  echo "${out}"
}

# ------------------------------------------------------------------ build
# make_package DIR [CPACK -D ARGS...]: runs cpack into DIR.
make_package() {
  local dir=$1
  shift
  (cd "${work}" && "${cpack}" -G DEB --config "${build_dir}/CPackConfig.cmake" -B "${dir}" "$@") \
    >"${dir}.log" 2>&1 || {
    cat "${dir}.log" >&2
    fail "cpack failed"
  }
}
arch=$(dpkg --print-architecture)
step "cpack"
deb="${work}/package/chatpro_${version}_${arch}.deb"
make_package "${work}/package"
[[ -f "${deb}" ]] || fail "no ${deb}; cpack made: $(ls "${work}/package")"
dev_deb="${work}/package/chatpro-dev_${version}_${arch}.deb"
[[ -f "${dev_deb}" ]] || fail "no ${dev_deb}; cpack made: $(ls "${work}/package")"
# The same programs as a later version, to upgrade to.
next_version="${version}+1"
step "cpack, as version ${next_version}"
next_deb="${work}/package-next/chatpro_${next_version}_${arch}.deb"
make_package "${work}/package-next" -D "CPACK_PACKAGE_VERSION=${next_version}"
[[ -f "${next_deb}" ]] || fail "no ${next_deb}; cpack made: $(ls "${work}/package-next")"
next_dev_deb="${work}/package-next/chatpro-dev_${next_version}_${arch}.deb"
[[ -f "${next_dev_deb}" ]] || fail "no ${next_dev_deb}; cpack made: $(ls "${work}/package-next")"

step "the package's control data"
depends=$(dpkg-deb -f "${deb}" Depends)
echo "Depends: ${depends}"
for dep in adduser tzdata libc6 libzmq5 libsodium libleveldb libsystemd0; do
  grep -q "${dep}" <<<"${depends}" || fail "Depends lacks ${dep}: ${depends}"
done
dpkg-deb -e "${deb}" "${work}/control"
grep -qx /etc/chatpro/chatpro.conf "${work}/control/conffiles" ||
  fail "/etc/chatpro/chatpro.conf is not a conffile"
contents=$(dpkg-deb -c "${deb}")
grep -q 'chatpro-bench' <<<"${contents}" && fail "chatpro-bench is in the package"
grep -q '\./var/lib/chatpro' <<<"${contents}" && fail "/var/lib/chatpro is in the package"

# ------------------------------------------------------------------ install
step "dpkg -i (systemd running: $([[ -d /run/systemd/system ]] && echo yes || echo no))"
installed=1
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -i "${deb}" </dev/null ||
  fail "dpkg -i failed"

step "files, owners and modes"
expect_mode /usr/bin/chatpro-broker root:root 755
expect_mode /usr/bin/chatpro root:root 755
expect_absent /usr/bin/chatpro-bench
for plugin in retention_age strip_attachments keep_newest patterns; do
  expect_mode "/usr/lib/chatpro/plugins/libchatpro_${plugin}.so" root:root 644
done
expect_mode /lib/systemd/system/chatpro-broker.service root:root 644
expect_mode /etc/chatpro/chatpro.conf root:root 644
cmp -s /etc/chatpro/chatpro.conf "${source_dir}/service/chatpro.conf" ||
  fail "/etc/chatpro/chatpro.conf differs from service/chatpro.conf"
expect_mode /var/lib/chatpro chatpro:chatpro 700
expect_mode /usr/share/doc/chatpro/copyright root:root 644
expect_mode /usr/share/doc/chatpro/README.md root:root 644
for program in /usr/bin/chatpro-broker /usr/bin/chatpro; do
  if readelf -d "${program}" | grep -E 'RPATH|RUNPATH'; then
    fail "${program} carries a library search path"
  fi
done

step "the user chatpro"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd chatpro) || fail "no user chatpro"
((uid < 1000)) || fail "chatpro has uid ${uid}, not a system user's"
[[ "$(getent group chatpro | cut -d: -f3)" == "${gid}" ]] || fail "chatpro's group is not chatpro"
[[ "${home}" == /var/lib/chatpro ]] || fail "chatpro's home is ${home}"
[[ "${shell}" == /usr/sbin/nologin ]] || fail "chatpro's shell is ${shell}"

step "the unit is enabled"
wants=/etc/systemd/system/multi-user.target.wants/chatpro-broker.service
[[ -L "${wants}" ]] || fail "${wants} is not there: the unit is not enabled"
[[ "$(readlink -f "${wants}")" == "$(readlink -f /lib/systemd/system/chatpro-broker.service)" ]] ||
  fail "${wants} points to $(readlink "${wants}")"
if [[ -d /run/systemd/system ]]; then
  # postinst started it; the rest of the test runs its own broker.
  systemctl is-active --quiet chatpro-broker || fail "systemd runs, but chatpro-broker was not started"
  "${as_root[@]}" systemctl stop chatpro-broker
fi

step "the installed programs"
expect_output "broker version" "${version}" /usr/bin/chatpro-broker --version
expect_output "client version" "${version}" /usr/bin/chatpro --version
# The unit's own command line, as the service runs it.
read -r -a unit_command <<<"$(sed -n 's/^ExecStart=//p' /lib/systemd/system/chatpro-broker.service)"
[[ "${unit_command[0]:-}" == /usr/bin/chatpro-broker ]] ||
  fail "the unit's ExecStart is '${unit_command[*]}'"
out=$(expect_output "the unit's command line, checked as chatpro" "configuration is valid" \
  "${as_chatpro[@]}" "${unit_command[@]}" --check-config)
echo "${out}"
grep -q "data_dir = /var/lib/chatpro$" <<<"${out}" || fail "the unit's command line does not use /var/lib/chatpro"

step "an administrator's edit: a policy plugin by its short name"
"${as_root[@]}" sh -c 'cat >>/etc/chatpro/chatpro.conf' <<'EOF'

# Added by the administrator.
[plugin.no-cards]
library = patterns
card_numbers = true
EOF
plugin_path=/usr/lib/chatpro/plugins/libchatpro_patterns.so
expect_output "the plugin found without [plugins] dir" "${plugin_path}" \
  "${as_chatpro[@]}" "${unit_command[@]}" --check-config

# ------------------------------------------------------------------ run
# A loopback port nobody listens on (a connection attempt is refused), below
# Linux's ephemeral range (32768-60999), where the outgoing connections of
# other tests would make the broker's bind fail.
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 12000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/${candidate}") 2>/dev/null; then
    port=${candidate}
    break
  fi
done
[[ -n "${port}" ]] || fail "no free loopback port found"
endpoint="tcp://127.0.0.1:${port}"
broker=("${unit_command[@]}" --set "broker.listen=${endpoint}" --set metrics.listen=
  --set console.enabled=false --set webchat.enabled=false)
cli=(/usr/bin/chatpro)

# start_broker NAME: starts the installed broker as chatpro, its output in
# broker-NAME.log, and waits until it listens.
start_broker() {
  local log="${work}/broker-$1.log"
  step "the installed broker, as chatpro, on ${endpoint}"
  "${as_chatpro[@]}" "${broker[@]}" >"${log}" 2>&1 &
  job=$!
  for _ in $(seq 1 600); do
    grep -q "listening on" "${log}" && break
    kill -0 "${job}" 2>/dev/null || fail "the broker exited before listening"
    sleep 0.1
  done
  grep -q "listening on" "${log}" || fail "the broker did not listen within a minute"
  pid=$(pgrep -x chatpro-broker -u chatpro | head -n 1) || true
  [[ -n "${pid}" ]] || fail "no chatpro-broker process of the user chatpro"
  [[ "$(ps -o user=,group= -p "${pid}" | tr -s ' ')" == "chatpro chatpro" ]] ||
    fail "the broker runs as $(ps -o user=,group= -p "${pid}")"
}

# Stops it with SIGTERM, as systemd does; it must exit 0.
stop_broker() {
  step "SIGTERM stops it"
  "${as_root[@]}" kill -TERM "${pid}"
  local rc=0
  wait "${job}" || rc=$?
  job="" pid=""
  ((rc == 0)) || fail "the broker exited with status ${rc} on SIGTERM"
}

step "the first administrator's invite (--init-admin, as chatpro)"
invite=$("${as_chatpro[@]}" "${broker[@]}" --init-admin admin | tail -n 1) ||
  fail "--init-admin failed"
[[ -n "${invite}" ]] || fail "--init-admin printed no invite"

start_broker first
step "the installed client talks to it"
expect_output "enroll the administrator" "" "${cli[@]}" --profile "${work}/admin" enroll "${invite}"
expect_output "whoami" "admin" "${cli[@]}" --profile "${work}/admin" whoami
ana_invite=$("${cli[@]}" --profile "${work}/admin" admin user add ana --display-name "Ana Lima" |
  tail -n 1) || fail "admin user add ana failed"
expect_output "enroll ana" "" "${cli[@]}" --profile "${work}/ana" enroll "${ana_invite}"
expect_output "send" "sent to ana" "${cli[@]}" --profile "${work}/admin" send --to ana \
  --text "hello from the package"
expect_output "ana reads it" "hello from the package" \
  "${cli[@]}" --profile "${work}/ana" history --to admin
expect_output "the broker loaded the plugin from ${plugin_path}" "${plugin_path}" \
  "${cli[@]}" --profile "${work}/admin" admin plugins
if out=$("${cli[@]}" --profile "${work}/admin" send --to ana --text "card 4111 1111 1111 1111" 2>&1); then
  fail "a card number was accepted, the plugin did not act: ${out}"
fi
grep -q "card number" <<<"${out}" || fail "the refusal does not say why: ${out}"
echo "refused as the policy says: ${out}"
leftover=$(find /var/lib/chatpro ! -user chatpro)
[[ -z "${leftover}" ]] || fail "not owned by chatpro: ${leftover}"
expect_mode /var/lib/chatpro/broker.key chatpro:chatpro 600

step "chatpro-dev: a program of one's own on libchatpro, built with pkg-config"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -i "${dev_deb}" </dev/null ||
  fail "dpkg -i chatpro-dev failed"
expect_mode /usr/include/chatpro/client/client.h root:root 644
expect_mode /usr/lib/libchatpro_client.a root:root 644
expect_output "pkg-config" "^${version}$" pkg-config --modversion chatpro
example=/usr/share/doc/chatpro-dev/examples/client_example.cc
# shellcheck disable=SC2046 # pkg-config's flags are separate words
"${CXX:-c++}" -std=c++17 -o "${work}/client_example" "${example}" $(pkg-config --cflags --libs chatpro) ||
  fail "${example} does not build against the installed chatpro-dev"
dev_invite=$("${cli[@]}" --profile "${work}/admin" admin user add dev --display-name "Dev Eloper" |
  tail -n 1) || fail "admin user add dev failed"
expect_output "the program sends" "sent to admin" \
  "${work}/client_example" "${work}/dev" "${dev_invite}" admin "hello from libchatpro"
expect_output "the administrator reads it" "hello from libchatpro" \
  "${cli[@]}" --profile "${work}/admin" history --to dev
stop_broker

# ------------------------------------------------------------------ upgrade
step "upgrade to ${next_version}: the edited configuration and the data are kept"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -i "${next_deb}" "${next_dev_deb}" \
  </dev/null || fail "upgrading failed"
[[ "$(dpkg-query -W -f='${Version}' chatpro)" == "${next_version}" ]] ||
  fail "after the upgrade dpkg has version $(dpkg-query -W -f='${Version}' chatpro)"
grep -q '^\[plugin.no-cards\]' /etc/chatpro/chatpro.conf ||
  fail "the upgrade replaced the administrator's /etc/chatpro/chatpro.conf"
[[ ! -e /etc/chatpro/chatpro.conf.dpkg-new && ! -e /etc/chatpro/chatpro.conf.dpkg-dist ]] ||
  fail "the upgrade left a new configuration beside the edited one: $(ls /etc/chatpro)"
expect_mode /var/lib/chatpro chatpro:chatpro 700
start_broker upgraded
expect_output "ana reads the message of before the upgrade" "hello from the package" \
  "${cli[@]}" --profile "${work}/ana" history --to admin
stop_broker

# ------------------------------------------------------------------ remove, purge
step "dpkg -r: programs gone, configuration kept"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -r chatpro-dev chatpro </dev/null ||
  fail "dpkg -r failed"
for path in /usr/bin/chatpro-broker /usr/bin/chatpro /usr/lib/chatpro \
  /lib/systemd/system/chatpro-broker.service /usr/share/doc/chatpro /usr/include/chatpro \
  /usr/lib/libchatpro_client.a /usr/lib/pkgconfig/chatpro.pc; do
  expect_absent "${path}"
done
[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' chatpro)" == "rc " ]] ||
  fail "after dpkg -r the status is '$(dpkg-query -W -f='${db:Status-Abbrev}' chatpro)', not rc"
grep -q '^\[plugin.no-cards\]' /etc/chatpro/chatpro.conf ||
  fail "dpkg -r removed or replaced /etc/chatpro/chatpro.conf"
# As Debian does: masked, so that nothing starts it without its files; the
# enablement stays for a reinstall (dpkg -P removes it).
[[ "$(readlink /etc/systemd/system/chatpro-broker.service)" == /dev/null ]] ||
  fail "the unit is not masked after dpkg -r"
expect_mode /var/lib/chatpro/broker.key chatpro:chatpro 600
getent passwd chatpro >/dev/null || fail "dpkg -r removed the user chatpro"

step "dpkg -P: configuration gone; data and user kept"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive dpkg -P chatpro-dev chatpro </dev/null ||
  fail "dpkg -P failed"
for package in chatpro chatpro-dev; do
  if known_to_dpkg "${package}"; then
    fail "after dpkg -P, dpkg still has ${package}: $(dpkg-query -W -f='${db:Status-Abbrev}' "${package}")"
  fi
done
expect_absent /etc/chatpro
expect_absent /etc/systemd/system/chatpro-broker.service
expect_absent "${wants}"
expect_mode /var/lib/chatpro chatpro:chatpro 700
expect_mode /var/lib/chatpro/broker.key chatpro:chatpro 600
getent passwd chatpro >/dev/null || fail "dpkg -P removed the user chatpro"

echo "the package installs, runs as chatpro, is removed and purged as documented"
