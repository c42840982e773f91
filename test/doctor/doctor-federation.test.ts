// keyless doctor inside a federated job, against the emulator: the job's configuration is the one
// `keyless credentials` printed, loaded through GOOGLE_APPLICATION_CREDENTIALS, and its chain is
// walked with Google's library; each test breaks one link (a runner of another repository id, a
// runner without id-token permission, an account without the workloadIdentityUser binding, an
// account without the Vertex role, a token for another audience, a token file not written) and
// doctor must name that link and its fix.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctorOptionsFromSpec, renderFindings, runDoctor, type Finding } from '../../client/commands/doctor';
import { routeLocation } from '../../contracts/route';
import { DEMO_PROJECT, DEMO_PROJECT_NUMBER } from '../../emulator';
import { fileRouteStore } from '../../route-store';
import { ACCOUNTS, REPOSITORY, SPECS, email, keyless, startFederationEstate, type FederationEstate } from '../support/federation';

const PROVIDER = (id: string) => `projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools/keyless/providers/${id}`;

let estate: FederationEstate;

beforeAll(async () => {
  estate = await startFederationEstate([
    { spec: 'github', bind: true },
    { spec: 'unbound', bind: false },
    { spec: 'noVertex', bind: true },
  ]);
  // Every run on Vertex, so doctor checks the job's chain and no API key.
  for (const name of ['github', 'unbound', 'noVertex'] as const) {
    const spec = estate.parsed(name);
    await fileRouteStore.write(routeLocation(routeStore(), spec.pipeline), {
      pipeline: spec.pipeline,
      generation: 1,
      vertexPercent: 100,
      project: DEMO_PROJECT,
      location: spec.vertex.location,
      serviceAccount: email(SPECS[name]!.serviceAccount!.accountId),
      updatedAt: new Date().toISOString(),
    });
  }
});
afterAll(async () => {
  await estate?.stop();
});

const routeStore = () => `file://${join(estate.dir, 'routes')}`;

/** A job of `repository` on a runner registered in the emulator: the variables GitHub sets (none without id-token permission). */
function githubJob(job: { repositoryId?: string; idTokenWrite?: boolean } = {}): Record<string, string> {
  const runner = estate.cloud.emulator.registerGithubRunner({ ...REPOSITORY, ...job });
  const env: Record<string, string> = {};
  if (runner.ACTIONS_ID_TOKEN_REQUEST_URL) env.ACTIONS_ID_TOKEN_REQUEST_URL = runner.ACTIONS_ID_TOKEN_REQUEST_URL;
  if (runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN) env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  return env;
}

/** The job's environment with the configuration `keyless credentials` printed for it. */
async function jobWithCredentials(spec: 'github' | 'unbound' | 'noVertex', runner: Record<string, string>, extra: string[] = []): Promise<Record<string, string>> {
  const pipeline = estate.parsed(spec).pipeline;
  const printed = await keyless(['credentials', pipeline, '--spec', estate.specPaths[spec], ...extra], { ...estate.orchestratorEnv, ...runner });
  expect(printed.code, printed.err).toBe(0);
  const file = join(estate.dir, `${pipeline}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, printed.out);
  // What the job has: the runner's variables and the configuration, no metadata server, no key.
  return { KEYLESS_EMULATOR: estate.cloud.emulator.baseUrl, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT, GOOGLE_APPLICATION_CREDENTIALS: file, ...runner };
}

async function doctor(spec: 'github' | 'unbound' | 'noVertex', env: Record<string, string>, extra: { projectNumber?: string } = {}) {
  const report = await runDoctor({ ...doctorOptionsFromSpec(estate.parsed(spec), env), routeStore: routeStore(), ...extra });
  const by = (check: Finding['check']) => report.findings.filter((f) => f.check === check);
  return { ...report, by, blocking: report.findings.filter((f) => f.blocking) };
}

describe('keyless doctor in a federated job', () => {
  it('given the printed configuration in a job of the pinned repository, walks every link to Vertex as the account and finds nothing blocking', async () => {
    const report = await doctor('github', await jobWithCredentials('github', githubJob()));
    expect(report.blocking).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.by('adc')[0]!.message).toContain(`Workload Identity Federation through ${PROVIDER('nightly-summarizer')}, acting as ${email(ACCOUNTS.github.accountId)}`);
    for (const check of ['runtime-token', 'sts', 'impersonation', 'vertex-call'] as const) expect(report.by(check)).toMatchObject([{ ok: true }]);
    expect(report.by('vertex-call')[0]!.message).toContain(`as ${email(ACCOUNTS.github.accountId)}`);
  });

  it('given a runner of another repository id, names STS and the attribute condition, with the pin the token misses', async () => {
    const report = await doctor('github', await jobWithCredentials('github', githubJob({ repositoryId: '812345679' })));
    expect(report.blocking.map((f) => f.check)).toEqual(['sts']);
    const sts = report.blocking[0]!;
    expect(sts.message).toContain("STS refused the job's token: the provider's attribute condition rejects it");
    expect(sts.message).toContain('repository_id 812345679');
    expect(sts.fix).toContain("the job's repository or ref does not match runtime.repositoryId/ref of the spec (runtime.repositoryId is 812345678 but the token's repository_id is 812345679)");
    expect(report.by('vertex-call')).toEqual([]);
  });

  it('given a runner without id-token permission (no ACTIONS_ID_TOKEN_REQUEST_URL), names the runner token and `permissions: id-token: write`', async () => {
    const runner = githubJob({ idTokenWrite: false });
    expect(runner).toEqual({});
    const report = await doctor('github', { KEYLESS_EMULATOR: estate.cloud.emulator.baseUrl, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT, ...runner });
    expect(report.blocking.map((f) => f.check)).toEqual(['runtime-token']);
    expect(report.blocking[0]!.message).toContain('the runner gives this job no ID token: ACTIONS_ID_TOKEN_REQUEST_URL is absent');
    expect(report.blocking[0]!.fix).toContain('add `permissions: id-token: write` to the job');
  });

  it('given an account without the workloadIdentityUser binding, names impersonation and the gcloud binding to add', async () => {
    const report = await doctor('unbound', await jobWithCredentials('unbound', githubJob()));
    expect(report.blocking.map((f) => f.check)).toEqual(['impersonation']);
    const member = `principalSet://iam.googleapis.com/projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools/keyless/attribute.repository_id/${REPOSITORY.repositoryId}`;
    expect(report.blocking[0]!.message).toContain(`${email(ACCOUNTS.unbound.accountId)} does not grant roles/iam.workloadIdentityUser to the job's principal`);
    expect(report.blocking[0]!.fix).toContain('the migration\'s identity stage grants it');
    expect(report.blocking[0]!.fix).toContain(`gcloud iam service-accounts add-iam-policy-binding ${email(ACCOUNTS.unbound.accountId)} --project=${DEMO_PROJECT} --role=roles/iam.workloadIdentityUser --member=${member}`);
  });

  it('given an account without the Vertex role, walks to Vertex and names roles/aiplatform.user', async () => {
    const report = await doctor('noVertex', await jobWithCredentials('noVertex', githubJob()));
    expect(report.blocking.map((f) => f.check)).toEqual(['vertex-call']);
    expect(report.findings.find((f) => f.check === 'impersonation')).toMatchObject({ ok: true });
    expect(report.blocking[0]!.message).toContain('403');
    expect(report.blocking[0]!.fix).toContain(`--member=serviceAccount:${email(ACCOUNTS.noVertex.accountId)} --role=roles/aiplatform.user`);
  });

  it('given a token issued for another audience, names STS and the audience to ask for', async () => {
    const tokenFile = join(estate.dir, 'wrong-audience.jwt');
    await writeFile(tokenFile, (await estate.cloud.emulator.mintGithubToken(REPOSITORY, { audience: 'https://github.com/acme' })).token);
    const report = await doctor('github', await jobWithCredentials('github', {}, ['--source', `file:${tokenFile}`]));
    expect(report.blocking.map((f) => f.check)).toEqual(['sts']);
    expect(report.blocking[0]!.message).toContain("its audience is not the provider's");
    expect(report.blocking[0]!.fix).toContain(`ask the issuer for audience https://iam.googleapis.com/${PROVIDER('nightly-summarizer')}`);
  });

  it('given a file source whose token was never written, names the runner token and where to write it', async () => {
    const missing = join(estate.dir, 'never-written.jwt');
    const report = await doctor('github', await jobWithCredentials('github', {}, ['--source', `file:${missing}`]));
    expect(report.blocking.map((f) => f.check)).toEqual(['runtime-token']);
    expect(report.blocking[0]!.fix).toContain(`write the job's ID token to ${missing}`);
  });

  it('given a GitHub job with no configuration yet, walks the one built from the spec and its runner, and says the job still needs it', async () => {
    const report = await doctor('github', { KEYLESS_EMULATOR: estate.cloud.emulator.baseUrl, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT, ...githubJob() }, { projectNumber: DEMO_PROJECT_NUMBER });
    expect(report.blocking).toEqual([]);
    expect(report.findings.find((f) => f.check === 'workload-identity')).toMatchObject({ ok: false, blocking: false });
    expect(report.by('vertex-call')).toMatchObject([{ ok: true }]);
  });

  it('from the command line: exit code 1 and the broken link with its fix', async () => {
    const run = await keyless(['doctor', '--spec', estate.specPaths.github, '--store', routeStore()], { KEYLESS_EMULATOR: estate.cloud.emulator.baseUrl, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT, ...githubJob({ idTokenWrite: false }) });
    expect(run.code).toBe(1);
    expect(run.out).toContain('FAIL runtime-token: the runner gives this job no ID token');
    expect(run.out).toContain('fix: add `permissions: id-token: write` to the job');
    expect(renderFindings([]).at(-1)).toBe('no blocking findings');
  });
});
