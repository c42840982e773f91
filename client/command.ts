// What a CLI verb is: its options, usage, example, and a run function over parsed arguments and
// the process's I/O. Every verb is one module in client/commands/; main.ts only dispatches.

import type { ParseArgsConfig } from 'node:util';
import type { GoogleClients } from '../google/clients';
import type { TemporalConfig } from '../worker/config';
import type { Client, Connection } from '@temporalio/client';
import { ExitCode, UserError } from './errors';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Arguments as node:util's parseArgs returns them. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** What a verb may use of the process: output, the environment, and the clients built from it. */
export interface CliIo {
  print(line: string): void;
  json(value: unknown): void;
  /** The environment, read once at start (dev and demo add the emulator's settings before building clients). */
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (live tables). */
  isTerminal: boolean;
  /** Google's clients from the one endpoint configuration (KEYLESS_EMULATOR), built on first use and reused. */
  google(): GoogleClients;
  /** A Temporal client from the TEMPORAL_* settings, open for the duration of `fn`. */
  withTemporal<T>(fn: (temporal: { client: Client; connection: Connection; config: TemporalConfig }) => Promise<T>): Promise<T>;
}

export interface Command {
  summary: string;
  usage: string;
  example: string;
  options: Options;
  /** How many positional arguments the command takes: [min, max]. */
  positionals: [number, number];
  /** The Temporal SDK's log level while the command runs (the demo and dev print their own progress). */
  sdkLogLevel?: 'ERROR' | 'WARN';
  /**
   * The verb runs a command given after `--` (keyless exec): only the arguments before `--` are
   * its options, `--help` after it is the command's, and the positionals are that command.
   */
  commandAfterDashes?: boolean;
  /** The verb uses neither Google's admin clients nor Temporal, so main loads neither (it must start fast). */
  light?: boolean;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

export const projectOption: Options = { project: { type: 'string', short: 'p' } };
export const byOption: Options = { by: { type: 'string' }, note: { type: 'string' } };

/** A string flag's value. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function portFlag(args: ParsedArgs, name: string): number | undefined {
  const raw = stringFlag(args, name);
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--${name} must be a port number between 1 and 65535`, ExitCode.Usage);
  return port;
}

export function numberFlag(args: ParsedArgs, name: string): number | undefined {
  const raw = stringFlag(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new UserError(`--${name} must be a number`, ExitCode.Usage);
  return value;
}

/** Who acts: --by, else the user's login name. */
export function operatorName(args: ParsedArgs, env: NodeJS.ProcessEnv): string {
  return stringFlag(args, 'by') ?? env.USER ?? 'operator';
}
