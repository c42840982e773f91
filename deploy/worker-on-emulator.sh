#!/bin/sh
# Entry point of the worker in the compose `emulator` profile. The container shares the emulator's
# network namespace (the emulator serves on 127.0.0.1 only) and acts as the orchestrator exactly as
# on a GCE VM, through the GCE metadata server the emulator runs for that account. That server's
# port is picked by the emulator, so unless GCE_METADATA_HOST is given, ask the emulator for it.
set -eu
: "${KEYLESS_EMULATOR:?}" "${KEYLESS_ORCHESTRATOR:?}"
if [ -z "${GCE_METADATA_HOST:-}" ]; then
  GCE_METADATA_HOST="$(node -e '
    const url = `${process.env.KEYLESS_EMULATOR}/admin/v1/serviceAccounts/${process.env.KEYLESS_ORCHESTRATOR}:attach`;
    fetch(url, { method: "POST", signal: AbortSignal.timeout(10000) })
      .then(async (r) => { if (!r.ok) throw new Error(`${url} answered ${r.status}`); console.log((await r.json()).metadataHost); })
      .catch((e) => { console.error(`cannot find the orchestrator metadata server: ${e.message}`); process.exit(1); });
  ')"
  export GCE_METADATA_HOST
fi
echo "keyless worker on the emulator at $KEYLESS_EMULATOR as $KEYLESS_ORCHESTRATOR (metadata server $GCE_METADATA_HOST)"
exec node --import tsx client/main.ts worker
