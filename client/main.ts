// The keyless command line: parses arguments and dispatches to one function per verb.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ApprovalSchema, RollbackRequestSchema } from '../contracts/messages';
import { OFF_PATH_STAGES, STAGES } from '../contracts/stages';
import { FixtureError, MetadataPortError, runEmulatorCommand } from '../emulator';
import { createGoogleClients, endpointConfigFromEnv } from '../activities/google-clients';
import { whoAmI } from '../activities/provision';
import { ConfigError } from '../worker/config';
import { runWorker } from '../worker/worker';
import { loadTemporalConfig, connectClient } from './connect';
import { ExitCode, UserError } from './errors';
import { renderDemoSummary, runDemo } from './commands/demo';
import { doctorOptionsFromSpec, renderFindings, runDoctor } from './commands/doctor';
import { fleetStatus, loadFleet, renderFleetStatus, startFleet } from './commands/fleet';
import { runInventory } from './commands/inventory';
import { planMigration, renderPlan } from './commands/plan';
import { renderReport, reportFor } from './commands/report';
import { startDevStack, stopRequested } from './commands/dev';
import { awaitMigration, startMigration } from './commands/migrate';
import { listMigrations, migrationStatus, requestRollback, sendDecision, sendOperatorSignal, type MigrationRef } from './commands/operate';
import { renderMigrationStatus } from './commands/status';
import { specJsonSchema } from './commands/schema';
import { loadSpec } from './spec-file';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };

interface Command {
  summary: string;
  usage: string;
  example: string;
  options: Options;
  /** How many positional arguments the command takes: [min, max]. */
  positionals: [number, number];
  run(args: Parsed): Promise<number>;
}

const print = (line: string) => process.stdout.write(`${line}\n`);
const json = (value: unknown) => print(JSON.stringify(value, null, 2));

const projectOption: Options = { project: { type: 'string', short: 'p' } };
const byOption: Options = { by: { type: 'string' }, note: { type: 'string' } };

function ref(args: Parsed): MigrationRef {
  return { pipeline: args.positionals[0]!, project: args.values.project as string | undefined };
}

function operator(args: Parsed): string {
  return (args.values.by as string | undefined) ?? process.env.USER ?? 'operator';
}

async function withClient<T>(fn: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<T>): Promise<T> {
  const connected = await connectClient();
  try {
    return await fn(connected);
  } finally {
    await connected.connection.close();
  }
}

const COMMANDS: Record<string, Command> = {
  demo: {
    summary: 'Run keyless end to end on the embedded default: dev server, emulator, worker, sample pipelines and their migrations',
    usage: 'keyless demo [--yes] [--json] [--port <n>] [--ui-port <n>] [--emulator-port <n>]',
    example: 'keyless demo --yes',
    options: { yes: { type: 'boolean' }, json: { type: 'boolean' }, port: { type: 'string' }, 'ui-port': { type: 'string' }, 'emulator-port': { type: 'string' } },
    positionals: [0, 0],
    async run(args) {
      const outcomes = await runDemo({
        live: process.stdout.isTTY && !args.values.json ? liveTable() : undefined,
        yes: Boolean(args.values.yes),
        port: portFlag(args, 'port'),
        uiPort: portFlag(args, 'ui-port'),
        emulatorPort: portFlag(args, 'emulator-port'),
        print: args.values.json ? () => undefined : print,
      });
      if (args.values.json) json(outcomes);
      else print(`\n${renderDemoSummary(outcomes)}`);
      return outcomes.length > 0 && outcomes.every((o) => o.outcome !== 'running') ? ExitCode.Ok : ExitCode.Failed;
    },
  },
  dev: {
    summary: 'Start a Temporal dev server (state in .keyless/) and a worker; Ctrl-C stops both',
    usage: 'keyless dev [--port <n>] [--ui-port <n>] [--emulator-port <n>] [--google]',
    example: 'keyless dev --port 7233 --ui-port 8233',
    options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, 'emulator-port': { type: 'string' }, google: { type: 'boolean' } },
    positionals: [0, 0],
    async run(args) {
      const stack = await startDevStack({
        port: portFlag(args, 'port'),
        uiPort: portFlag(args, 'ui-port'),
        emulatorPort: portFlag(args, 'emulator-port'),
        useGoogle: Boolean(args.values.google),
      });
      print(`Temporal gRPC: ${stack.address}`);
      print(`Temporal UI:   ${stack.uiUrl}`);
      print(stack.emulator ? `Google Cloud:  emulator at ${stack.emulator.baseUrl} (demo estate)` : 'Google Cloud:  real endpoints, Application Default Credentials');
      print(`Worker on task queue "${stack.taskQueue}". Ctrl-C stops everything.`);
      await Promise.race([stopRequested(), stack.running]);
      await stack.stop();
      return ExitCode.Ok;
    },
  },
  doctor: {
    summary: "Check a pipeline's own environment before its switch: variable conflicts, ADC principal, project/location, route, one live call per model",
    usage: 'keyless doctor [--spec <file>] [--pipeline <name> --store <file://dir|gs://bucket/prefix>] [--model <id>]... [--project <p>] [--location <l>] [--impersonate] [--json]',
    example: 'keyless doctor --spec examples/specs/nightly-summarizer.yaml',
    options: {
      spec: { type: 'string' },
      pipeline: { type: 'string' },
      store: { type: 'string' },
      model: { type: 'string', multiple: true },
      project: { type: 'string', short: 'p' },
      location: { type: 'string' },
      impersonate: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    positionals: [0, 0],
    async run(args) {
      const v = args.values;
      const fromSpec = typeof v.spec === 'string' ? doctorOptionsFromSpec(await loadSpec(v.spec), process.env) : undefined;
      const models = (v.model as string[] | undefined) ?? fromSpec?.models ?? [];
      if (models.length === 0) throw new UserError('keyless doctor needs the models to call', ExitCode.Usage, 'pass --spec <file> or --model <id>');
      const report = await runDoctor({
        ...fromSpec,
        env: process.env,
        models,
        pipeline: (v.pipeline as string | undefined) ?? fromSpec?.pipeline,
        routeStore: (v.store as string | undefined) ?? fromSpec?.routeStore,
        project: (v.project as string | undefined) ?? fromSpec?.project,
        location: (v.location as string | undefined) ?? fromSpec?.location,
        vertexAuth: v.impersonate ? 'impersonate' : 'adc',
      });
      if (v.json) json(report.findings);
      else for (const line of renderFindings(report.findings)) print(line);
      return report.exitCode;
    },
  },
  emulator: {
    summary: 'Run the embedded Google Cloud emulator alone; prints one JSON line when ready',
    usage: 'keyless emulator [--port <n>] [--fixture <file|demo>] [--state <file>] [--credentials-dir <dir>] [--metadata-port <n>]',
    example: 'keyless emulator --port 7280 --metadata-port 7281 --fixture demo --state .keyless/emulator-state.json',
    options: { port: { type: 'string' }, fixture: { type: 'string' }, state: { type: 'string' }, 'credentials-dir': { type: 'string' }, 'metadata-port': { type: 'string' } },
    positionals: [0, 0],
    async run(args) {
      try {
        await runEmulatorCommand({
          port: portFlag(args, 'port') ?? 7280,
          fixture: (args.values.fixture as string | undefined) ?? 'demo',
          state: args.values.state as string | undefined,
          credentialsDir: args.values['credentials-dir'] as string | undefined,
          metadataPort: portFlag(args, 'metadata-port'),
        });
      } catch (err) {
        if (err instanceof FixtureError) throw new UserError(err.message, ExitCode.Config);
        // Checked before the generic EADDRINUSE below: a metadata port clash is not a --port clash.
        if (err instanceof MetadataPortError) throw new UserError(err.message, ExitCode.Unavailable, 'pick another with --metadata-port');
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UserError(`port ${portFlag(args, 'port') ?? 7280} is already in use`, ExitCode.Unavailable, 'pick another with --port');
        throw err;
      }
      return ExitCode.Ok;
    },
  },
  worker: {
    summary: 'Run a worker against an existing Temporal server (TEMPORAL_* settings)',
    usage: 'keyless worker',
    example: 'TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=keyless keyless worker',
    options: {},
    positionals: [0, 0],
    async run() {
      const config = loadTemporalConfig();
      const stop = new AbortController();
      void stopRequested().then(() => stop.abort());
      print(`keyless worker: ${config.connection.address}, namespace ${config.namespace}, task queue ${config.taskQueue}`);
      await runWorker(config, stop.signal, { clients: createGoogleClients(endpointConfigFromEnv(process.env)) });
      return ExitCode.Ok;
    },
  },
  inventory: {
    summary: "Audit a project's API keys: restrictions, block candidates, the pipelines using each",
    usage: 'keyless inventory --project <p> [--json]',
    example: 'KEYLESS_EMULATOR=http://127.0.0.1:7280 keyless inventory --project demo-project',
    options: { ...projectOption, json: { type: 'boolean' } },
    positionals: [0, 0],
    async run(args) {
      const project = (args.values.project as string | undefined) ?? process.env.GOOGLE_CLOUD_PROJECT;
      if (!project) throw new UserError('inventory needs --project <project id> (or GOOGLE_CLOUD_PROJECT)', ExitCode.Usage);
      await runInventory({ project, json: Boolean(args.values.json), clients: createGoogleClients(endpointConfigFromEnv(process.env)), print });
      return ExitCode.Ok;
    },
  },
  plan: {
    summary: 'List every mutation a migration of this spec would make, changing nothing',
    usage: 'keyless plan <spec> [--json]',
    example: 'KEYLESS_EMULATOR=http://127.0.0.1:7280 keyless plan examples/specs/nightly-summarizer.yaml',
    options: { json: { type: 'boolean' } },
    positionals: [1, 1],
    async run(args) {
      const spec = await loadSpec(args.positionals[0]!);
      const clients = createGoogleClients(endpointConfigFromEnv(process.env));
      // Without a known orchestrator email the token-creator grant is listed as to do.
      const orchestratorEmail = await whoAmI(clients).catch(() => undefined);
      const steps = await planMigration(clients, spec, { orchestratorEmail });
      if (args.values.json) json(steps);
      else print(renderPlan(steps));
      return ExitCode.Ok;
    },
  },
  report: {
    summary: 'Dual-run and canary reports of a migration as Markdown or a self-contained HTML page with charts',
    usage: 'keyless report <pipeline> [--project <p>] [--format markdown|html] [--json]',
    example: 'keyless report nightly-summarizer --project demo-project --format html > report.html',
    options: { ...projectOption, format: { type: 'string' }, json: { type: 'boolean' } },
    positionals: [1, 1],
    async run(args) {
      const format = (args.values.format as string | undefined) ?? 'markdown';
      if (format !== 'markdown' && format !== 'html') throw new UserError(`--format must be markdown or html, not "${format}"`, ExitCode.Usage);
      const source = await withClient(({ client }) => reportFor(client, ref(args)));
      if (args.values.json) json(source);
      else print(renderReport(source, format));
      return ExitCode.Ok;
    },
  },
  migrate: {
    summary: 'Start the migration of each pipeline spec (YAML or JSON), or of a fleet in waves',
    usage: 'keyless migrate <spec…> [--follow] [--json] | keyless migrate --fleet <dir|file> [--wave-size n] [--concurrency n] [--approve-per-wave] [--halt-at ratio] [--on-halt continue|rollback] [--name fleet]',
    example: 'keyless migrate --fleet examples/specs --wave-size 5 --approve-per-wave',
    options: {
      follow: { type: 'boolean' },
      json: { type: 'boolean' },
      fleet: { type: 'string' },
      'wave-size': { type: 'string' },
      concurrency: { type: 'string' },
      'approve-per-wave': { type: 'boolean' },
      'halt-at': { type: 'string' },
      'on-halt': { type: 'string' },
      name: { type: 'string' },
    },
    positionals: [0, 1000],
    async run(args) {
      if (args.values.fleet) return migrateFleetCommand(args);
      if (args.positionals.length === 0) throw new UserError('migrate needs at least one spec file, or --fleet <dir|file>', ExitCode.Usage);
      // Every spec is checked before any migration starts: a typo in the tenth file starts nothing.
      const specs = await Promise.all(args.positionals.map((path) => loadSpec(path)));
      return withClient(async ({ client, config }) => {
        const started = [];
        for (const spec of specs) {
          const s = await startMigration(client, config.taskQueue, spec);
          started.push(s);
          if (!args.values.json) print(`started ${s.workflowId}`);
        }
        if (args.values.follow) {
          const results = await Promise.all(started.map((s) => awaitMigration(client, s.workflowId)));
          if (args.values.json) json(results);
          else for (const r of results) print(`${r.pipeline}: ${r.outcome}${r.rollback ? ` (${r.rollback.reason})` : ''}`);
          return results.every((r) => r.outcome === 'completed') ? ExitCode.Ok : ExitCode.Failed;
        }
        if (args.values.json) json(started);
        return ExitCode.Ok;
      });
    },
  },
  status: {
    summary: 'Show where a migration (or a fleet) stands and what it waits for',
    usage: 'keyless status <pipeline> [--project <p>] [--json] | keyless status --fleet <name> [--json]',
    example: 'keyless status nightly-summarizer --project demo-project',
    options: { ...projectOption, json: { type: 'boolean' }, fleet: { type: 'string' } },
    positionals: [0, 1],
    async run(args) {
      if (args.values.fleet) {
        const status = await withClient(({ client }) => fleetStatus(client, args.values.fleet as string));
        if (args.values.json) json(status);
        else print(renderFleetStatus(status));
        return ExitCode.Ok;
      }
      if (args.positionals.length !== 1) throw new UserError('status needs a pipeline name, or --fleet <name>', ExitCode.Usage);
      const status = await withClient(({ client }) => migrationStatus(client, ref(args)));
      if (args.values.json) json(status);
      else print(renderMigrationStatus(status));
      return ExitCode.Ok;
    },
  },
  list: {
    summary: 'List migrations from Temporal visibility, optionally at one stage',
    usage: 'keyless list [--stage <stage>] [--running] [--json]',
    example: 'keyless list --stage approve-cutover',
    options: { stage: { type: 'string' }, running: { type: 'boolean' }, json: { type: 'boolean' } },
    positionals: [0, 0],
    async run(args) {
      const stage = args.values.stage as string | undefined;
      const stages: readonly string[] = [...STAGES, ...OFF_PATH_STAGES];
      if (stage && !stages.includes(stage)) throw new UserError(`--stage must be one of: ${stages.join(', ')}`, ExitCode.Usage);
      const listings = await withClient(({ client }) => listMigrations(client, { stage, running: Boolean(args.values.running) }));
      if (args.values.json) json(listings);
      else if (listings.length === 0) print('no migrations');
      else for (const l of listings) print(`${(l.pipeline ?? l.workflowId).padEnd(28)} ${(l.project ?? '').padEnd(20)} ${(l.stage ?? '').padEnd(18)} ${l.status.padEnd(11)} ${l.startTime}`);
      return ExitCode.Ok;
    },
  },
  approve: decisionCommand('approve'),
  reject: decisionCommand('reject'),
  pause: signalCommand('pause', 'Stop the canary bake clock'),
  resume: signalCommand('resume', 'Restart the canary bake clock'),
  promote: signalCommand('promote', 'End the current bake now and move on'),
  rollback: {
    summary: 'Roll a migration back now',
    usage: 'keyless rollback <pipeline> --reason <text> [--project <p>] [--by <who>]',
    example: 'keyless rollback nightly-summarizer --reason "latency doubled on Vertex"',
    options: { ...projectOption, ...byOption, reason: { type: 'string' } },
    positionals: [1, 1],
    async run(args) {
      const request = RollbackRequestSchema.safeParse({ by: operator(args), reason: args.values.reason });
      if (!request.success) throw new UserError('rollback needs --reason "<why>"', ExitCode.Usage);
      await withClient(({ client }) => requestRollback(client, ref(args), request.data));
      print(`rollback requested for ${args.positionals[0]}`);
      return ExitCode.Ok;
    },
  },
  schema: {
    summary: 'Print the JSON Schema of the pipeline spec',
    usage: 'keyless schema',
    example: 'keyless schema > keyless-spec.schema.json',
    options: {},
    positionals: [0, 0],
    async run() {
      json(specJsonSchema());
      return ExitCode.Ok;
    },
  },
};

async function migrateFleetCommand(args: Parsed): Promise<number> {
  const fleet = await loadFleet(args.values.fleet as string, {
    name: args.values.name as string | undefined,
    waveSize: numberFlag(args, 'wave-size'),
    concurrency: numberFlag(args, 'concurrency'),
    approvalPerWave: args.values['approve-per-wave'] ? true : undefined,
    haltAtFailureRatio: numberFlag(args, 'halt-at'),
    onHalt: args.values['on-halt'] as string | undefined,
  });
  return withClient(async ({ client, config }) => {
    const workflowId = await startFleet(client, config.taskQueue, fleet);
    if (args.values.json) json({ workflowId, pipelines: fleet.pipelines.length, waveSize: fleet.waveSize });
    else print(`started fleet ${workflowId}: ${fleet.pipelines.length} pipelines in waves of ${fleet.waveSize}`);
    return ExitCode.Ok;
  });
}

/** Redraws a block of lines in place on a terminal (cursor up, clear to end of screen). */
function liveTable(): (table: string) => void {
  let drawn = 0;
  return (table) => {
    if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    process.stdout.write(`${table}\n`);
    drawn = table.split('\n').length;
  };
}

function numberFlag(args: Parsed, name: string): number | undefined {
  const raw = args.values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new UserError(`--${name} must be a number`, ExitCode.Usage);
  return value;
}

function decisionCommand(decision: 'approve' | 'reject'): Command {
  return {
    summary: decision === 'approve' ? 'Approve the stage a migration waits on (cutover or finalize)' : 'Reject the waiting stage (a rejected cutover rolls back)',
    usage: `keyless ${decision} <pipeline> --stage <cutover|finalize> [--by <who>] [--note <text>] [--project <p>]`,
    example: `keyless ${decision} nightly-summarizer --stage cutover --by alice@example.com`,
    options: { ...projectOption, ...byOption, stage: { type: 'string' } },
    positionals: [1, 1],
    async run(args) {
      const approval = ApprovalSchema.safeParse({ stage: args.values.stage, by: operator(args), note: args.values.note });
      if (!approval.success) {
        throw new UserError(`${decision} needs --stage cutover or --stage finalize`, ExitCode.Usage);
      }
      const receipt = await withClient(({ client }) => sendDecision(client, ref(args), decision, approval.data));
      print(`${receipt.stage} ${receipt.decision} by ${receipt.by} at ${receipt.at}`);
      return ExitCode.Ok;
    },
  };
}

function signalCommand(verb: 'pause' | 'resume' | 'promote', summary: string): Command {
  return {
    summary,
    usage: `keyless ${verb} <pipeline> [--by <who>] [--note <text>] [--project <p>]`,
    example: `keyless ${verb} nightly-summarizer`,
    options: { ...projectOption, ...byOption },
    positionals: [1, 1],
    async run(args) {
      await withClient(({ client }) => sendOperatorSignal(client, ref(args), verb, { by: operator(args), note: args.values.note as string | undefined }));
      print(`${verb} sent to ${args.positionals[0]}`);
      return ExitCode.Ok;
    },
  };
}

function portFlag(args: Parsed, name: string): number | undefined {
  const raw = args.values[name];
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--${name} must be a port number between 1 and 65535`, ExitCode.Usage);
  return port;
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
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(helpText());
    return name ? ExitCode.Ok : ExitCode.Usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`keyless: unknown command "${name}"\n\n${helpText()}\n`);
    return ExitCode.Usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(commandHelp(command));
    return ExitCode.Ok;
  }
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true }) as Parsed;
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
  if (name === 'demo' || name === 'dev') {
    // The demo and dev stack print their own progress; the SDK's INFO lines would bury it. The demo
    // also hides activity retries (e.g. a probe waiting out IAM propagation), which are expected.
    Runtime.install({ logger: new DefaultLogger(name === 'demo' ? 'ERROR' : 'WARN') });
  }
  try {
    return await command.run(parsed);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`keyless ${name}: ${err.message}\n${err.hint ? `next: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
    // A setting that parsed but cannot be used (a metrics port already taken) is found only at start.
    if (err instanceof ConfigError) {
      process.stderr.write(`keyless ${name}: invalid settings:\n${err.message}\n`);
      return ExitCode.Config;
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
