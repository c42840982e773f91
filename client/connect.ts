// The CLI's connection to Temporal, from the same configuration the worker uses.

import { Client, Connection } from '@temporalio/client';
import { ConfigError, temporalConfigFromEnv, type TemporalConfig } from '../worker/config';
import { ExitCode, UserError } from './errors';

/** Parses TEMPORAL_* settings, turning a bad value into a user error naming the variable. */
export function loadTemporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  try {
    return temporalConfigFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(`invalid Temporal settings:\n${err.message}`, ExitCode.Config);
    throw err;
  }
}

/** Opens a client; the caller closes `connection` when done. */
export async function connectClient(config: TemporalConfig = loadTemporalConfig()): Promise<{ client: Client; connection: Connection; config: TemporalConfig }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...config.connection, connectTimeout: 5_000 });
  } catch (err) {
    throw new UserError(
      `cannot reach Temporal at ${config.connection.address}: ${(err as Error).message}`,
      ExitCode.Unavailable,
      'start one with `keyless dev`, or set TEMPORAL_ADDRESS to your server',
    );
  }
  return { client: new Client({ connection, namespace: config.namespace }), connection, config };
}
