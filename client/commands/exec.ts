// `keyless exec`: a zero-code, per-run switch for any command. It reads the pipeline's route,
// decides this run's backend with the shared split, prints one line on stderr and runs the command
// with the environment every google-genai SDK reads the same way (gemini-client/exec-environment.ts
// decides it; this verb only starts the process). It loads neither Temporal nor the admin clients:
// it runs before every job.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { constants } from 'node:os';
import {
  childEnvironment,
  decisionLine,
  emulatorOrigin,
  EXEC_EXAMPLE,
  ExecInputError,
  execEnvironmentConflicts,
  parseExecOptions,
  resolveRunId,
  type ExecOptions,
} from '../../gemini-client/exec-environment';
import { execRouteView } from '../../gemini-client/exec-route';
import { choosesVertex } from '../../gemini-client/split';
import { stringFlag, type Command, type ParsedArgs } from '../command';
import { ExitCode, UserError } from '../errors';

const FLAGS = ['pipeline', 'store', 'project', 'run-id', 'expect-service-account', 'ttl', 'read-timeout', 'cache-file'] as const;

export const exec: Command = {
  summary: "Run a command with the environment this run's route chooses: Vertex AI with the job's service account, or its API key",
  usage:
    'keyless exec --pipeline <name> --store <file://dir|gs://bucket[/prefix]> [--project <id>] [--run-id <id>] ' +
    '[--expect-service-account <email>] [--ttl <seconds>] [--read-timeout <seconds>] [--cache-file <path>] -- <command> [args…]',
  example: EXEC_EXAMPLE,
  options: Object.fromEntries(FLAGS.map((flag) => [flag, { type: 'string' as const }])),
  positionals: [0, Number.POSITIVE_INFINITY],
  commandAfterDashes: true,
  light: true,
  async run(args, io) {
    const prepared = await prepareExec(args, io.env);
    process.stderr.write(`${prepared.line}\n`);
    return runCommand(prepared.command, prepared.env);
  },
};

/** Everything exec does before it starts the command: the command, its environment and the stderr line. */
export async function prepareExec(args: ParsedArgs, env: NodeJS.ProcessEnv): Promise<{ command: string[]; env: Record<string, string>; line: string }> {
  let options: ExecOptions;
  let emulator: string | undefined;
  let runId: string;
  try {
    options = parseExecOptions(Object.fromEntries(FLAGS.map((flag) => [flag, stringFlag(args, flag)])), args.positionals);
    const conflict = execEnvironmentConflicts(env)[0];
    if (conflict) throw new ExecInputError(`refusing to run: ${conflict}`);
    emulator = emulatorOrigin(env);
    const config = env.KEYLESS_CREDENTIAL_CONFIG;
    if (config && !isFile(config)) {
      throw new ExecInputError('KEYLESS_CREDENTIAL_CONFIG names no file: set it to the path of the Workload Identity Federation credential configuration (an external_account JSON), or unset it');
    }
    runId = resolveRunId(options.runId, env, randomUUID).runId;
  } catch (err) {
    if (err instanceof ExecInputError) throw new UserError(err.message, ExitCode.Usage);
    throw err;
  }
  const view = await execRouteView({ options, env });
  const vertex = view.route !== undefined && choosesVertex(view.route.vertexPercent, options.pipeline, runId);
  return { command: options.command, env: childEnvironment({ env, view, vertex, runId, emulator }), line: decisionLine(options.pipeline, runId, view, vertex) };
}

/**
 * Starts the command with stdio passed through and returns its exit code. SIGTERM, SIGINT, SIGHUP
 * and SIGQUIT sent to exec are sent on to it; when a signal ends the command, exec ends by the
 * same signal, so whoever waits sees what they would have seen without exec. A command that
 * cannot be started exits 127, as a shell does.
 */
export function runCommand(command: string[], env: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const forwarded: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];
    for (const signal of forwarded) process.on(signal, forward);
    const stopForwarding = () => {
      for (const signal of forwarded) process.removeListener(signal, forward);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      stopForwarding();
      process.stderr.write(`keyless exec: cannot start ${command[0]}: ${describeSpawnError(err)}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      stopForwarding();
      if (signal) {
        // No listener is left for it, so the default action applies: exec ends by the same signal.
        process.kill(process.pid, signal);
        // Signals Node itself ignores (SIGPIPE) land here: the shell's convention for "killed by".
        setTimeout(() => resolve(128 + (constants.signals[signal] ?? 0)), 200);
        return;
      }
      resolve(code ?? ExitCode.Failed);
    });
  });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The reason in the C library's words, as a shell (and the Python exec) says it. */
function describeSpawnError(err: NodeJS.ErrnoException): string {
  const reasons: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    ENOTDIR: 'Not a directory',
    ENOEXEC: 'Exec format error',
    E2BIG: 'Argument list too long',
    ELOOP: 'Too many levels of symbolic links',
    ENAMETOOLONG: 'File name too long',
  };
  return (err.code && reasons[err.code]) ?? err.code ?? err.message;
}
