// `keyless worker`: a worker alone, for a Temporal server that runs elsewhere (TEMPORAL_* settings).

import { runWorker } from '../../worker/worker';
import type { Command } from '../command';
import { loadTemporalConfig } from '../connect';
import { ExitCode } from '../errors';
import { stopRequested } from './dev';

export const worker: Command = {
  summary: 'Run a worker against an existing Temporal server (TEMPORAL_* settings)',
  usage: 'keyless worker',
  example: 'TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=keyless keyless worker',
  options: {},
  positionals: [0, 0],
  async run(_args, io) {
    const config = loadTemporalConfig(io.env);
    const stop = new AbortController();
    void stopRequested().then(() => stop.abort());
    io.print(`keyless worker: ${config.connection.address}, namespace ${config.namespace}, task queue ${config.taskQueue}`);
    await runWorker(config, stop.signal, { clients: io.google() });
    return ExitCode.Ok;
  },
};
