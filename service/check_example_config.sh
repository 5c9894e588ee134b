#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The example configuration is valid as shipped, and also with every setting
# and example section it shows commented out switched on (so that no key it
# documents is misspelt or out of range).
#   check_example_config.sh CONF BROKER PLUGIN_DIR WORK_DIR
set -euo pipefail
conf=$1 broker=$2 plugin_dir=$3 work=$4
mkdir -p "$work"

"$broker" --config "$conf" --check-config > "$work/as-shipped.out"
grep -q "configuration is valid" "$work/as-shipped.out"

# "#key = value" and "# key = value" become settings, "# [section]" a section.
sed -e 's/^#\([a-z_]* = \)/\1/' -e 's/^# \([a-z_]* = \)/\1/' -e 's/^# \(\[.*\]\)$/\1/' \
  "$conf" > "$work/everything.conf"
if grep -qE '^#[a-z_]+ *=' "$work/everything.conf"; then
  echo "settings left commented out:" >&2
  grep -nE '^#[a-z_]+ *=' "$work/everything.conf" >&2
  exit 1
fi
"$broker" --config "$work/everything.conf" --set "plugins.dir=$plugin_dir" --check-config \
  > "$work/everything.out"
grep -q "configuration is valid" "$work/everything.out"
grep -q "plugin 'delete-after-1y'" "$work/everything.out"
grep -q "working hours 'office'" "$work/everything.out"
echo "the example configuration is valid, as shipped and with everything switched on"
