# The keyless worker (and, in the compose `emulator` profile, the embedded Google Cloud).
# TypeScript runs through tsx, a production dependency, so there is no build step; the worker
# bundles the workflow code itself at start.
FROM node:20.20.2-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. No dependency's install script
# runs (--ignore-scripts; package.json#allowScripts is only advisory in npm 11): none is needed.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force

COPY . .
# Route files (file:// stores) and emulator state live under .keyless; a volume keeps them.
RUN mkdir -p /app/.keyless && chown node:node /app/.keyless
USER node

HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
  CMD ["node", "--import", "tsx", "deploy/worker-healthcheck.ts"]

# The worker reads TEMPORAL_* and KEYLESS_TASK_QUEUE; Google is reached with Application Default
# Credentials unless KEYLESS_EMULATOR names an emulator.
CMD ["node", "--import", "tsx", "client/main.ts", "worker"]
