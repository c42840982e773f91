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
const ONE_SHOT = ['temporal-search-attributes'];

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
  it('runs Temporal on PostgreSQL, the UI, the search-attribute job, and a keyless worker per profile', () => {
    expect(Object.keys(services).sort()).toEqual(['emulator', 'postgresql', 'temporal', 'temporal-search-attributes', 'temporal-ui', 'worker', 'worker-emulator']);
    expect(service('temporal').environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(service('temporal').depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
  });

  it('pins every image to a version tag', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toBeDefined();
      const [, tag] = s.image!.split(':');
      expect(tag, `${name}: ${s.image}`).toMatch(/^\d+\.\d+(\.\d+)?([-.][a-z0-9.-]+)?$/);
    }
    expect(service('temporal').image).toMatch(/^temporalio\/auto-setup:/);
    expect(service('temporal-search-attributes').image).toMatch(/^temporalio\/admin-tools:/);
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:/);
    // The admin tools and the server come from the same Temporal release.
    expect(service('temporal-search-attributes').image!.split(':')[1]!.split('-')[0]).toBe(service('temporal').image!.split(':')[1]);
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

  it("registers exactly keyless's search attributes, with their types", () => {
    const job = service('temporal-search-attributes');
    const expected = SEARCH_ATTRIBUTES.map((key) => `${key.name}=${key.type.charAt(0)}${key.type.slice(1).toLowerCase()}`);
    expect(job.environment!.KEYLESS_SEARCH_ATTRIBUTES!.split(/\s+/)).toEqual(expected);
    expect(job.entrypoint).toEqual(['sh', '/deploy/register-search-attributes.sh']);
    expect(job.volumes).toContain('./deploy/register-search-attributes.sh:/deploy/register-search-attributes.sh:ro');
    expect(service('temporal').environment!.SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES).toBe('true');
  });

  it('points both workers at the Temporal service and the default task queue', () => {
    for (const name of ['worker', 'worker-emulator']) {
      const s = service(name);
      expect(s.build, name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(s.image, name).toBe(`keyless-worker:${JSON.parse(read('package.json')).version}`);
      expect(s.environment, name).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: '${TEMPORAL_NAMESPACE:-default}', KEYLESS_TASK_QUEUE: `\${KEYLESS_TASK_QUEUE:-${DEFAULT_TASK_QUEUE}}` });
      expect(s.depends_on, name).toMatchObject({ temporal: { condition: 'service_healthy' }, 'temporal-search-attributes': { condition: 'service_completed_successfully' } });
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
    expect(read('client/main.ts')).toMatch(/^\s+worker,$/m);
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
