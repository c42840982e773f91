#!/usr/bin/env bash
# Installs everything keyless needs on a fresh clone, and nothing twice:
#   1. npm packages from package-lock.json (npm ci), when node_modules is missing or stale;
#   2. the pinned Temporal binaries, unless the user names their own (see temporal-binaries.sh);
#   3. with --test, what only the suite needs: Chromium, and the cluster tier's Temporal server,
#      SQL tool, schema, UI server and PostgreSQL (see temporal-cluster.sh; minutes the first time).
# Used by `bin/keyless` and by `npm test`, so the README's two commands need no manual step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quiet=0
test_tools=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    # Only the test suite needs these: bin/keyless never installs a browser.
    --test) test_tools=1 ;;
    *) echo "setup: unknown option $arg (use --quiet and/or --test)" >&2; exit 2 ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "setup: $*" >&2; }

lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.keyless-lock-sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "setup: installing npm packages from package-lock.json (npm ci)" >&2
  # No dependency's install script runs: none is needed, and package.json#allowScripts is only
  # advisory in npm 11 (its own docs say so), so --ignore-scripts is what actually stops them.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  echo "$lock_sum" > "$stamp"
else
  say "npm packages up to date"
fi

bash scripts/temporal-binaries.sh "$([ "$quiet" = 1 ] && echo --quiet)"

if [ "$test_tools" = 1 ]; then
  bash scripts/temporal-cluster.sh "$([ "$quiet" = 1 ] && echo --quiet)"
fi

if [ "$test_tools" = 1 ] && [ -z "${KEYLESS_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  # The browser test drives the Temporal UI in Debian's Chromium (Playwright cannot download browsers here).
  echo "setup: installing Chromium for the browser test (apt-get install -y chromium)" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
