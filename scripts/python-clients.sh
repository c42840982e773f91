#!/usr/bin/env bash
# Installs Python's official Google clients, pinned, into .tools/python (git-ignored), so
# test/emulator/python-clients.test.ts can show the emulator works with them unchanged.
# Idempotent: does nothing when every pin is already installed there. A fresh install goes to a
# temporary folder first and replaces .tools/python only once pip succeeded, so a failed or
# interrupted run never leaves a half-installed tree that looks complete.
#   scripts/python-clients.sh [--quiet]      PYTHON=python3.11 to pick the interpreter
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET=.tools/python
PYTHON=${PYTHON:-python3}
# Latest releases that support Python 3.11 (checked with `pip index versions`).
# google-cloud-monitoring is left out: its Python client speaks gRPC only (no REST transport as
# of 2.32.0), and the emulator serves HTTP/JSON; the test reads Monitoring's REST API through
# google-auth's AuthorizedSession instead.
PINS=(
  google-auth==2.63.0
  google-cloud-api-keys==0.9.1
  google-genai==3.6.1
)
# Their dependencies, fixed too, so every machine gets the same tree.
CONSTRAINTS=test/emulator/python/constraints.txt
mapfile -t LOCKED < <(grep -E '^[A-Za-z0-9_.-]+==' "$CONSTRAINTS")
quiet=false
[[ "${1:-}" == "--quiet" ]] && quiet=true
say() { $quiet || echo "python-clients: $*"; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "python-clients: $PYTHON not found; install Python 3.11 or set PYTHON" >&2
  exit 1
fi

# True when each pinned and locked distribution is installed in $TARGET at exactly its version.
pins_installed() {
  [[ -d "$TARGET" ]] || return 1
  "$PYTHON" - "$TARGET" "${PINS[@]}" "${LOCKED[@]}" <<'PY'
import re, sys
from importlib.metadata import distributions
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
target, pins = sys.argv[1], sys.argv[2:]
found = {norm(d.metadata["Name"]): d.version for d in distributions(path=[target])}
sys.exit(0 if all(found.get(norm(n)) == v for n, v in (p.split("==") for p in pins)) else 1)
PY
}

# Several test files call this at once on a fresh clone: one installs, the others wait and then
# find the pins in place (without the lock, a second install's rm -rf would pull the tree from
# under a test already using it).
if command -v flock >/dev/null 2>&1; then
  mkdir -p "$(dirname "$TARGET")"
  exec 9>"$TARGET.lock"
  flock 9
fi

if pins_installed; then
  say "already installed in $TARGET"
  exit 0
fi

say "installing ${PINS[*]} into $TARGET"
staging="$TARGET.partial.$$"
rm -rf "$staging"
trap 'rm -rf "$staging"' EXIT
pip_flags=(--disable-pip-version-check --no-input --no-warn-script-location --constraint "$CONSTRAINTS" --target "$staging")
if $quiet; then
  # pip reports conflicts among the interpreter's own site-packages, which --target does not
  # touch; keep its output for a failure only.
  log="$TARGET.log"
  mkdir -p "$(dirname "$TARGET")"
  if ! PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install "${pip_flags[@]}" "${PINS[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  rm -f "$log"
else
  PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install "${pip_flags[@]}" "${PINS[@]}"
fi
rm -rf "$TARGET"
mkdir -p "$(dirname "$TARGET")"
mv "$staging" "$TARGET"
trap - EXIT
pins_installed || { echo "python-clients: pins not found in $TARGET after install" >&2; exit 1; }
say "done"
