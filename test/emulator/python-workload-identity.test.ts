// Python's google-auth (pinned in scripts/python-clients.sh) loads the same external_account
// configurations a CI job gets, through GOOGLE_APPLICATION_CREDENTIALS, and reaches Vertex as the
// pipeline's account; a job of another repository is refused by STS. No host but the emulator's
// may even be resolved (check_workload_identity.py refuses and reports any other).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../emulator/index';
import { githubActionsConfig, githubAudience, PROJECT, REPOSITORY, RUNNER_SA, RUNNER_UNIQUE_ID, startWifEmulator, vertexCallsOf } from './wif-harness';

const run = promisify(execFile);

let emu: RunningEmulator;
let dir: string;
/** What check_workload_identity.py printed. */
let results: Record<string, any>;

beforeAll(async () => {
  await run('bash', ['scripts/python-clients.sh', '--quiet'], { cwd: process.cwd(), timeout: 300_000 });
  emu = await startWifEmulator();
  dir = await mkdtemp(join(tmpdir(), 'keyless-wif-python-'));
  const write = async (name: string, value: unknown) => {
    const file = join(dir, name);
    await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    return file;
  };
  const urlConfig = githubActionsConfig(emu, emu.registerGithubRunner(REPOSITORY), RUNNER_SA);
  const tokenFile = await write('github-token.jwt', (await emu.mintGithubToken(REPOSITORY, { audience: githubAudience() })).token);
  const { credential_source: _url, ...base } = urlConfig;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    PYTHONPATH: join(process.cwd(), '.tools/python'),
    PYTHONDONTWRITEBYTECODE: '1',
    KEYLESS_EMULATOR: emu.baseUrl,
    PROJECT,
    // What a job sets so ADC does not ask Resource Manager for the project.
    GOOGLE_CLOUD_PROJECT: PROJECT,
    NO_PROXY: '127.0.0.1',
    URL_CONFIG: await write('url.json', urlConfig),
    FILE_CONFIG: await write('file.json', { ...base, credential_source: { file: tokenFile } }),
    OTHER_REPO_CONFIG: await write('other.json', githubActionsConfig(emu, emu.registerGithubRunner({ ...REPOSITORY, repositoryId: '75' }), RUNNER_SA)),
  };
  const { stdout } = await run('python3', ['test/emulator/python/check_workload_identity.py'], { cwd: process.cwd(), env, timeout: 120_000 });
  results = JSON.parse(stdout.trim().split('\n').pop()!);
}, 360_000);

afterAll(async () => {
  await emu?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("Python's google-auth with an external_account configuration", () => {
  it('loads a GitHub-style url source as identity_pool credentials impersonating the account, and google-genai reaches Vertex with them', () => {
    expect(results.urlSource).toEqual({
      credentials: 'google.auth.identity_pool.Credentials',
      project: PROJECT,
      serviceAccount: RUNNER_SA,
      tokenPrefix: 'ya29.c.',
      text: expect.any(String),
    });
    expect(results.urlSource.text.length).toBeGreaterThan(0);
  });

  it('loads a file source and reaches Vertex through an AuthorizedSession', () => {
    expect(results.fileSource).toEqual({ status: 200, candidates: 1 });
  });

  it('gets Google’s STS refusal for a job of another repository id', () => {
    // google-auth raises OAuthError for an OAuth error response (STS's included).
    expect(results.otherRepository.error).toBe('OAuthError');
    expect(results.otherRepository.message).toContain('unauthorized_client');
    expect(results.otherRepository.message).toContain('The given credential is rejected by the attribute condition.');
  });

  it('resolved no host but the emulator’s, and Monitoring counts both Vertex calls under the account', async () => {
    expect(results.blockedHosts).toEqual([]);
    expect(await vertexCallsOf(emu, RUNNER_UNIQUE_ID)).toEqual({ '200': 2 });
  });
});
