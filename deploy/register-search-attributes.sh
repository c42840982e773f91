#!/bin/sh
# One-shot job of docker-compose.yml: registers keyless's search attributes on the namespace, so
# the UI and `keyless list` can filter a fleet by project, pipeline and stage. Idempotent: an
# attribute already present is left alone, so the job succeeds on every `docker compose up`.
# KEYLESS_SEARCH_ATTRIBUTES holds "Name=Type" pairs (contracts/names.ts is the source of truth).
set -eu
: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${KEYLESS_SEARCH_ATTRIBUTES:?}"

# The namespace may not be visible the moment the frontend is healthy (auto-setup creates it).
tries=0
until temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "namespace $TEMPORAL_NAMESPACE not found at $TEMPORAL_ADDRESS" >&2; exit 1; fi
  sleep 2
done

existing="$(temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE")"
for pair in $KEYLESS_SEARCH_ATTRIBUTES; do
  name="${pair%%=*}"
  type="${pair#*=}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name already registered"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type"
    echo "search attribute $name registered ($type)"
  fi
done
