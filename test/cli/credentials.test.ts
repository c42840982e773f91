// `keyless credentials` as a job's operator runs it (the real CLI, --spec, against the emulator),
// and the configuration it prints loaded unchanged by Google's own libraries: Node's
// google-auth-library and Python's google-auth, through GOOGLE_APPLICATION_CREDENTIALS, with a url
// source (a GitHub-style runner registered in the emulator) and a file source, reaching Vertex as
// the pipeline's account (Monitoring counts the calls under its uniqueId). The pool, providers and
// bindings are made by keyless's own identity activities from each spec's plan.

import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GoogleGenAI } from '@google/genai';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEMO_PROJECT, DEMO_PROJECT_NUMBER } from '../../emulator';
import { rejection } from '../emulator/core-harness';
import { ACCOUNTS, GITLAB_PROJECT, REPOSITORY, email, keyless, startFederationEstate, vertexCallsOf, type FederationEstate } from '../support/federation';

const run = promisify(execFile);
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const PROVIDER = `projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools/keyless/providers/nightly-summarizer`;
const GITLAB_PROVIDER = `projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools/keyless/providers/ticket-triage`;
const ACCOUNT = email(ACCOUNTS.github.accountId);

let estate: FederationEstate;

beforeAll(async () => {
  estate = await startFederationEstate([
    { spec: 'github', bind: true },
    { spec: 'gitlab', bind: true },
  ]);
});
afterEach(() => {
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
});
afterAll(async () => {
  await estate?.stop();
});

/** The variables a GitHub Actions job of `repository` sees, from a runner registered in the emulator. */
function githubJob(job: { repository: string; repositoryId: string; repositoryOwnerId: string; ref?: string } = REPOSITORY): Record<string, string> {
  const runner = estate.cloud.emulator.registerGithubRunner(job);
  return { ACTIONS_ID_TOKEN_REQUEST_URL: runner.ACTIONS_ID_TOKEN_REQUEST_URL!, ACTIONS_ID_TOKEN_REQUEST_TOKEN: runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN! };
}

/** `keyless credentials` for a spec; fails the test unless it succeeded. */
async function credentials(spec: keyof typeof estate.specPaths, extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const pipeline = estate.parsed(spec).pipeline;
  const result = await keyless(['credentials', pipeline, '--spec', estate.specPaths[spec], ...extra], { ...estate.orchestratorEnv, ...env });
  expect(result.code, result.err).toBe(0);
  return result.out;
}

async function printedConfiguration(name: string, spec: keyof typeof estate.specPaths, extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const file = join(estate.dir, `${name}.json`);
  await writeFile(file, await credentials(spec, extra, env));
  return file;
}

describe('given a GitHub Actions pipeline, keyless credentials --spec', () => {
  it('prints an external_account configuration whose url source is the runner\'s, asking for the provider\'s audience', async () => {
    const job = githubJob();
    const config = JSON.parse(await credentials('github', [], job));
    const base = estate.cloud.emulator.baseUrl;
    expect(config).toEqual({
      type: 'external_account',
      audience: `//iam.googleapis.com/${PROVIDER}`,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${base}/v1/token`,
      service_account_impersonation_url: `${base}/v1/projects/-/serviceAccounts/${ACCOUNT}:generateAccessToken`,
      credential_source: {
        url: `${job.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${encodeURIComponent(`https://iam.googleapis.com/${PROVIDER}`)}`,
        headers: { Authorization: `bearer ${job.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
        format: { type: 'json', subject_token_field_name: 'value' },
      },
    });
  });

  it('when google-auth-library loads the printed url configuration through ADC, then @google/genai reaches Vertex as the pipeline account', async () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = await printedConfiguration('node-url', 'github', [], githubJob());
    const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
    expect((await auth.getClient()).constructor.name).toBe('IdentityPoolClient');
    expect((await auth.getCredentials()).client_email).toBe(ACCOUNT);
    const before = (await vertexCallsOf(estate, ACCOUNTS.github.uniqueId))['200'] ?? 0;
    const genai = new GoogleGenAI({ vertexai: true, project: DEMO_PROJECT, location: 'us-central1', httpOptions: { baseUrl: estate.cloud.emulator.baseUrl } });
    const response = await genai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Summarize last night in one line.' });
    expect(response.text?.length).toBeGreaterThan(0);
    expect((await vertexCallsOf(estate, ACCOUNTS.github.uniqueId))['200']).toBe(before + 1);
  });

  it('when google-auth-library loads a printed file configuration, then an authorized request reaches Vertex as the account', async () => {
    const tokenFile = join(estate.dir, 'github-token.jwt');
    await writeFile(tokenFile, (await estate.cloud.emulator.mintGithubToken(REPOSITORY, { audience: `https://iam.googleapis.com/${PROVIDER}` })).token);
    const path = await printedConfiguration('node-file', 'github', ['--source', `file:${tokenFile}`]);
    expect(JSON.parse(await readFile(path, 'utf8')).credential_source).toEqual({ file: tokenFile });
    process.env.GOOGLE_APPLICATION_CREDENTIALS = path;
    const before = (await vertexCallsOf(estate, ACCOUNTS.github.uniqueId))['200'] ?? 0;
    const client = await new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getClient();
    const res = await client.request<{ candidates: unknown[] }>({
      url: `${estate.cloud.emulator.baseUrl}/v1/projects/${DEMO_PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`,
      method: 'POST',
      data: { contents: [{ role: 'user', parts: [{ text: 'hello' }] }] },
    });
    expect(res.status).toBe(200);
    expect((await vertexCallsOf(estate, ACCOUNTS.github.uniqueId))['200']).toBe(before + 1);
  });

  it('when the job is of another repository id, then STS refuses its token with Google\'s error', async () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = await printedConfiguration('node-other', 'github', [], githubJob({ ...REPOSITORY, repositoryId: '812345679' }));
    const err = await rejection(new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getAccessToken());
    expect(String(err.message)).toContain('unauthorized_client');
    expect(String(err.message)).toContain('The given credential is rejected by the attribute condition.');
  });

  it('writes --output owner-readable only (the url source holds the job\'s request token) and prints the line for $GITHUB_ENV', async () => {
    const path = join(estate.dir, 'out', 'keyless.json');
    const out = await credentials('github', ['--output', path], githubJob());
    expect(out.trim()).toBe(`GOOGLE_APPLICATION_CREDENTIALS=${path}`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8')).type).toBe('external_account');
  });

  it('prints a GitHub Actions job: id-token permission, google-github-actions/auth with the provider and the account, and keyless exec as the alternative', async () => {
    const text = await credentials('github', ['--format', 'github-actions', '--command', 'python nightly.py']);
    const job = parse(text).jobs['nightly-summarizer'];
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(job.if).toBe("github.ref == 'refs/heads/main'");
    expect(job.steps[1]).toEqual({ id: 'auth', uses: 'google-github-actions/auth@v2', with: { workload_identity_provider: PROVIDER, service_account: ACCOUNT } });
    expect(job.steps[2]).toMatchObject({ name: 'nightly-summarizer', run: 'python nightly.py' });
    expect(text).toContain('# run: keyless exec --pipeline nightly-summarizer --store file://.keyless/routes --project demo-project -- python nightly.py');
    expect(text).toContain('#   KEYLESS_CREDENTIAL_CONFIG: ${{ steps.auth.outputs.credentials_file_path }}');
  });
});

describe('given a GitLab CI pipeline, keyless credentials --format gitlab-ci', () => {
  it('prints a job whose id_tokens ask for the provider and whose before_script writes the token and the configuration; run as GitLab would, google-auth-library reaches Vertex with it', async () => {
    const tokenFile = join(estate.dir, 'gitlab', 'id-token.jwt');
    const text = await credentials('gitlab', ['--format', 'gitlab-ci', '--source', `file:${tokenFile}`]);
    const job = parse(text)['ticket-triage'];
    expect(job.id_tokens).toEqual({ KEYLESS_ID_TOKEN: { aud: `https://iam.googleapis.com/${GITLAB_PROVIDER}` } });
    expect(job.variables.GOOGLE_APPLICATION_CREDENTIALS).toBe(join(estate.dir, 'gitlab', 'credentials.json'));
    expect(job.rules).toEqual([{ if: '$CI_COMMIT_REF_NAME == "main"' }]);
    // What the runner does: the id_tokens variable set, before_script run by a shell.
    const { token } = await estate.cloud.emulator.mintGitlabToken({ ...GITLAB_PROJECT, ref: 'main' }, { audience: `https://iam.googleapis.com/${GITLAB_PROVIDER}` });
    await run('sh', ['-c', (job.before_script as string[]).join('\n')], { env: { PATH: process.env.PATH ?? '', KEYLESS_ID_TOKEN: token, GOOGLE_APPLICATION_CREDENTIALS: job.variables.GOOGLE_APPLICATION_CREDENTIALS } });
    const config = JSON.parse(await readFile(job.variables.GOOGLE_APPLICATION_CREDENTIALS, 'utf8'));
    expect(config.credential_source).toEqual({ file: tokenFile });
    process.env.GOOGLE_APPLICATION_CREDENTIALS = job.variables.GOOGLE_APPLICATION_CREDENTIALS;
    const genai = new GoogleGenAI({ vertexai: true, project: DEMO_PROJECT, location: 'us-central1', httpOptions: { baseUrl: estate.cloud.emulator.baseUrl } });
    expect((await genai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Label: I was charged twice.' })).text?.length).toBeGreaterThan(0);
    expect((await vertexCallsOf(estate, ACCOUNTS.gitlab.uniqueId))['200']).toBe(1);
  });
});

describe("Python's google-auth with the configurations keyless credentials printed", () => {
  it('loads the url and file sources and reaches Vertex as the account; a job of another repository id is refused by STS', async () => {
    await run('bash', ['scripts/python-clients.sh', '--quiet'], { cwd: process.cwd(), timeout: 300_000 });
    const tokenFile = join(estate.dir, 'python-token.jwt');
    await writeFile(tokenFile, (await estate.cloud.emulator.mintGithubToken(REPOSITORY, { audience: `https://iam.googleapis.com/${PROVIDER}` })).token);
    const before = (await vertexCallsOf(estate, ACCOUNTS.github.uniqueId))['200'] ?? 0;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: estate.dir,
      PYTHONPATH: join(process.cwd(), '.tools/python'),
      PYTHONDONTWRITEBYTECODE: '1',
      KEYLESS_EMULATOR: estate.cloud.emulator.baseUrl,
      PROJECT: DEMO_PROJECT,
      GOOGLE_CLOUD_PROJECT: DEMO_PROJECT,
      NO_PROXY: '127.0.0.1',
      URL_CONFIG: await printedConfiguration('python-url', 'github', [], githubJob()),
      FILE_CONFIG: await printedConfiguration('python-file', 'github', ['--source', `file:${tokenFile}`]),
      OTHER_REPO_CONFIG: await printedConfiguration('python-other', 'github', [], githubJob({ ...REPOSITORY, repositoryId: '812345679' })),
    };
    const { stdout } = await run('python3', ['test/emulator/python/check_workload_identity.py'], { cwd: process.cwd(), env, timeout: 120_000 });
    const results = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(results.urlSource).toMatchObject({ credentials: 'google.auth.identity_pool.Credentials', serviceAccount: ACCOUNT, tokenPrefix: 'ya29.c.' });
    expect(results.urlSource.text.length).toBeGreaterThan(0);
    expect(results.fileSource).toEqual({ status: 200, candidates: 1 });
    expect(results.otherRepository.error).toBe('OAuthError');
    expect(results.otherRepository.message).toContain('The given credential is rejected by the attribute condition.');
    expect(results.blockedHosts).toEqual([]);
    expect((await vertexCallsOf(estate, ACCOUNTS.github.uniqueId))['200']).toBe(before + 2);
  }, 420_000);
});

describe('keyless credentials refuses bad input, naming the flag or variable and the fix', () => {
  const refused = async (args: string[], env: Record<string, string> = {}) => {
    const result = await keyless(args, { ...estate.orchestratorEnv, ...env });
    expect(result.code).not.toBe(0);
    expect(result.out).toBe('');
    return result.err;
  };

  it('a google runtime: its job already runs as its account', async () => {
    const err = await refused(['credentials', 'cloud-run-job', '--spec', estate.specPaths.google]);
    expect(err).toContain('runs on Google Cloud (runtime google): its job already runs as nightly-runner@demo-project.iam.gserviceaccount.com');
    expect(err).toContain('next: leave GOOGLE_APPLICATION_CREDENTIALS unset in the job, and check it from inside with keyless doctor');
  });

  it('an external runtime: set runtime in the spec, or arrange the credentials and check them with doctor', async () => {
    const err = await refused(['credentials', 'plain-job', '--spec', estate.specPaths.external]);
    expect(err).toContain('has runtime external');
    expect(err).toContain('set runtime in the spec (kind github-actions, gitlab-ci or oidc)');
  });

  it('--source github-runner outside a job that may ask for a token names ACTIONS_ID_TOKEN_REQUEST_URL and id-token: write', async () => {
    const err = await refused(['credentials', 'nightly-summarizer', '--spec', estate.specPaths.github]);
    expect(err).toContain('ACTIONS_ID_TOKEN_REQUEST_URL is not set');
    expect(err).toContain('`permissions: id-token: write`');
    const noToken = await refused(['credentials', 'nightly-summarizer', '--spec', estate.specPaths.github], { ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/x' });
    expect(noToken).toContain('ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set');
  });

  it('a bad --source or --format, and a format that does not fit the runtime', async () => {
    expect(await refused(['credentials', 'nightly-summarizer', '--spec', estate.specPaths.github, '--source', 'env:TOKEN'])).toContain('--source must be github-runner or file:<path>');
    expect(await refused(['credentials', 'nightly-summarizer', '--spec', estate.specPaths.github, '--format', 'yaml'])).toContain('--format must be one of: json, github-actions, gitlab-ci');
    const mismatch = await refused(['credentials', 'ticket-triage', '--spec', estate.specPaths.gitlab, '--format', 'github-actions']);
    expect(mismatch).toContain('--format github-actions does not fit pipeline ticket-triage: its runtime is gitlab-ci');
    expect(mismatch).toContain('next: use --format gitlab-ci or json');
    expect(await refused(['credentials', 'ticket-triage', '--spec', estate.specPaths.gitlab, '--source', 'github-runner'])).toContain('--source github-runner is for GitHub Actions jobs');
  });

  it('a spec of another pipeline', async () => {
    expect(await refused(['credentials', 'ticket-triage', '--spec', estate.specPaths.github])).toContain('the spec is for pipeline nightly-summarizer, not ticket-triage');
  });
});
