// `keyless approve` on the embedded default with no extra flags, as a person runs it: `keyless dev`
// in one shell, `keyless migrate` and `keyless approve` in another (no KEYLESS_EMULATOR, no
// credentials of their own; TEMPORAL_ADDRESS only because this test's dev stack is not on 7233). approve finds the dev stack, gets the demo operator's ID token from
// the emulator (a user's refresh answer, as `gcloud auth application-default login` gives one),
// and the worker verifies it; the spec names that operator as its only approver.

import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationStatus } from '../../contracts/status';
import { spawnService, waitForOutput, type ChildService } from '../support/processes';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/keyless', import.meta.url));
const port = 17_000 + Math.floor(Math.random() * 1_000);
let dir: string;
let dev: ChildService;

/**
 * A shell's environment without anything pointing at a cloud or a server (and without the suite's
 * METADATA_SERVER_DETECTION=none: keyless dev's worker reaches the emulator's metadata server).
 */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ['KEYLESS_EMULATOR', 'GCE_METADATA_HOST', 'GOOGLE_APPLICATION_CREDENTIALS', 'TEMPORAL_ADDRESS', 'KEYLESS_APPROVAL_AUDIENCE', 'METADATA_SERVER_DETECTION']) if (!(name in extra)) delete env[name];
  return env;
}

async function keyless(args: string[], extra: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(bin, args, { cwd: dir, env: shellEnv(extra), timeout: 120_000 });
  return stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyless-embedded-approve-'));
  dev = spawnService('keyless dev', bin, ['dev', '--port', String(port), '--ui-port', String(port + 1000), '--emulator-port', String(port + 2000)], { cwd: dir, env: shellEnv(), logFile: join(dir, 'dev.log') });
  await waitForOutput(dev, (out) => out.includes('Ctrl-C stops everything'), 'the dev stack', 180_000);
}, 240_000);

afterAll(async () => {
  await dev?.stop('SIGINT');
});

describe('given keyless dev running and a spec whose only approver is the demo operator', () => {
  it('when `keyless approve <pipeline> --stage cutover` runs in another shell, then the cutover is approved, verified, as operator@example.com', { timeout: 300_000 }, async () => {
    const spec = join(dir, 'nightly.yaml');
    await writeFile(
      spec,
      [
        'pipeline: nightly-summarizer',
        'project: demo-project',
        'apiKey: projects/demo-project/locations/global/keys/nightly-summarizer',
        'serviceAccount: { accountId: nightly-summarizer }',
        'vertex: { models: [gemini-2.5-flash] }',
        'canary: { steps: [{ percent: 100, bake: 1h }], analysisInterval: 1h }',
        `route: { store: "file://${join(dir, 'routes')}" }`,
        'approvals: { approvers: [operator@example.com], finalize: false }',
        '',
      ].join('\n'),
    );
    const temporal = { TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
    await keyless(['migrate', spec], temporal);
    let status: MigrationStatus | undefined;
    for (let i = 0; i < 120 && status?.wait?.kind !== 'approval'; i++) {
      status = JSON.parse(await keyless(['status', 'nightly-summarizer', '--project', 'demo-project', '--json'], temporal).catch(() => '{}')) as MigrationStatus;
      if (status.wait?.kind !== 'approval') await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(status?.approvals).toEqual({ verify: 'google-id-token', approvers: ['operator@example.com'] });

    // The payload for the Temporal UI's dialog: the stage and a token, no typed name.
    const payload = JSON.parse(await keyless(['approve', 'nightly-summarizer', '--stage', 'cutover', '--print-payload'], temporal)) as Record<string, string>;
    expect(Object.keys(payload).sort()).toEqual(['idToken', 'stage']);

    const out = await keyless(['approve', 'nightly-summarizer', '--stage', 'cutover', '--project', 'demo-project'], temporal);
    expect(out).toMatch(/^cutover approved by operator@example.com \(verified by Google ID token\) at /m);
    const after = JSON.parse(await keyless(['status', 'nightly-summarizer', '--project', 'demo-project', '--json'], temporal)) as MigrationStatus;
    expect(after.decisions[0]).toMatchObject({ action: 'approve', stage: 'cutover', by: 'operator@example.com', verified: true });
    await keyless(['rollback', 'nightly-summarizer', '--project', 'demo-project', '--reason', 'test over'], temporal);
  });
});
