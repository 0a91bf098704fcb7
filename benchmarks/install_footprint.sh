#!/bin/bash
# Installed size and `pip install` time of emoplay's runtime install, in fresh virtual environments.
#
#   bash benchmarks/install_footprint.sh [SOURCE...]     (default: this checkout)
#
# For each SOURCE (an emoplay source tree, e.g. `git worktree add /tmp/old <commit>` for an older one) it
# makes a fresh venv and times `pip install --no-cache-dir SOURCE` (download included, so the network
# counts), then installs again from the wheels pip downloaded (`--no-index`: the time without the network),
# and prints the size of site-packages. Nothing is installed outside the temporary folder, which is removed.
set -euo pipefail
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ $# -gt 0 ] || set -- "$(cd "$(dirname "$0")/.." && pwd)"
for source in "$@"; do
  n=$((${n:-0} + 1))
  "$python" -m venv "$work/venv$n"
  start=$(date +%s.%N)
  "$work/venv$n/bin/pip" install -q --no-cache-dir "$source" >/dev/null
  registry=$(echo "$(date +%s.%N) - $start" | bc)
  size=$(du -sm "$work"/venv$n/lib/python3*/site-packages | cut -f1)
  "$work/venv$n/bin/pip" wheel -q --no-deps -w "$work/wheels$n" "$source" >/dev/null
  "$work/venv$n/bin/pip" download -q -d "$work/wheels$n" "$source" >/dev/null
  "$python" -m venv "$work/again$n"
  start=$(date +%s.%N)
  "$work/again$n/bin/pip" install -q --no-index --find-links "$work/wheels$n" emoplay >/dev/null
  local_s=$(echo "$(date +%s.%N) - $start" | bc)
  packages=$("$work/venv$n/bin/pip" list 2>/dev/null | tail -n +3 | wc -l)
  printf '%s: %s MB in site-packages (%s distributions, pip and setuptools included); install %.1f s from the registry, %.1f s from local wheels (load %s)\n' \
    "$source" "$size" "$packages" "$registry" "$local_s" "$(cut -d' ' -f1 /proc/loadavg)"
done
