// The production topology for the cluster tier (test/cluster/): a private PostgreSQL cluster, the
// Temporal server built from source (scripts/temporal-cluster.sh) on it, the default namespace and
// keyless's search attributes, the embedded Google Cloud as a `keyless emulator` process, and
// `keyless worker` processes polling the one task queue. One cluster per test file; `stop()` ends
// every process it started, failure or not, and removes its folder unless asked to keep the logs.
//
// All four Temporal services run in one server process. keyless's workers only ever talk to the
// frontend, so splitting the services tests nothing more of keyless, while four processes on two
// shared cores would cost four runtimes, ringpop gossip between them, and four processes to restart
// in the restart scenarios. The server still runs its real membership and shard ownership over
// PostgreSQL, which is what a restart on the same database exercises.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
// A default import: the benchmark runs this module under plain Node ESM, where @temporalio/proto (CommonJS) has no named exports.
import protos from '@temporalio/proto';
import { DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTES } from '../../contracts/names';
import type { PipelineSpecInput } from '../../contracts/spec';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION, demoFixtureInput } from '../../emulator';
import { freePort, portInUse } from '../../worker/dev-server';
import { temporalCliPath } from '../../worker/temporal-binaries';
import { runCommand, spawnService, waitForOutput, type ChildService } from './processes';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const toolsDir = join(repoRoot, '.tools');
const keylessBin = join(repoRoot, 'bin/keyless');

/** The pins of the cluster tier; docker-compose.yml must use the same (test/deploy/compose.test.ts). */
export interface ClusterVersions {
  temporalServer: string;
  postgresMajor: number;
  temporalUi: string;
}
export const CLUSTER_VERSIONS: ClusterVersions = JSON.parse(readFileSync(join(repoRoot, 'deploy/versions.json'), 'utf8'));

function tool(variable: string, fallback: string, what: string): string {
  const path = process.env[variable] || fallback;
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}: run \`bash scripts/temporal-cluster.sh\` (npm test does), or set ${variable}`);
  return path;
}

/** Paths of the cluster tier's binaries and schema (scripts/temporal-cluster.sh installs them). */
export function clusterTools() {
  const v = CLUSTER_VERSIONS;
  const pgBin = `/usr/lib/postgresql/${v.postgresMajor}/bin`;
  if (!existsSync(join(pgBin, 'initdb'))) {
    throw new Error(`PostgreSQL ${v.postgresMajor} not found (${pgBin}/initdb): run \`bash scripts/temporal-cluster.sh\` or \`apt-get install -y postgresql-${v.postgresMajor}\``);
  }
  return {
    pgBin,
    server: tool('KEYLESS_TEMPORAL_SERVER', join(toolsDir, `temporal-server-${v.temporalServer}`), `the Temporal server ${v.temporalServer}`),
    sqlTool: tool('KEYLESS_TEMPORAL_SQL_TOOL', join(toolsDir, `temporal-sql-tool-${v.temporalServer}`), `the Temporal SQL tool ${v.temporalServer}`),
    schemaDir: tool('KEYLESS_TEMPORAL_SCHEMA_DIR', join(toolsDir, `temporal-schema-${v.temporalServer}`), `the PostgreSQL schema of Temporal ${v.temporalServer}`),
    uiServer: tool('KEYLESS_TEMPORAL_UI_SERVER', join(toolsDir, `temporal-ui-server-${v.temporalUi}`), `the Temporal UI server ${v.temporalUi}`),
  };
}

/** keyless's search attributes as "Name=Type" pairs, the form the compose file's namespace job takes. */
export function keylessSearchAttributes(): string {
  return SEARCH_ATTRIBUTES.map((key) => `${key.name}=${key.type.charAt(0)}${key.type.slice(1).toLowerCase()}`).join(' ');
}

/** Distinct free ports (freePort alone may hand out the same port twice before either is bound). */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/**
 * Distinct free ports below 32768 for the Temporal server's services. Its PostgreSQL schema keeps a
 * member's port in a smallint (cluster_membership.rpc_port), so a port from Linux's ephemeral range
 * (32768 and up, where port 0 binds) makes the server die at start with "out of range for type smallint".
 */
async function freeServerPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < n; attempt++) {
    if (attempt > 2_000) throw new Error('no free ports between 20000 and 32767 for the Temporal server');
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (!ports.has(port) && !(await portInUse(port))) ports.add(port);
  }
  return [...ports];
}

interface Postgres {
  port: number;
  password: string;
  service: ChildService;
}

/** Who runs PostgreSQL: the postgres user when the suite runs as root (PostgreSQL refuses root), else the suite's own user. */
function postgresIdentity(): { uid: number; gid: number } {
  const self = { uid: process.getuid!(), gid: process.getgid!() };
  if (self.uid !== 0) return self;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    throw new Error('PostgreSQL refuses to run as root, and there is no postgres user to run it as: install Debian\'s postgresql package (it creates the user), or run the suite as another user');
  }
}

/**
 * A private PostgreSQL cluster in `dir`, as the postgres user (the server refuses root), on
 * 127.0.0.1 only, password-authenticated; its superuser is `temporal`, as in the compose file.
 */
async function startPostgres(dir: string, pgBin: string, port: number): Promise<Postgres> {
  const { uid, gid } = postgresIdentity();
  const root = join(dir, 'postgres');
  const data = join(root, 'data');
  await mkdir(root);
  // The test folder is root's; postgres must be able to reach its own subfolder.
  await chmod(dir, 0o711);
  if (uid !== process.getuid!()) await chown(root, uid, gid);
  const password = randomBytes(18).toString('hex');
  const pwfile = join(root, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (uid !== process.getuid!()) await chown(pwfile, uid, gid);
  const env = { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C' };
  await runCommand(join(pgBin, 'initdb'), ['-D', data, '-U', 'temporal', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'], { env, uid, gid });
  await rm(pwfile);
  const service = spawnService(
    'postgres',
    join(pgBin, 'postgres'),
    [
      '-D', data,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${root}`,
      // A test database lives for minutes and is thrown away: durability across an OS crash buys
      // nothing, and skipping fsync keeps the shared disk out of every workflow task's latency.
      // A SIGKILLed Temporal server still finds every committed row: that is PostgreSQL's job, not fsync's.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
    ],
    { env, uid, gid, logFile: join(dir, 'postgres.log') },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await runCommand(join(pgBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'temporal', '-t', '2'], { env });
      break;
    } catch (err) {
      if (!service.running()) throw new Error(`PostgreSQL exited during start (log: ${service.logFile})`);
      if (Date.now() > deadline) throw new Error(`PostgreSQL not ready on 127.0.0.1:${port} within 60 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { port, password, service };
}

/**
 * Creates both databases and applies the versioned schemas with the script docker-compose.yml's
 * schema job runs (deploy/temporal/setup-postgres.sh), so the compose setup is the tested one.
 */
async function applySchema(path: string, schemaDir: string, pg: Postgres): Promise<void> {
  // The password goes through the environment, never the command line (visible in ps).
  const env = { PATH: path, SQL_HOST: '127.0.0.1', SQL_PORT: String(pg.port), SQL_USER: 'temporal', SQL_PASSWORD: pg.password, TEMPORAL_SCHEMA_DIR: schemaDir };
  await runCommand('sh', [join(repoRoot, 'deploy/temporal/setup-postgres.sh')], { env });
}

/** The Temporal server process and what it needs to start again on the same database. */
interface TemporalServer {
  address: string;
  service: ChildService;
  env: NodeJS.ProcessEnv;
}

function startTemporalServer(dir: string, serverBin: string, env: NodeJS.ProcessEnv): ChildService {
  return spawnService('temporal-server', serverBin, ['--config-file', join(repoRoot, 'test/cluster/temporal-server.yaml'), '--allow-no-auth', 'start'], {
    env,
    cwd: dir,
    logFile: join(dir, 'temporal-server.log'),
  });
}

/** Waits until the frontend answers and, with `namespace`, knows the namespace (history and persistence up). */
async function waitUntilServing(server: TemporalServer, timeoutMs: number, namespace?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!server.service.running()) throw new Error(`the Temporal server exited during start (log: ${server.service.logFile})`);
    try {
      const connection = await Connection.connect({ address: server.address, connectTimeout: 1_000 });
      try {
        // The frontend's own health, as `temporal operator cluster health` asks it: SERVING only
        // once the frontend has joined membership, not merely bound its port.
        const health = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
        if (health.status !== protos.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING) throw new Error(`frontend health: ${health.status}`);
        if (namespace) {
          await connection.workflowService.describeNamespace({ namespace });
          // A list reaches visibility, a count of open workflows the history shards' owner.
          await connection.workflowService.countWorkflowExecutions({ namespace, query: 'ExecutionStatus="Running"' });
        }
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = (err as Error).message;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the Temporal server at ${server.address} did not serve within ${timeoutMs} ms: ${last} (log: ${server.service.logFile})`);
}

/** A `keyless worker` process of the cluster. */
export interface ClusterWorker {
  index: number;
  /** The SDK's default worker identity, `<pid>@<hostname>`, as history events record it. */
  identity: string;
  metricsAddress?: string;
  service: ChildService;
}

export interface ClusterOptions {
  /** A label for the temporary folder and logs. */
  label: string;
  /** Keys to add to the demo estate, one per pipeline, annotated with the pipeline's name. */
  pipelines: string[];
  /** How many `keyless worker` processes to run. */
  workers?: number;
  /** Serve Prometheus metrics from every worker (KEYLESS_METRICS_ADDRESS on a free port each). */
  metrics?: boolean;
  /** Start the Temporal UI server against the cluster. */
  ui?: boolean;
}

export interface KeylessCluster {
  dir: string;
  address: string;
  namespace: string;
  taskQueue: string;
  client: Client;
  emulatorUrl: string;
  workers: ClusterWorker[];
  uiUrl?: string;
  /** The server process's pid now (changes with each restart). */
  serverPid(): number;
  /**
   * Ends the Temporal server with `signal` (SIGTERM: graceful; SIGKILL: none) and starts it again
   * on the same PostgreSQL and ports; resolves once it serves the namespace again. The workers are
   * left running: they reconnect on their own, as they must in production.
   */
  restartServer(signal: 'SIGTERM' | 'SIGKILL'): Promise<{ downS: number }>;
  /** Stops every process; the folder (logs, PostgreSQL's data) is removed unless `keepLogs`, e.g. after a failed test. */
  stop(options?: { keepLogs?: boolean }): Promise<void>;
}

/** Starts PostgreSQL, the Temporal server, the emulator and the workers; everything is stopped if a step fails. */
export async function startKeylessCluster(options: ClusterOptions): Promise<KeylessCluster> {
  const tools = clusterTools();
  const dir = await mkdtemp(join(tmpdir(), `keyless-cluster-${options.label}-`));
  const services: ChildService[] = [];
  let connection: Connection | undefined;
  let server: TemporalServer | undefined;
  const stop = async (stopOptions: { keepLogs?: boolean } = {}) => {
    await connection?.close().catch(() => undefined);
    // Workers first (they would only log the server's absence), then the server, then its database.
    const order = ['worker', 'ui-server', 'emulator', 'temporal-server', 'postgres'];
    const ranked = [...services, ...(server ? [server.service] : [])].sort((a, b) => order.findIndex((p) => a.name.startsWith(p)) - order.findIndex((p) => b.name.startsWith(p)));
    for (const service of ranked) await service.stop(service.name === 'postgres' ? 'SIGINT' : 'SIGTERM');
    if (stopOptions.keepLogs || process.env.KEYLESS_KEEP_CLUSTER) console.log(`cluster folder kept, with every log: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  };
  try {
    const [pgPort, emulatorPort, uiPort, ...metricsPorts] = await freePorts(3 + (options.metrics ? (options.workers ?? 3) : 0));
    const [frontend, frontendMembership, frontendHttp, history, historyMembership, matching, matchingMembership, workerSvc, workerMembership] = await freeServerPorts(9);
    // The compose jobs' scripts call `temporal-sql-tool` and `temporal` from the PATH, as in
    // temporalio/admin-tools: the pinned binaries are linked under those names.
    const binDir = join(dir, 'bin');
    await mkdir(binDir);
    await symlink(tools.sqlTool, join(binDir, 'temporal-sql-tool'));
    await symlink(temporalCliPath(), join(binDir, 'temporal'));
    const scriptPath = `${binDir}:${process.env.PATH}`;

    const pg = await startPostgres(dir, tools.pgBin, pgPort!);
    services.push(pg.service);
    await applySchema(scriptPath, tools.schemaDir, pg);

    const serverEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      KEYLESS_CLUSTER_PG_PORT: String(pg.port),
      KEYLESS_CLUSTER_PG_PASSWORD: pg.password,
      KEYLESS_CLUSTER_FRONTEND_PORT: String(frontend),
      KEYLESS_CLUSTER_FRONTEND_MEMBERSHIP_PORT: String(frontendMembership),
      KEYLESS_CLUSTER_FRONTEND_HTTP_PORT: String(frontendHttp),
      KEYLESS_CLUSTER_HISTORY_PORT: String(history),
      KEYLESS_CLUSTER_HISTORY_MEMBERSHIP_PORT: String(historyMembership),
      KEYLESS_CLUSTER_MATCHING_PORT: String(matching),
      KEYLESS_CLUSTER_MATCHING_MEMBERSHIP_PORT: String(matchingMembership),
      KEYLESS_CLUSTER_WORKER_PORT: String(workerSvc),
      KEYLESS_CLUSTER_WORKER_MEMBERSHIP_PORT: String(workerMembership),
      KEYLESS_CLUSTER_DYNAMIC_CONFIG: join(repoRoot, 'test/cluster/dynamicconfig.yaml'),
    };
    const address = `127.0.0.1:${frontend}`;
    server = { address, env: serverEnv, service: startTemporalServer(dir, tools.server, serverEnv) };
    const fixture = demoFixtureInput({ iamPropagationDelaySeconds: 0 });
    for (const pipeline of options.pipelines) {
      fixture.keys!.push({ project: 'demo-project', keyId: pipeline, displayName: `${pipeline} (cluster test)`, annotations: { [PIPELINE_ANNOTATION]: pipeline } });
    }
    const fixtureFile = join(dir, 'estate.json');
    await writeFile(fixtureFile, JSON.stringify(fixture));
    // The embedded Google Cloud as an operator runs it: its ready line carries the orchestrator's environment.
    const emulator = spawnService('emulator', keylessBin, ['emulator', '--port', String(emulatorPort), '--fixture', fixtureFile], { cwd: repoRoot, logFile: join(dir, 'emulator.log') });
    services.push(emulator);
    await waitUntilServing(server, 90_000);

    // A plain server has no namespace: the compose file's namespace job creates it and registers
    // keyless's search attributes with the Temporal CLI; the tier runs that same script.
    await runCommand('sh', [join(repoRoot, 'deploy/temporal/setup-namespace.sh')], {
      env: {
        PATH: scriptPath,
        HOME: dir,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_NAMESPACE_RETENTION: '24h',
        KEYLESS_SEARCH_ATTRIBUTES: keylessSearchAttributes(),
      },
    });
    await waitUntilServing(server, 60_000, 'default');
    connection = await Connection.connect({ address });

    const ready = JSON.parse((await waitForOutput(emulator, (out) => out.includes('\n'), 'the ready line', 60_000)).split('\n')[0]!) as {
      baseUrl: string;
      orchestrator?: { email: string; env: Record<string, string> };
    };
    if (ready.orchestrator?.email !== DEMO_ORCHESTRATOR) throw new Error(`the emulator's orchestrator is ${ready.orchestrator?.email}, not ${DEMO_ORCHESTRATOR}`);

    const workerEnv: NodeJS.ProcessEnv = { ...process.env, ...ready.orchestrator.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default', KEYLESS_TASK_QUEUE: DEFAULT_TASK_QUEUE };
    // The suite turns metadata detection off for itself; the workers find the orchestrator's
    // credentials through the emulator's metadata server, as on a VM.
    delete workerEnv.METADATA_SERVER_DETECTION;
    const workers: ClusterWorker[] = [];
    for (let index = 0; index < (options.workers ?? 3); index++) {
      const metricsAddress = options.metrics ? `127.0.0.1:${metricsPorts[index]}` : undefined;
      const service = spawnService(`worker-${index + 1}`, keylessBin, ['worker'], {
        cwd: repoRoot,
        env: { ...workerEnv, ...(metricsAddress ? { KEYLESS_METRICS_ADDRESS: metricsAddress } : {}) },
        logFile: join(dir, `worker-${index + 1}.log`),
      });
      services.push(service);
      // bin/keyless execs node, so the pid is the worker's own and names it in history events.
      workers.push({ index, identity: `${service.pid}@${hostname()}`, ...(metricsAddress ? { metricsAddress } : {}), service });
    }
    await waitForPollers(connection, 'default', workers, 180_000);

    let uiUrl: string | undefined;
    if (options.ui) {
      const ui = spawnService('ui-server', tools.uiServer, ['--root', join(repoRoot, 'test/cluster'), '--config', 'ui', '--env', 'cluster', 'start'], {
        env: { PATH: process.env.PATH, KEYLESS_CLUSTER_FRONTEND_PORT: String(frontend), KEYLESS_CLUSTER_UI_PORT: String(uiPort) },
        logFile: join(dir, 'ui-server.log'),
      });
      services.push(ui);
      uiUrl = `http://127.0.0.1:${uiPort}`;
    }

    const cluster: KeylessCluster = {
      dir,
      address,
      namespace: 'default',
      taskQueue: DEFAULT_TASK_QUEUE,
      client: new Client({ connection, namespace: 'default' }),
      emulatorUrl: ready.baseUrl,
      workers,
      ...(uiUrl ? { uiUrl } : {}),
      serverPid: () => server!.service.pid,
      async restartServer(signal) {
        const began = Date.now();
        await server!.service.stop(signal, 30_000);
        server = { ...server!, service: startTemporalServer(dir, tools.server, server!.env) };
        await waitUntilServing(server, 120_000, 'default');
        return { downS: (Date.now() - began) / 1000 };
      },
      stop,
    };
    return cluster;
  } catch (err) {
    // A cluster that did not come up is explained by its logs: keep them.
    await stop({ keepLogs: true });
    throw err;
  }
}

/** Waits until every worker polls both the workflow and the activity task queue (bundling takes a while). */
async function waitForPollers(connection: Connection, namespace: string, workers: ClusterWorker[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const kinds = [protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY];
  let missing: string[] = workers.map((w) => w.identity);
  while (Date.now() < deadline) {
    const polling = await Promise.all(
      kinds.map(async (taskQueueType) => {
        const response = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: DEFAULT_TASK_QUEUE }, taskQueueType }).catch(() => undefined);
        return new Set((response?.pollers ?? []).map((p) => p.identity ?? ''));
      }),
    );
    missing = workers.filter((w) => !polling.every((set) => set.has(w.identity))).map((w) => w.identity);
    if (missing.length === 0) return;
    const dead = workers.find((w) => !w.service.running());
    if (dead) throw new Error(`${dead.service.name} exited before it polled (log: ${dead.service.logFile})`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`workers not polling the task queue within ${timeoutMs} ms: ${missing.join(', ')}`);
}

/** The project of the cluster tier's estate (the emulator's demo project). */
export const CLUSTER_PROJECT = 'demo-project';

/**
 * A migration spec for the cluster tier: the pipeline's own key, no approvals, bakes and soak of a
 * second, and a finalize that is a change of its own (restrict-ip), so the audit can tell it from
 * the stopgap's restriction.
 */
export function clusterSpec(pipeline: string, routesDir: string, overrides: Partial<PipelineSpecInput> = {}): PipelineSpecInput {
  return {
    pipeline,
    project: CLUSTER_PROJECT,
    apiKey: `projects/${CLUSTER_PROJECT}/locations/global/keys/${pipeline}`,
    serviceAccount: { accountId: `${pipeline}-sa`.slice(0, 30) },
    vertex: { models: ['gemini-2.5-flash'] },
    // Ten migrations at once on two cores make one sample's latency noise; orchestration is under test.
    dualRun: { thresholds: { maxLatencyRatio: 1_000 } },
    approvals: { cutover: false, finalize: false },
    finalize: { action: 'restrict-ip', allowedIps: ['203.0.113.7'] },
    route: { store: `file://${routesDir}` },
    ...overrides,
    // No pipeline runs here: steps advance on their bake, the soak passes without a run.
    canary: { steps: [{ percent: 50, bake: '1s' }, { percent: 100, bake: '1s' }], analysisInterval: '1s', minRequests: 0, ...overrides.canary },
    soak: { duration: '1s', minVertexRequests: 0, ...overrides.soak },
  };
}

/** One task a worker took, as the server recorded it: a completed workflow task or a started activity. */
export interface WorkerTask {
  identity: string;
  /** When the server recorded it (ms since the epoch). */
  at: number;
  kind: 'workflow-task' | 'activity';
}

/** Every workflow task completed and activity started in a history, with the identity of the worker that took it. */
export function identitiesOf(history: protos.temporal.api.history.v1.IHistory): WorkerTask[] {
  const tasks: WorkerTask[] = [];
  for (const event of history.events ?? []) {
    const at = tsToMs(event.eventTime);
    const workflowTask = event.workflowTaskCompletedEventAttributes?.identity;
    const activity = event.activityTaskStartedEventAttributes?.identity;
    if (workflowTask) tasks.push({ identity: workflowTask, at, kind: 'workflow-task' });
    if (activity) tasks.push({ identity: activity, at, kind: 'activity' });
  }
  return tasks;
}
