// `keyless report`: the dual-run and canary reports of real migrations (time-skipping Temporal,
// the real activities, the emulator), as Markdown and as a self-contained HTML page.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, reportFor } from '../../client/commands/report';
import { statusQuery } from '../../contracts/messages';
import type { CanaryAnalysis, MigrationResult } from '../../contracts/status';
import { startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';
import { waitsForApproval } from '../../contracts/waits';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['rp-done', 'rp-running']);
});

afterAll(async () => {
  await bench?.stop();
});

async function keyStringOf(keyId: string): Promise<string> {
  const [{ keyString }] = await bench.cloud.clients.apiKeys.getKeyString({ name: `projects/demo-project/locations/global/keys/${keyId}` });
  return keyString!;
}

describe('keyless report', () => {
  it('given steps that moved on for each reason, says per step why, and each analysis\'s baseline, classes, latency and verdict', () => {
    const analysis = (step: number, extra: Partial<CanaryAnalysis>): CanaryAnalysis => ({
      step,
      percent: step === 1 ? 10 : 100,
      at: `2026-11-2${step}T00:00:00.000Z`,
      phase: 'bake',
      key: { requests: 90, errors: 0, errorRate: 0 },
      vertex: { requests: 10, errors: 0, errorRate: 0 },
      delta: 0,
      baseline: { source: 'key-this-step', errorRate: 0, requests: 90 },
      verdict: 'healthy',
      classes: { key: { ok: 90, identity: 0, quota: 0, server: 0, notFound: 0, other: 0 }, vertex: { ok: 9, identity: 0, quota: 1, server: 0, notFound: 0, other: 0 } },
      latency: { vertex: { count: 9, p50Ms: 724, p95Ms: 1024 }, baseline: { count: 90, p50Ms: 512, p95Ms: 724, source: 'key-this-step' }, ratio: 1.4, maxRatio: 2, z: -2.1, verdict: 'healthy' },
      minRequests: 10,
      historyLength: 100 + step * 11,
      ...extra,
    });
    const source = {
      outcome: 'rolled-back',
      pipeline: 'rp-synthetic',
      project: 'demo-project',
      finalStage: 'rolled-back',
      repair: false,
      mutations: [],
      decisions: [],
      canary: [analysis(1, {}), analysis(2, { phase: 'approve-finalize', verdict: 'breach', breach: 'latency', latency: { vertex: { count: 20, p50Ms: 2896, p95Ms: 4096 }, baseline: { count: 90, p50Ms: 512, p95Ms: 724, source: 'key-whole-canary' }, ratio: 5.7, maxRatio: 2, z: 6.2, verdict: 'breach' } })],
      canarySteps: [
        { step: 1, percent: 10, startedAt: 't0', endedAt: 't1', advancedBy: 'evidence', vertexRequests: 10, minRequests: 10, bakedMs: 1_800_000, verdict: 'healthy' },
        { step: 2, percent: 100, startedAt: 't1', endedAt: 't2', advancedBy: 'promote', by: 'lead@example.com', vertexRequests: 3, minRequests: 10, bakedMs: 14_400_000, verdict: 'too-few-requests', evidenceWaitSince: 't1b' },
      ],
      canaryAnalysesOmitted: 7,
      rollback: { reason: 'while waiting for approve(stage: finalize): Vertex latency 5.7× the key\'s', failureType: 'CanaryBreach', at: 't3' },
    } as MigrationResult;
    const markdown = renderReport(source, 'markdown');
    expect(markdown).toContain('| 1 | 10 % | t0 | t1 | 30m | 10 | 10 | healthy | on its evidence |');
    expect(markdown).toContain('| 2 | 100 % | t1 | t2 | 4h | 3 | 10 | too-few-requests | promote by lead@example.com, accepting 3 of 10 requests |');
    expect(markdown).toContain('| 1 | 10 % | bake | 2026-11-21T00:00:00.000Z | key-this-step (90) | 90 | 0.0 % | 10 | 0.0 % | 0.0 pt | 1 / 0 | 724 / 512 ms | 1.4× (z -2.1) | healthy | 111 |');
    expect(markdown).toContain('| approve-finalize | 2026-11-22T00:00:00.000Z | key-this-step (90) |');
    expect(markdown).toContain('| 2896 / 512 ms | 5.7× (z 6.2) | **breach (latency)** | 122 |');
    expect(markdown).toMatch(/^7 routine analyses of long waits are left out/m);
  });

  it('given a completed migration with short bakes, reports the dual-run summary, a canary table and one SVG chart per series', async () => {
    const spec = bench.spec('rp-done', {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 10, bake: '2m' }, { percent: 50, bake: '2m' }, { percent: 100, bake: '2m' }], analysisInterval: '1m' },
      soak: { duration: '2m' },
    });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    expect(result.canary.length).toBeGreaterThanOrEqual(3);

    // The CLI's path: the finished migration's result, found by pipeline and project.
    const fetched = await reportFor(bench.env.client, { pipeline: 'rp-done', project: 'demo-project' });
    expect(fetched).toEqual(result);

    const markdown = renderReport(fetched, 'markdown');
    expect(markdown).toMatch(/^# Migration report: rp-done \(demo-project\)/);
    expect(markdown).toMatch(/Outcome: \*\*completed\*\*/);
    expect(markdown).toMatch(/^## Dual-run report \(compare\)$/m);
    expect(markdown).toMatch(/^Dual-run passed: \d+ samples/m);
    expect(markdown).toMatch(/^\| step \| percent \| phase \| at \| baseline \| key requests \| key error rate \| Vertex requests \| Vertex error rate \| delta \| Vertex 429 \/ 401-403 \| latency p50 Vertex \/ baseline \| latency ratio \(z\) \| verdict \| history events \|$/m);
    const canaryRows = markdown.split('\n').filter((line) => /^\| \d+ \| (10|50|100) % \| bake \|/.test(line));
    expect(canaryRows).toHaveLength(result.canary.length);
    expect(canaryRows.map((row) => row.split('|')[2]!.trim())).toEqual(result.canary.map((a) => `${a.percent} %`));
    // Each step, why it moved on: this spec asks for no evidence (the test sends no traffic).
    expect(markdown).toMatch(/^## Canary steps$/m);
    expect(markdown.split('\n').filter((line) => /^\| [123] \| (10|50|100) % \| .* \| on its bake alone \(minRequests 0\) \|$/.test(line))).toHaveLength(3);
    expect(markdown).toMatch(/^History: \d+–\d+ events per analysis/m);

    const html = renderReport(fetched, 'html');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    const charts = html.match(/<svg [^>]*aria-label="([^"]+)"/g) ?? [];
    expect(charts).toHaveLength(3);
    expect(html).toMatch(/<svg [^>]*aria-label="Canary latency \(p50\) per analysis"/);
    expect(html).toMatch(/<svg [^>]*aria-label="Dual-run latency per sample"/);
    expect(html).toMatch(/<svg [^>]*aria-label="Canary error rate per analysis"/);
    // One dot per canary analysis on each of the two error-rate lines.
    const errorChart = html.slice(html.indexOf('aria-label="Canary error rate per analysis"'));
    expect((errorChart.slice(0, errorChart.indexOf('</svg>')).match(/<circle /g) ?? []).length).toBe(2 * result.canary.length);
    expect(html).toMatch(/<h2>Canary analyses<\/h2>/);
    // Self-contained: nothing fetched from elsewhere.
    expect(html).not.toMatch(/<(script|link|img)\b|src=|href=/i);

    const keyString = await keyStringOf('rp-done');
    expect(html).not.toContain(keyString);
    expect(markdown).not.toContain(keyString);
  });

  it('given a migration waiting for the cutover, reports its live status', async () => {
    const spec = bench.spec('rp-running');
    await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      const source = await reportFor(bench.env.client, { pipeline: 'rp-running', project: 'demo-project' });
      expect('outcome' in source).toBe(false);
      const markdown = renderReport(source, 'markdown');
      expect(markdown).toMatch(/^Running, stage \*\*approve-cutover\*\*, 0% on Vertex\. Next: .*approve/m);
      expect(markdown).toMatch(/\| account-created \| rp-running-sa@demo-project\.iam\.gserviceaccount\.com \|/);
      expect(markdown).toMatch(/No canary analysis yet\./);
      const html = renderReport(source, 'html');
      expect(html.match(/<svg /g)).toHaveLength(3);
      expect(html).not.toContain(await keyStringOf('rp-running'));
    });
  });
});
