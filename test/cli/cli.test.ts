// The keyless command as a user runs it: help, unknown commands, bad flags and exit codes.

import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEMO_ORCHESTRATOR, startEmulator } from '../../emulator';

const bin = fileURLToPath(new URL('../../bin/keyless', import.meta.url));

function keyless(...args: string[]) {
  const run = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' }, timeout: 60_000 });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('keyless command line', () => {
  it('lists its commands on --help', () => {
    const run = keyless('--help');
    expect(run.code).toBe(0);
    for (const command of ['demo', 'dev', 'worker', 'migrate', 'approve', 'status', 'schema']) expect(run.out).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('shows usage and an example for each command', () => {
    const run = keyless('approve', '--help');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/Usage: keyless approve <pipeline> --stage/);
    expect(run.out).toMatch(/Example: /);
  });

  it('refuses an unknown command with exit code 2', () => {
    const run = keyless('migarte');
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/unknown command "migarte"/);
  });

  it('refuses an unknown flag with exit code 2 and the usage', () => {
    const run = keyless('status', 'nightly', '--frobnicate');
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/Unknown option '--frobnicate'/);
    expect(run.err).toMatch(/Usage: keyless status/);
  });

  it('refuses a bad TEMPORAL_TLS value naming the variable, with exit code 3', () => {
    const run = spawnSync(bin, ['worker'], { encoding: 'utf8', env: { ...process.env, TEMPORAL_TLS: 'maybe' }, timeout: 60_000 });
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/TEMPORAL_TLS must be true or false/);
    expect(run.stderr).not.toMatch(/    at /);
  });

  it('reports an unreachable Temporal server with exit code 4 and what to do', () => {
    const run = keyless('status', 'nightly-summarizer', '--project', 'demo-project');
    expect(run.code).toBe(4);
    expect(run.err).toMatch(/cannot reach Temporal at 127.0.0.1:1/);
    expect(run.err).toMatch(/keyless dev/);
  });

  it('refuses an invalid spec before contacting Temporal, naming each field', () => {
    const run = keyless('migrate', fileURLToPath(new URL('../fixtures/specs/invalid-percent.yaml', import.meta.url)));
    expect(run.code).toBe(3);
    expect(run.err).toMatch(/canary\.steps\[1\]\.percent: canary step percents must rise strictly/);
  });

  it('audits the demo estate with inventory, through Application Default Credentials on the emulator', async () => {
    const emulator = await startEmulator({ fixture: 'demo' });
    try {
      // The suite turns metadata-server detection off; this process must find the emulator's.
      const { METADATA_SERVER_DETECTION: _off, ...inherited } = process.env;
      const env = { ...inherited, ...(await emulator.envFor(DEMO_ORCHESTRATOR)) };
      const run = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(bin, ['inventory', '--project', 'demo-project', '--json'], { env });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
      expect(run.code, run.err).toBe(0);
      const rows = JSON.parse(run.out) as { keyId: string; blockCandidate: boolean; pipelines: string[] }[];
      expect(rows.find((r) => r.keyId === 'nightly-summarizer')?.blockCandidate).toBe(true);
      expect(rows.find((r) => r.keyId === 'ticket-triage')?.blockCandidate).toBe(false);
      expect(rows.find((r) => r.keyId === 'report-digest')?.pipelines).toEqual(['report-digest', 'legacy-exporter']);
    } finally {
      await emulator.stop();
    }
  });

  it('prints the spec JSON Schema', () => {
    const run = keyless('schema');
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.out);
    expect(schema.required).toEqual(expect.arrayContaining(['pipeline', 'project', 'apiKey', 'vertex']));
    // serviceAccount is required unless the runtime is google (checked by the spec's own validation).
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['serviceAccount', 'runtime']));
    expect(JSON.stringify(schema.properties.runtime)).toContain('github-actions');
  });
});
