#!/usr/bin/env bash
# Create .venv (if needed) and install fleetwise with the given extras.
# Usage: scripts/setup-venv.sh [EXTRAS]   e.g. scripts/setup-venv.sh dev,libvirt,postgres
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
target="."
[ -z "$extras" ] || target=".[${extras}]"
# constraints.txt pins the versions the test suite was run with.
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e "$target"
