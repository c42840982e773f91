// keyless doctor against the emulator, with Application Default Credentials resolved the
// production way (the metadata server of the account the pipeline runs as), and one seeded
// problem per test.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileRouteStore } from '../../route-store';
import { routeLocation, type Route } from '../../contracts/route';
import { runDoctor, renderFindings, type DoctorOptions, type Finding } from '../../client/commands/doctor';
import { DEMO_PROJECT } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';

const PIPELINE = 'nightly-summarizer';
const ACCOUNT = `${PIPELINE}@${DEMO_PROJECT}.iam.gserviceaccount.com`;
const BYSTANDER = `ci-deployer@${DEMO_PROJECT}.iam.gserviceaccount.com`;

let cloud: TestCloud;
let dir: string;
let keyString: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  cloud = await startTestCloud({
    tweak: (fixture) => fixture.serviceAccounts!.push({ project: DEMO_PROJECT, accountId: PIPELINE, roles: ['roles/aiplatform.user'] }),
  });
  dir = await mkdtemp(join(tmpdir(), 'keyless-doctor-'));
  const [response] = await cloud.clients.apiKeys.getKeyString({ name: `projects/${DEMO_PROJECT}/locations/global/keys/ticket-triage` });
  keyString = response.keyString!;
  // ADC must find the emulator's metadata server, as it would on a VM.
  delete process.env.METADATA_SERVER_DETECTION;
});
afterAll(async () => {
  process.env = savedEnv;
  await cloud?.clients.apiKeys.close();
  await cloud?.clients.monitoring.close();
  await cloud?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** This process acts as `email` through plain ADC, like the pipeline's runner would. */
async function runAs(email: string): Promise<Record<string, string>> {
  const env = await cloud.emulator.envFor(email);
  Object.assign(process.env, env);
  return env;
}

async function publish(name: string, route: Partial<Route>): Promise<string> {
  const store = `file://${join(dir, name)}`;
  await fileRouteStore.write(routeLocation(store, PIPELINE), {
    pipeline: PIPELINE,
    generation: 1,
    vertexPercent: 10,
    project: DEMO_PROJECT,
    location: 'global',
    serviceAccount: ACCOUNT,
    updatedAt: new Date().toISOString(),
    ...route,
  });
  return store;
}

async function doctor(options: Partial<DoctorOptions> & { env: Record<string, string> }): Promise<{ findings: Finding[]; exitCode: number; blocking: Finding[] }> {
  const report = await runDoctor({ pipeline: PIPELINE, models: ['gemini-2.5-flash'], ...options });
  expect(JSON.stringify(report)).not.toContain(keyString);
  return { ...report, blocking: report.findings.filter((f) => f.blocking) };
}

describe('keyless doctor', () => {
  it('passes a healthy pipeline environment: ADC principal named, route read, live calls on both paths', async () => {
    const env = { ...(await runAs(ACCOUNT)), GEMINI_API_KEY: keyString };
    const report = await doctor({ env, routeStore: await publish('healthy', {}) });
    expect(report.blocking).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.findings.find((f) => f.check === 'adc')?.message).toContain(ACCOUNT);
    expect(report.findings.filter((f) => f.ok).map((f) => f.check)).toEqual(expect.arrayContaining(['environment', 'route', 'project', 'location', 'vertex-call', 'key-call']));
    expect(renderFindings(report.findings).at(-1)).toBe('no blocking findings');
  });

  it('finds the missing Vertex role of the account the pipeline runs as', async () => {
    const env = { ...(await runAs(BYSTANDER)), GEMINI_API_KEY: keyString };
    const report = await doctor({ env, routeStore: await publish('missing-role', { serviceAccount: BYSTANDER }) });
    expect(report.exitCode).not.toBe(0);
    expect(report.blocking).toHaveLength(1);
    expect(report.blocking[0]).toMatchObject({ check: 'vertex-call', ok: false });
    expect(report.blocking[0]!.message).toContain('403');
    expect(report.blocking[0]!.fix).toContain(`--member=serviceAccount:${BYSTANDER} --role=roles/aiplatform.user`);
  });

  it('finds a model Vertex does not serve in the route\'s location', async () => {
    const env = { ...(await runAs(ACCOUNT)), GEMINI_API_KEY: keyString };
    const report = await doctor({ env, models: ['gemini-2.5-flash-lite'], routeStore: await publish('not-served', { location: 'europe-west4' }) });
    expect(report.blocking.map((f) => f.check)).toEqual(['vertex-call']);
    expect(report.blocking[0]!.message).toContain('404');
    expect(report.blocking[0]!.fix).toContain('not served by Vertex in europe-west4');
    // The Gemini API does serve it, so the key path is fine.
    expect(report.findings.find((f) => f.check === 'key-call')).toMatchObject({ ok: true });
  });

  it('finds an API key next to GOOGLE_GENAI_USE_VERTEXAI=true and names the variable to remove', async () => {
    const env = { ...(await runAs(ACCOUNT)), GEMINI_API_KEY: keyString, GOOGLE_GENAI_USE_VERTEXAI: 'true' };
    const report = await doctor({ env, routeStore: await publish('both-set', {}) });
    const environment = report.findings.find((f) => f.check === 'environment')!;
    expect(environment).toMatchObject({ ok: false, blocking: true, fix: 'unset GOOGLE_GENAI_USE_VERTEXAI in the pipeline\'s environment' });
    expect(report.exitCode).not.toBe(0);
  });

  it('finds a route document it cannot read', async () => {
    const env = { ...(await runAs(ACCOUNT)), GEMINI_API_KEY: keyString };
    const store = await publish('corrupt', {});
    await writeFile(join(dir, 'corrupt', `${PIPELINE}.json`), '{"pipeline": ');
    const report = await doctor({ env, routeStore: store, project: DEMO_PROJECT, location: 'global' });
    expect(report.blocking.map((f) => f.check)).toEqual(['route']);
    expect(report.blocking[0]!.message).toContain(`${PIPELINE}.json`);
  });

  it('finds an unreadable Cloud Storage route store for an account without storage access', async () => {
    const env = { ...(await runAs(ACCOUNT)), GEMINI_API_KEY: keyString };
    const report = await doctor({ env, routeStore: 'gs://demo-project-keyless-routes/routes', project: DEMO_PROJECT, location: 'global' });
    const route = report.findings.find((f) => f.check === 'route')!;
    expect(route).toMatchObject({ ok: false, blocking: true });
    expect(route.fix).toContain('roles/storage.objectViewer');
  });
});
