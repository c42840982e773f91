// Long-running child processes of a test file (PostgreSQL, the Temporal server, the UI server,
// keyless workers and the emulator): output appended to a log file, a bounded stop (signal, then
// SIGKILL), and a SIGKILL of whatever is still running if the test process itself exits.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

/** One child process and how to end it. */
export interface ChildService {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, however it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Everything the process wrote to stdout so far (stderr goes to the log only). */
  stdout(): string;
  /** Sends `signal` and waits up to `graceMs` for the exit, then SIGKILLs; safe when already gone. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface SpawnServiceOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  /** Run as another user (root only): PostgreSQL refuses to run as root. */
  uid?: number;
  gid?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed test process must not leave a database or a server behind.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export function spawnService(name: string, command: string, args: string[], options: SpawnServiceOptions): ChildService {
  installExitHook();
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  live.add(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    log.write(chunk);
  });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    // A command that cannot be executed at all reports here, not on exit.
    child.once('error', (err) => {
      live.delete(child);
      log.write(`${name}: ${err.message}\n`);
      resolve({ code: -1, signal: null });
    });
  }).finally(() => setTimeout(() => log.end(), 50));
  const running = () => child.exitCode === null && child.signalCode === null && live.has(child);
  return {
    name,
    pid: child.pid,
    logFile: options.logFile,
    exited,
    running,
    stdout: () => out,
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (!running()) {
        await exited;
        return;
      }
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until the process's stdout contains `text`; fails early, naming the log, if it exits first. */
export async function waitForOutput(service: ChildService, test: (stdout: string) => boolean, what: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (test(service.stdout())) return service.stdout();
    if (!service.running()) throw new Error(`${service.name} exited before ${what} (log: ${service.logFile})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${service.name}: ${what} not seen within ${timeoutMs} ms (log: ${service.logFile})`);
}

/** Runs a command to completion; rejects with its output when it fails. */
export async function runCommand(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.slice(-4_000)}`));
    });
  });
}

/**
 * Runs a command to its end with stdout and stderr apart, whatever its exit code; Ctrl-C (SIGINT)
 * after `interruptAfterMs`, as an operator would stop a demo that does not end.
 */
export function runToEnd(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; interruptAfterMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => child.kill('SIGINT'), options.interruptAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}
