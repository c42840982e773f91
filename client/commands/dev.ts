// `keyless dev`: a Temporal dev server on a SQLite file under .keyless/ plus a worker, stopped
// together on Ctrl-C or SIGTERM. `keyless demo` runs on the same stack.

import { existsSync } from 'node:fs';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { DEFAULT_TASK_QUEUE } from '../../contracts/names';
import { DEMO_ORCHESTRATOR, startEmulator, type RunningEmulator } from '../../emulator';
import { createGoogleClients, endpointConfigFromEnv, type GoogleClients } from '../../google/clients';
import { portInUse, startDevServer, type DevServer } from '../../worker/dev-server';
import { idTokenPolicyFromEnv } from '../../worker/config';
import { createKeylessWorker } from '../../worker/worker';
import { portFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';

export const dev: Command = {
  summary: 'Start a Temporal dev server (state in .keyless/) and a worker; Ctrl-C stops both',
  usage: 'keyless dev [--port <n>] [--ui-port <n>] [--emulator-port <n>] [--google]',
  example: 'keyless dev --port 7233 --ui-port 8233',
  options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, 'emulator-port': { type: 'string' }, google: { type: 'boolean' } },
  positionals: [0, 0],
  sdkLogLevel: 'WARN',
  async run(args, io) {
    const stack = await startDevStack({
      port: portFlag(args, 'port'),
      uiPort: portFlag(args, 'ui-port'),
      emulatorPort: portFlag(args, 'emulator-port'),
      useGoogle: Boolean(args.values.google),
      google: io.google,
    });
    io.print(`Temporal gRPC: ${stack.address}`);
    io.print(`Temporal UI:   ${stack.uiUrl}`);
    io.print(stack.emulator ? `Google Cloud:  emulator at ${stack.emulator.baseUrl} (demo estate)` : 'Google Cloud:  real endpoints, Application Default Credentials');
    io.print(`Worker on task queue "${stack.taskQueue}". Ctrl-C stops everything.`);
    await Promise.race([stopRequested(), stack.running]);
    await stack.stop();
    return ExitCode.Ok;
  },
};

export interface DevStackOptions {
  /** Folder for the SQLite file, logs and the lock; `.keyless` by default. */
  stateDir?: string;
  port?: number;
  uiPort?: number;
  taskQueue?: string;
  /** Port of the embedded Google Cloud emulator; 0 for a free one. */
  emulatorPort?: number;
  /** Talk to Google's real endpoints (Application Default Credentials) instead of the emulator. */
  useGoogle?: boolean;
  /**
   * The Google clients, asked for only once the emulator's settings are in the environment
   * (default: built from process.env then).
   */
  google?: () => GoogleClients;
}

export interface DevStack {
  address: string;
  uiUrl: string;
  namespace: string;
  taskQueue: string;
  client: Client;
  /** The embedded Google Cloud, unless the stack talks to Google. */
  emulator?: RunningEmulator;
  /** Runs until stop() is called. */
  running: Promise<void>;
  stop(): Promise<void>;
}

export interface DevLock {
  pid: number;
  address: string;
  uiUrl: string;
  emulatorUrl?: string;
}

/** Starts the dev server and a worker; refuses, saying so, when another keyless dev runs. */
export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const stateDir = resolve(options.stateDir ?? '.keyless');
  const lockPath = join(stateDir, 'dev.json');
  const running = await readLiveLock(lockPath);
  if (running) {
    throw new UserError(
      `keyless dev is already running (pid ${running.pid}): Temporal at ${running.address}, UI at ${running.uiUrl}`,
      ExitCode.Failed,
      'use that one, or stop it first (Ctrl-C in its terminal, or kill ' + running.pid + ')',
    );
  }
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? port + 1000;
  for (const [what, p] of [['gRPC', port], ['UI', uiPort]] as const) {
    if (await portInUse(p)) {
      throw new UserError(`port ${p} (Temporal ${what}) is already in use by another program`, ExitCode.Unavailable, `stop it, or pick other ports with --port and --ui-port`);
    }
  }

  await mkdir(stateDir, { recursive: true });
  const emulator = options.useGoogle ? undefined : await startEmbeddedCloud(stateDir, options.emulatorPort ?? 7280);
  let server: DevServer;
  try {
    server = await startDevServer({ dbFile: join(stateDir, 'temporal.db'), port, uiPort, logFile: join(stateDir, 'temporal.log') });
  } catch (err) {
    await emulator?.stop();
    throw err;
  }
  let worker: Worker | undefined;
  let connection: NativeConnection | undefined;
  let clientConnection: Connection | undefined;
  const uiUrl = server.uiUrl ?? `http://127.0.0.1:${uiPort}`;
  try {
    await writeFile(lockPath, JSON.stringify({ pid: process.pid, address: server.address, uiUrl, emulatorUrl: emulator?.baseUrl } satisfies DevLock));
    connection = await NativeConnection.connect({ address: server.address });
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    // Built after the emulator set KEYLESS_EMULATOR and GCE_METADATA_HOST for this process.
    const clients = options.google?.() ?? createGoogleClients(endpointConfigFromEnv(process.env));
    worker = await createKeylessWorker({ connection, namespace: 'default', taskQueue, activityDeps: { clients, idTokens: idTokenPolicyFromEnv(process.env) } });
    clientConnection = await Connection.connect({ address: server.address });
    const client = new Client({ connection: clientConnection, namespace: 'default' });
    const runningWorker = worker.run();
    const stop = stopper(worker, runningWorker, [clientConnection, connection], server, lockPath, emulator);
    return { address: server.address, uiUrl, namespace: 'default', taskQueue, client, emulator, running: runningWorker, stop };
  } catch (err) {
    await clientConnection?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await server.stop();
    await emulator?.stop();
    await rm(lockPath, { force: true });
    throw err;
  }
}

function stopper(
  worker: Worker,
  running: Promise<void>,
  connections: { close(): Promise<void> }[],
  server: DevServer,
  lockPath: string,
  emulator: RunningEmulator | undefined,
): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      for (const connection of connections) await connection.close().catch(() => undefined);
      await server.stop();
      await emulator?.stop();
      await rm(lockPath, { force: true });
    })());
}

/**
 * Starts the emulator with the demo estate (state kept in .keyless/ across restarts) and makes this
 * process act as the orchestrator account the way a GCE VM would: Application Default Credentials
 * through the metadata server, every Google client pointed at the emulator by KEYLESS_EMULATOR.
 */
async function startEmbeddedCloud(stateDir: string, port: number): Promise<RunningEmulator> {
  if (port && (await portInUse(port))) {
    throw new UserError(`port ${port} (the embedded Google Cloud emulator) is already in use`, ExitCode.Unavailable, 'stop what uses it, or pick another with --emulator-port');
  }
  const emulator = await startEmulator({ port, fixture: 'demo', statePath: join(stateDir, 'emulator-state.json') });
  Object.assign(process.env, await emulator.envFor(DEMO_ORCHESTRATOR));
  return emulator;
}

/** The `keyless dev` (or demo) stack running from `stateDir`, if one is: where its Temporal and emulator are. */
export function runningDevStack(stateDir = '.keyless'): Promise<DevLock | undefined> {
  return readLiveLock(join(resolve(stateDir), 'dev.json'));
}

async function readLiveLock(path: string): Promise<DevLock | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    const lock = JSON.parse(await readFile(path, 'utf8')) as DevLock;
    process.kill(lock.pid, 0);
    return lock;
  } catch {
    // A lock left by a process that died is stale; the new dev stack takes over.
    return undefined;
  }
}

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM). */
export function stopRequested(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
