// `keyless worker`: a worker alone, for a Temporal server that runs elsewhere (TEMPORAL_* settings).

import { ConfigError, idTokenPolicyFromEnv } from '../../worker/config';
import { runWorker } from '../../worker/worker';
import type { Command } from '../command';
import { loadTemporalConfig } from '../connect';
import { ExitCode, UserError } from '../errors';
import { stopRequested } from './dev';

export const worker: Command = {
  summary: 'Run a worker against an existing Temporal server (TEMPORAL_* settings)',
  usage: 'keyless worker',
  example: 'TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=keyless keyless worker',
  options: {},
  positionals: [0, 0],
  async run(_args, io) {
    const config = loadTemporalConfig(io.env);
    let idTokens;
    try {
      idTokens = idTokenPolicyFromEnv(io.env);
    } catch (err) {
      if (err instanceof ConfigError) throw new UserError(`invalid settings:\n${err.message}`, ExitCode.Config);
      throw err;
    }
    const stop = new AbortController();
    void stopRequested().then(() => stop.abort());
    io.print(`keyless worker: ${config.connection.address}, namespace ${config.namespace}, task queue ${config.taskQueue}`);
    try {
      await runWorker(config, stop.signal, { clients: io.google(), idTokens });
    } catch (err) {
      // A setting that parsed but cannot be used (a metrics port already taken) is found only at start.
      if (err instanceof ConfigError) throw new UserError(`invalid settings:\n${err.message}`, ExitCode.Config);
      throw err;
    }
    return ExitCode.Ok;
  },
};
