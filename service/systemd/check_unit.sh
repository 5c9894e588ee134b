#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Checks the systemd unit: `systemd-analyze verify` (syntax, and that
# ExecStart exists: the unit is copied with ExecStart pointed at the built
# broker) and `systemd-analyze security --offline=yes` under a bound on the
# exposure score (0-100 here, i.e. 10 times the printed 0.0-10.0 level).
# Usage: check_unit.sh UNIT BROKER_PATH WORK_DIR MAX_EXPOSURE_TIMES_10
set -eu
unit=$1 broker=$2 work=$3 max=$4
mkdir -p "$work"
copy="$work/chatpro-broker.service"
sed "s#^ExecStart=/usr/bin/chatpro-broker #ExecStart=$broker #" "$unit" >"$copy"
grep -q "^ExecStart=$broker " "$copy" || { echo "ExecStart not rewritten in $copy" >&2; exit 1; }
# verify prints its findings on stderr and may still exit 0: any output fails.
out=$(systemd-analyze verify --man=no "$copy" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
systemd-analyze security --offline=yes --no-pager "--threshold=$max" "$copy"
