// The deployment files, checked without a Docker engine: docker-compose.yml parsed as YAML (with
// the merge keys compose supports), the Dockerfile read instruction by instruction, and every
// path they name checked against the repository.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTES } from '../../contracts/names';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { endpointConfigFromEnv } from '../../google/endpoints';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');

interface Healthcheck {
  test: string[];
  interval: string;
  timeout: string;
  retries: number;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  command?: string[];
  entrypoint?: string[];
  healthcheck?: Healthcheck;
  network_mode?: string;
  restart?: string;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const ONE_SHOT = ['temporal-schema', 'temporal-namespace'];
/** The cluster tier's pins (test/cluster/ runs exactly these versions); the compose file must match. */
const versions = JSON.parse(read('deploy/versions.json')) as { temporalServer: string; postgresMajor: number; temporalUi: string };
const tagOf = (image: string) => image.split(':')[1]!;

/** Dockerfile instructions with line continuations joined. */
function dockerfileInstructions(text: string): { op: string; args: string }[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

describe('docker-compose.yml', () => {
  it('runs Temporal on PostgreSQL after its schema job, the UI, the namespace job, a keyless worker per profile and Prometheus', () => {
    expect(Object.keys(services).sort()).toEqual(['emulator', 'postgresql', 'prometheus', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker', 'worker-emulator']);
    expect(service('temporal').environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', DB_PORT: '5432' });
    expect(service('temporal').depends_on).toEqual({ postgresql: { condition: 'service_healthy' }, 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(service('temporal-namespace').depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
  });

  it('pins the Temporal server, admin tools, UI and PostgreSQL major the cluster tier runs (deploy/versions.json)', () => {
    expect(service('temporal').image).toBe(`temporalio/server:${versions.temporalServer}`);
    expect(service('temporal-schema').image).toBe(`temporalio/admin-tools:${versions.temporalServer}`);
    expect(service('temporal-namespace').image).toBe(`temporalio/admin-tools:${versions.temporalServer}`);
    expect(service('temporal-ui').image).toBe(`temporalio/ui:${versions.temporalUi}`);
    expect(service('postgresql').image).toBe(`postgres:${versions.postgresMajor}`);
    // The deprecated image that set the schema up at start is gone for good.
    for (const [name, s] of Object.entries(services)) expect(s.image, name).not.toMatch(/auto-setup/);
    // The UI's "Send an Update" action, which operators approve cutovers with, arrived in 2.34.4.
    const [major, minor, patch] = versions.temporalUi.split('.').map(Number) as [number, number, number];
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(2 * 1e6 + 34 * 1e3 + 4);
    // The comment at the top of the file states the same versions.
    expect(read('docker-compose.yml')).toContain(`Temporal server ${versions.temporalServer} on PostgreSQL ${versions.postgresMajor}, UI ${versions.temporalUi}`);
  });

  it('sets the schema up with temporal-sql-tool through the script the cluster tier runs', () => {
    const job = service('temporal-schema');
    expect(job.entrypoint).toEqual(['sh', '/deploy/setup-postgres.sh']);
    expect(job.volumes).toEqual(['./deploy/temporal/setup-postgres.sh:/deploy/setup-postgres.sh:ro']);
    expect(job.environment).toMatchObject({ SQL_HOST: 'postgresql', SQL_PORT: '5432', SQL_USER: service('postgresql').environment!.POSTGRES_USER });
    expect(job.environment!.SQL_PASSWORD).toBe(service('postgresql').environment!.POSTGRES_PASSWORD);
    expect(service('temporal').environment!.POSTGRES_PWD).toBe(service('postgresql').environment!.POSTGRES_PASSWORD);
    const script = read('deploy/temporal/setup-postgres.sh');
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d']) expect(script).toContain(step);
    expect(read('test/support/cluster.ts')).toContain("'deploy/temporal/setup-postgres.sh'");
  });

  it('pins every image to a version tag', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toBeDefined();
      // PostgreSQL is pinned to its major: patch releases of a major share the on-disk format.
      const pattern = name === 'postgresql' ? /^\d+$/ : /^v?\d+\.\d+(\.\d+)?([-.][a-z0-9.-]+)?$/;
      expect(tagOf(s.image!), `${name}: ${s.image}`).toMatch(pattern);
    }
  });

  it('gives every long-running service a health check, and waits on health, not on start', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOT.includes(name)) {
        expect(s.restart, name).toBe('no');
        expect(s.healthcheck, name).toBeUndefined();
        continue;
      }
      expect(s.healthcheck?.test?.length, `${name} health check`).toBeGreaterThan(1);
      expect(s.healthcheck!.interval, name).toMatch(/^\d+s$/);
      expect(s.healthcheck!.retries, name).toBeGreaterThan(0);
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        expect(condition, `${name} → ${dependency}`).toBe(ONE_SHOT.includes(dependency) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
  });

  it('publishes Temporal and the UI on loopback, and the UI health check asks the port it serves', () => {
    expect(service('temporal').ports).toEqual(['127.0.0.1:7233:7233']);
    const ui = service('temporal-ui');
    const uiPort = ui.environment!.TEMPORAL_UI_PORT;
    expect(ui.ports).toEqual([`127.0.0.1:${uiPort}:${uiPort}`]);
    expect(ui.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${uiPort}/healthz`);
    expect(ui.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_DISABLE_WRITE_ACTIONS: 'false' });
    expect(service('postgresql').ports).toBeUndefined();
  });

  it("creates the namespace and registers exactly keyless's search attributes, with their types, through the script the cluster tier runs", () => {
    const job = service('temporal-namespace');
    const expected = SEARCH_ATTRIBUTES.map((key) => `${key.name}=${key.type.charAt(0)}${key.type.slice(1).toLowerCase()}`);
    expect(job.environment!.KEYLESS_SEARCH_ATTRIBUTES!.split(/\s+/)).toEqual(expected);
    expect(job.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: '${TEMPORAL_NAMESPACE:-default}' });
    expect(job.entrypoint).toEqual(['sh', '/deploy/setup-namespace.sh']);
    expect(job.volumes).toEqual(['./deploy/temporal/setup-namespace.sh:/deploy/setup-namespace.sh:ro']);
    expect(read('deploy/temporal/setup-namespace.sh')).toContain('operator namespace create');
    expect(read('test/support/cluster.ts')).toContain("'deploy/temporal/setup-namespace.sh'");
  });

  it('serves every worker\'s metrics on the port Prometheus scrapes, inside the compose network only', () => {
    const prometheus = service('prometheus');
    expect(prometheus.profiles).toEqual(['metrics']);
    expect(prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
    expect(prometheus.volumes).toEqual(['./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro']);
    const scrape = parse(read('deploy/prometheus/prometheus.yml')) as { scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[]; static_configs?: { targets: string[] }[] }[] };
    for (const name of ['worker', 'worker-emulator']) {
      const address = service(name).environment!.KEYLESS_METRICS_ADDRESS!;
      expect(address, name).toMatch(/^0\.0\.0\.0:\d+$/);
      const port = Number(address.split(':')[1]);
      // worker-emulator lives in the emulator's network namespace, so its port is the emulator's.
      const host = name === 'worker' ? service('worker') : service('emulator');
      expect(host.expose, name).toEqual([String(port)]);
      expect(host.ports, name).toBeUndefined();
      const job = scrape.scrape_configs.find((j) => j.job_name === `keyless-${name}`)!;
      const targets = name === 'worker' ? job.dns_sd_configs!.map((d) => `${d.names.join()}:${d.port}`) : job.static_configs!.flatMap((c) => c.targets);
      expect(targets, name).toEqual([`${name === 'worker' ? 'worker' : 'emulator'}:${port}`]);
    }
  });

  it('points both workers at the Temporal service and the default task queue', () => {
    for (const name of ['worker', 'worker-emulator']) {
      const s = service(name);
      expect(s.build, name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(s.image, name).toBe(`keyless-worker:${JSON.parse(read('package.json')).version}`);
      expect(s.environment, name).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: '${TEMPORAL_NAMESPACE:-default}', KEYLESS_TASK_QUEUE: `\${KEYLESS_TASK_QUEUE:-${DEFAULT_TASK_QUEUE}}` });
      expect(s.depends_on, name).toMatchObject({ temporal: { condition: 'service_healthy' }, 'temporal-namespace': { condition: 'service_completed_successfully' } });
      expect(s.healthcheck!.test, name).toEqual(['CMD', 'node', '--import', 'tsx', 'deploy/worker-healthcheck.ts']);
    }
  });

  it('gives the Google worker Application Default Credentials from a mounted folder, never the emulator', () => {
    const worker = service('worker');
    expect(worker.profiles).toEqual(['google']);
    expect(worker.command).toEqual(['node', '--max-old-space-size=512', '--import', 'tsx', 'client/main.ts', 'worker']);
    expect(worker.environment!.GOOGLE_APPLICATION_CREDENTIALS).toBe('${KEYLESS_ADC_FILE:-}');
    expect(worker.environment!.KEYLESS_EMULATOR).toBeUndefined();
    expect(worker.volumes).toContain('./deploy/credentials:/var/run/secrets/keyless:ro');
    // The mounted folder exists, and nothing in it but its README and ignore file can be committed.
    expect(read('deploy/credentials/.gitignore').split('\n')).toEqual(expect.arrayContaining(['*', '!.gitignore', '!README.md']));
  });

  it('runs the emulator as an optional profile that its worker reaches on loopback', () => {
    const emulator = service('emulator');
    const worker = service('worker-emulator');
    expect(emulator.profiles).toEqual(['emulator']);
    expect(worker.profiles).toEqual(['emulator']);
    const portFlag = emulator.command!.indexOf('--port');
    const emulatorPort = emulator.command![portFlag + 1];
    expect(emulator.command!.slice(0, 5)).toEqual(['node', '--import', 'tsx', 'client/main.ts', 'emulator']);
    expect(emulator.command).toEqual(expect.arrayContaining(['--fixture', 'demo']));
    expect(emulator.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${emulatorPort}/admin/v1/info`);
    // The emulator binds 127.0.0.1: only a container sharing its network namespace can reach it.
    expect(worker.network_mode).toBe('service:emulator');
    expect(worker.environment).toMatchObject({ KEYLESS_EMULATOR: `http://127.0.0.1:${emulatorPort}`, KEYLESS_ORCHESTRATOR: DEMO_ORCHESTRATOR, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT });
    expect(worker.depends_on!.emulator).toEqual({ condition: 'service_healthy' });
    expect(worker.command).toEqual(['sh', 'deploy/worker-on-emulator.sh']);
    // keyless refuses a KEYLESS_EMULATOR that is not loopback: the worker's value must pass that rule.
    expect(endpointConfigFromEnv({ KEYLESS_EMULATOR: worker.environment!.KEYLESS_EMULATOR })).toMatchObject({ mode: 'emulator' });
  });

  it('names only files and volumes that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(resolve(root, source)), `${name}: ${source}`).toBe(true);
        else expect(compose.volumes, `${name}: volume ${source}`).toHaveProperty(source);
      }
      for (const arg of [...(s.command ?? []), ...(s.healthcheck?.test ?? [])]) {
        if (/^(deploy|client)\/.+\.(ts|sh)$/.test(arg)) expect(existsSync(resolve(root, arg)), `${name}: ${arg}`).toBe(true);
      }
    }
    const dynamicConfig = service('temporal').volumes!.find((v) => v.includes('dynamicconfig'))!;
    const target = dynamicConfig.split(':')[1]!;
    expect(target.endsWith(service('temporal').environment!.DYNAMIC_CONFIG_FILE_PATH!)).toBe(true);
    expect(parse(read('deploy/temporal/dynamicconfig.yaml'))['frontend.enableUpdateWorkflowExecution']).toEqual([{ value: true }]);
  });
});

describe('Dockerfile', () => {
  const instructions = dockerfileInstructions(read('Dockerfile'));
  const all = (op: string) => instructions.filter((i) => i.op === op);

  it('builds on a pinned Node 20 slim image and installs production dependencies only', () => {
    expect(all('FROM')).toHaveLength(1);
    expect(all('FROM')[0]!.args).toMatch(/^node:20\.\d+\.\d+-[a-z]+-slim$/);
    expect(all('RUN').some((r) => /npm ci\b.*--omit=dev/.test(r.args))).toBe(true);
    // No dependency's install script runs: npm 11's allowScripts is only advisory.
    expect(all('RUN').filter((r) => /npm ci\b/.test(r.args)).every((r) => r.args.includes('--ignore-scripts'))).toBe(true);
    expect(read('scripts/setup.sh')).toMatch(/npm ci --ignore-scripts/);
    expect(all('USER').at(-1)?.args).toBe('node');
    // tsx runs the TypeScript at run time, so it must be a production dependency.
    expect(JSON.parse(read('package.json')).dependencies).toHaveProperty('tsx');
  });

  it('runs the keyless worker, a verb the CLI dispatches', () => {
    const cmd = JSON.parse(all('CMD').at(-1)!.args) as string[];
    expect(cmd).toEqual(['node', '--import', 'tsx', 'client/main.ts', 'worker']);
    expect(existsSync(resolve(root, cmd[3]!))).toBe(true);
    // The verb's own module, listed in the CLI's table.
    expect(read('client/commands/worker.ts')).toMatch(/^export const worker: Command = \{$/m);
    expect(read('client/main.ts')).toMatch(/^\s+worker: async \(\) => \(await import\('\.\/commands\/worker'\)\)\.worker,$/m);
    const health = all('HEALTHCHECK')[0]!.args;
    expect(health).toContain('deploy/worker-healthcheck.ts');
  });

  it('copies only paths that exist, and the build context leaves out state and secrets', () => {
    for (const copy of all('COPY')) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) expect(existsSync(resolve(root, source)), `COPY ${source}`).toBe(true);
    }
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.keyless', '.tools', 'deploy/credentials', '.git']));
    for (const needed of ['client', 'worker', 'workflows', 'activities', 'contracts', 'emulator', 'deploy', 'package.json', 'package-lock.json']) {
      expect(ignored, needed).not.toContain(needed);
    }
  });
});
