// `keyless credentials <pipeline>` read from a migration, on the time-skipping bench with the real
// activities: while it runs (its status carries what the identity stage set up), once it finished
// (its result), refused once it rolled back or when there is none. The command's own run() is
// called with a Temporal client on the bench's server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../client/command';
import { credentials } from '../../client/commands/credentials';
import { UserError } from '../../client/errors';
import { rejectUpdate, statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { waitsForApproval } from '../../contracts/waits';
import { DEMO_PROJECT_NUMBER } from '../../emulator';
import { approveBoth, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';

const REPOSITORY = { repository: 'acme/cred-jobs', repositoryId: '912345678', repositoryOwnerId: '4343' };
const POOL = `projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools`;

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['cred-running', 'cred-done']);
});
afterAll(async () => {
  await bench?.stop();
});

/** Runs `keyless credentials` in this process against the bench's Temporal and emulator; answers what it printed. */
async function keylessCredentials(args: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const printed: string[] = [];
  const io: CliIo = {
    print: (line) => void printed.push(line),
    json: (value) => void printed.push(JSON.stringify(value)),
    env: { KEYLESS_EMULATOR: bench.cloud.emulator.baseUrl, ...env },
    isTerminal: false,
    google: () => bench.cloud.clients,
    withTemporal: (fn) => fn({ client: bench.env.client, connection: bench.env.connection, config: {} as never }),
  };
  const [pipeline, ...rest] = args;
  const values: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) values[rest[i]!.replace(/^--/, '')] = rest[i + 1]!;
  await credentials.run({ positionals: [pipeline!], values }, io);
  return printed.join('\n');
}

async function refusal(args: string[]): Promise<UserError> {
  const err = await keylessCredentials(args).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

function runnerEnv(): Record<string, string> {
  const runner = bench.cloud.emulator.registerGithubRunner(REPOSITORY);
  return { ACTIONS_ID_TOKEN_REQUEST_URL: runner.ACTIONS_ID_TOKEN_REQUEST_URL!, ACTIONS_ID_TOKEN_REQUEST_TOKEN: runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN! };
}

describe('given a GitHub Actions pipeline being migrated', () => {
  it('when it waits for the cutover, then keyless credentials prints the provider and account its status names; once rolled back, it refuses and says to re-run', async () => {
    const spec = bench.spec('cred-running', { runtime: { kind: 'github-actions', ...REPOSITORY, pool: 'keyless-cred' } });
    await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const status = await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      expect(status.workloadIdentity?.provider).toBe(`${POOL}/keyless-cred/providers/cred-running`);
      const config = JSON.parse(await keylessCredentials(['cred-running', '--project', 'demo-project'], runnerEnv()));
      expect(config.audience).toBe(`//iam.googleapis.com/${POOL}/keyless-cred/providers/cred-running`);
      expect(config.service_account_impersonation_url).toBe(`${bench.cloud.emulator.baseUrl}/v1/projects/-/serviceAccounts/cred-running-sa@demo-project.iam.gserviceaccount.com:generateAccessToken`);
      const snippet = await keylessCredentials(['cred-running', '--project', 'demo-project', '--format', 'github-actions']);
      expect(snippet).toContain(`workload_identity_provider: ${POOL}/keyless-cred/providers/cred-running`);
      expect(snippet).not.toContain('Computed from the spec');

      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
      expect(((await handle.result()) as MigrationResult).outcome).toBe('rolled-back');
    });
    const err = await refusal(['cred-running', '--project', 'demo-project']);
    expect(err.message).toContain('the migration of cred-running in demo-project was rolled back');
    expect(err.hint).toContain('run the migration again');
  });

  it('when it completed, then keyless credentials reads its result', async () => {
    const spec = bench.spec('cred-done', { runtime: { kind: 'github-actions', ...REPOSITORY, ref: 'refs/heads/main' } });
    await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await approveBoth(bench, handle);
      expect(((await handle.result()) as MigrationResult).outcome).toBe('completed');
    });
    const snippet = await keylessCredentials(['cred-done', '--project', 'demo-project', '--format', 'github-actions']);
    expect(snippet).toContain(`workload_identity_provider: ${POOL}/keyless/providers/cred-done`);
    expect(snippet).toContain('service_account: cred-done-sa@demo-project.iam.gserviceaccount.com');
    expect(snippet).toContain("if: github.ref == 'refs/heads/main'");
  });

  it('when there is no such migration, then it says so and how to compute the configuration from the spec', async () => {
    const err = await refusal(['never-migrated', '--project', 'demo-project']);
    expect(err.message).toBe('no migration found for pipeline never-migrated in demo-project');
    expect(err.hint).toContain('keyless credentials never-migrated --spec <file>');
  });
});
