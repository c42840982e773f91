#!/usr/bin/env node
// The keyless command line: the table of verbs (one module each in commands/), --help, argument
// parsing, and the one place the process's I/O and clients are set up for them.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as GoogleClientsModule from '../google/clients';
import type { GoogleClients } from '../google/clients';
import type { CliIo, Command, ParsedArgs } from './command';
import { ExitCode, UserError } from './errors';

/**
 * Every verb, in the order `keyless --help` lists them, each loaded only when it runs: `keyless
 * exec` starts before every job and must not pay for Temporal or the admin clients other verbs use.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./commands/demo')).demo,
  dev: async () => (await import('./commands/dev')).dev,
  doctor: async () => (await import('./commands/doctor')).doctor,
  emulator: async () => (await import('./commands/emulator')).emulator,
  worker: async () => (await import('./commands/worker')).worker,
  exec: async () => (await import('./commands/exec')).exec,
  inventory: async () => (await import('./commands/inventory')).inventory,
  plan: async () => (await import('./commands/plan')).plan,
  report: async () => (await import('./commands/report')).report,
  credentials: async () => (await import('./commands/credentials')).credentials,
  migrate: async () => (await import('./commands/migrate')).migrate,
  status: async () => (await import('./commands/status')).status,
  list: async () => (await import('./commands/list')).list,
  approve: async () => (await import('./commands/approve')).approve,
  reject: async () => (await import('./commands/reject')).reject,
  pause: async () => (await import('./commands/pause')).pause,
  resume: async () => (await import('./commands/resume')).resume,
  promote: async () => (await import('./commands/promote')).promote,
  rollback: async () => (await import('./commands/rollback')).rollback,
  schema: async () => (await import('./commands/schema')).schema,
};

/** The process's I/O and clients, each built once, when a verb first asks (`clients` is absent for light verbs). */
function processIo(env: NodeJS.ProcessEnv, clients: typeof GoogleClientsModule | undefined): CliIo {
  let google: GoogleClients | undefined;
  const print = (line: string) => void process.stdout.write(`${line}\n`);
  return {
    print,
    json: (value) => print(JSON.stringify(value, null, 2)),
    env,
    isTerminal: Boolean(process.stdout.isTTY),
    google: () => {
      if (!clients) throw new Error('this command was declared light: it may not use the Google admin clients');
      return (google ??= clients.createGoogleClients(clients.endpointConfigFromEnv(env)));
    },
    async withTemporal(fn) {
      const { connectClient, loadTemporalConfig } = await import('./connect');
      const connected = await connectClient(loadTemporalConfig(env));
      try {
        return await fn(connected);
      } finally {
        await connected.connection.close();
      }
    },
  };
}

async function helpText(): Promise<string> {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const commands = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, await load()] as const));
  const lines = commands.map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'keyless: move headless Gemini pipelines off API keys onto Vertex AI with service accounts.',
    '',
    'Usage: keyless <command> [options]   (keyless <command> --help for details)',
    '',
    'Commands:',
    ...lines,
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [`${c.summary}.`, '', `Usage: ${c.usage}`, `Example: ${c.example}`].join('\n');
}

/** Runs the CLI and returns its exit code; errors the user can fix are printed without a stack. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  const print = (line: string) => void process.stdout.write(`${line}\n`);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(await helpText());
    return name ? ExitCode.Ok : ExitCode.Usage;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`keyless: unknown command "${name}"\n\n${await helpText()}\n`);
    return ExitCode.Usage;
  }
  const command = await load();
  // A verb that runs a command takes options only before `--`; what follows is the command's own.
  const dashes = command.commandAfterDashes ? rest.indexOf('--') : -1;
  const own = dashes === -1 ? rest : rest.slice(0, dashes);
  if (own.includes('--help') || own.includes('-h')) {
    print(commandHelp(command));
    return ExitCode.Ok;
  }
  let parsed: ParsedArgs;
  try {
    parsed = command.commandAfterDashes ? parseCommandLine(command, rest) : (parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true }) as ParsedArgs);
  } catch (err) {
    process.stderr.write(`keyless ${name}: ${(err as Error).message}\n${err instanceof UserError ? '' : `Usage: ${command.usage}\n`}`);
    return ExitCode.Usage;
  }
  const [min, max] = command.positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    const expected = min === max ? `${min}` : `${min} or more`;
    process.stderr.write(`keyless ${name}: expected ${expected} argument(s), got ${parsed.positionals.length}\nUsage: ${command.usage}\n`);
    return ExitCode.Usage;
  }
  if (command.sdkLogLevel) {
    const { DefaultLogger, Runtime } = await import('@temporalio/worker');
    Runtime.install({ logger: new DefaultLogger(command.sdkLogLevel) });
  }
  const io = processIo(env, command.light ? undefined : await import('../google/clients'));
  try {
    return await command.run(parsed, io);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`keyless ${name}: ${err.message}\n${err.hint ? `next: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
    throw err;
  }
}

/**
 * `<options> -- <command…>`: the options are parsed strictly, the command is kept as given. With no
 * `--` at all, a word where an option belongs means the command was not separated from them.
 */
function parseCommandLine(command: Command, rest: string[]): ParsedArgs {
  const dashes = rest.indexOf('--');
  if (dashes === -1) {
    const { tokens } = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: false, tokens: true });
    if (tokens.some((t) => t.kind === 'positional')) throw new UserError(`put -- between the options and the command, e.g. ${command.example}`, ExitCode.Usage);
    parseArgs({ args: rest, options: command.options, allowPositionals: false, strict: true });
    throw new UserError(`put -- between the options and the command, e.g. ${command.example}`, ExitCode.Usage);
  }
  const { values } = parseArgs({ args: rest.slice(0, dashes), options: command.options, allowPositionals: false, strict: true });
  return { values, positionals: rest.slice(dashes + 1) } as ParsedArgs;
}

/** True when this module is the process's entry point, also through a symlink such as node_modules/.bin/keyless. */
function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`keyless: unexpected error: ${(err as Error).stack ?? err}\n`);
      process.exit(ExitCode.Failed);
    },
  );
}
