// The keyless command line: the table of verbs (one module each in commands/), --help, argument
// parsing, and the one place the process's I/O and clients are set up for them.

import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createGoogleClients, endpointConfigFromEnv, type GoogleClients } from '../google/clients';
import type { CliIo, Command, ParsedArgs } from './command';
import { approve } from './commands/approve';
import { credentials } from './commands/credentials';
import { demo } from './commands/demo';
import { dev } from './commands/dev';
import { doctor } from './commands/doctor';
import { emulator } from './commands/emulator';
import { inventory } from './commands/inventory';
import { list } from './commands/list';
import { migrate } from './commands/migrate';
import { pause } from './commands/pause';
import { plan } from './commands/plan';
import { promote } from './commands/promote';
import { reject } from './commands/reject';
import { report } from './commands/report';
import { resume } from './commands/resume';
import { rollback } from './commands/rollback';
import { schema } from './commands/schema';
import { status } from './commands/status';
import { worker } from './commands/worker';
import { connectClient, loadTemporalConfig } from './connect';
import { ExitCode, UserError } from './errors';

/** Every verb, in the order `keyless --help` lists them. */
const COMMANDS: Record<string, Command> = {
  demo,
  dev,
  doctor,
  emulator,
  worker,
  inventory,
  plan,
  report,
  credentials,
  migrate,
  status,
  list,
  approve,
  reject,
  pause,
  resume,
  promote,
  rollback,
  schema,
};

/** The process's I/O and clients, each built once, when a verb first asks. */
function processIo(env: NodeJS.ProcessEnv): CliIo {
  let google: GoogleClients | undefined;
  const print = (line: string) => void process.stdout.write(`${line}\n`);
  return {
    print,
    json: (value) => print(JSON.stringify(value, null, 2)),
    env,
    isTerminal: Boolean(process.stdout.isTTY),
    google: () => (google ??= createGoogleClients(endpointConfigFromEnv(env))),
    async withTemporal(fn) {
      const connected = await connectClient(loadTemporalConfig(env));
      try {
        return await fn(connected);
      } finally {
        await connected.connection.close();
      }
    },
  };
}

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
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
  const io = processIo(env);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.print(helpText());
    return name ? ExitCode.Ok : ExitCode.Usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`keyless: unknown command "${name}"\n\n${helpText()}\n`);
    return ExitCode.Usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.print(commandHelp(command));
    return ExitCode.Ok;
  }
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (err) {
    process.stderr.write(`keyless ${name}: ${(err as Error).message}\nUsage: ${command.usage}\n`);
    return ExitCode.Usage;
  }
  const [min, max] = command.positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    const expected = min === max ? `${min}` : `${min} or more`;
    process.stderr.write(`keyless ${name}: expected ${expected} argument(s), got ${parsed.positionals.length}\nUsage: ${command.usage}\n`);
    return ExitCode.Usage;
  }
  if (command.sdkLogLevel) Runtime.install({ logger: new DefaultLogger(command.sdkLogLevel) });
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

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`keyless: unexpected error: ${(err as Error).stack ?? err}\n`);
      process.exit(ExitCode.Failed);
    },
  );
}
