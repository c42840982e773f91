// `keyless report`: the dual-run and canary reports of real migrations (time-skipping Temporal,
// the real activities, the emulator), as Markdown and as a self-contained HTML page.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, reportFor } from '../../client/commands/report';
import { statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
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
    expect(markdown).toMatch(/^\| step \| percent \| at \| key requests \| key error rate \| Vertex requests \| Vertex error rate \| delta \| verdict \|$/m);
    const canaryRows = markdown.split('\n').filter((line) => /^\| \d+ \| (10|50|100) % \|/.test(line));
    expect(canaryRows).toHaveLength(result.canary.length);
    expect(canaryRows.map((row) => row.split('|')[2]!.trim())).toEqual(result.canary.map((a) => `${a.percent} %`));

    const html = renderReport(fetched, 'html');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    const charts = html.match(/<svg [^>]*aria-label="([^"]+)"/g) ?? [];
    expect(charts).toHaveLength(2);
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
      expect(html.match(/<svg /g)).toHaveLength(2);
      expect(html).not.toContain(await keyStringOf('rp-running'));
    });
  });
});
