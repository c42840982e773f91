// The pipeline spec: defaults, and errors that name the field without echoing secrets.

import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../contracts/spec';

const minimal = {
  pipeline: 'nightly-summarizer',
  project: 'demo-project',
  apiKey: 'projects/demo-project/locations/global/keys/nightly-key',
  serviceAccount: { accountId: 'nightly-summarizer' },
  vertex: { models: ['gemini-2.5-flash'] },
};

function problemPaths(input: unknown): string[] {
  const result = validateSpec(input);
  return result.ok ? [] : result.problems.map((p) => p.path);
}

describe('validateSpec', () => {
  it('fills every default of a minimal spec', () => {
    const result = validateSpec(minimal);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.stopgap).toBe(true);
    expect(result.spec.vertex.location).toBe('global');
    expect(result.spec.canary.steps.map((s) => s.percent)).toEqual([10, 50, 100]);
    expect(result.spec.approvals).toMatchObject({ cutover: true, finalize: true, onDeadline: 'rollback' });
    expect(result.spec.finalize.action).toBe('restrict');
    expect(result.spec.route.store).toBe('file://.keyless/routes');
    expect(result.spec.canary).toMatchObject({ minRequests: 20, maxLatencyRatio: 2, analysisInterval: '5m' });
    expect(result.spec.canary.maxBake).toBeUndefined();
    expect(result.spec.soak).toEqual({ duration: '24h', minVertexRequests: 1 });
  });

  it('takes a step defined by its evidence alone, with its own minRequests and maxBake', () => {
    const result = validateSpec({ ...minimal, canary: { steps: [{ percent: 100, minRequests: 5, maxBake: '3d' }] }, soak: { duration: '48h', minVertexRequests: 2 } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.canary.steps).toEqual([{ percent: 100, minRequests: 5, maxBake: '3d' }]);
  });

  it.each([
    [{ canary: { minRequests: 0, steps: [{ percent: 100 }] } }, 'canary.steps[0].bake', /needs a bake, minRequests above 0, or both/],
    [{ canary: { steps: [{ percent: 100, bake: '2h', maxBake: '1h' }] } }, 'canary.steps[0].maxBake', /maxBake \(1h\) is shorter than the bake of step 1 \(2h\)/],
    [{ canary: { maxBake: '10m' } }, 'canary.maxBake', /shorter than the bake of step 1 \(30m\)/],
    [{ canary: { steps: [{ percent: 100, bake: '1h', minRequests: -1 }] } }, 'canary.steps[0].minRequests', /minRequests must be 0/],
    [{ canary: { minRequests: 2.5 } }, 'canary.minRequests', /./],
    [{ canary: { maxLatencyRatio: 0.5 } }, 'canary.maxLatencyRatio', /how many times slower Vertex may be/],
    [{ canary: { maxBake: 'a day' } }, 'canary.maxBake', /canary.maxBake must be a duration/],
    [{ soak: { minVertexRequests: -1 } }, 'soak.minVertexRequests', /soak.minVertexRequests must be 0/],
  ])('refuses the evidence fields %j at %s, saying how to fix it', (extra, path, message) => {
    const result = validateSpec({ ...minimal, ...extra });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const problem = result.problems.find((p) => p.path === path);
    expect(problem, JSON.stringify(result.problems)).toBeDefined();
    expect(problem!.message).toMatch(message);
  });

  it.each([
    [{ ...minimal, pipeline: 'Nightly' }, 'pipeline'],
    [{ ...minimal, extra: 1 }, '(spec)'],
    [{ ...minimal, serviceAccount: { accountId: 'ab' } }, 'serviceAccount.accountId'],
    [{ ...minimal, canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 40, bake: '1h' }] } }, 'canary.steps[1].percent'],
    [{ ...minimal, canary: { steps: [{ percent: 50, bake: 'an hour' }] } }, 'canary.steps[0].bake'],
    [{ ...minimal, finalize: { action: 'restrict-ip' } }, 'finalize.allowedIps'],
    [{ ...minimal, vertex: { models: [] } }, 'vertex.models'],
  ])('refuses %j at %s', (input, path) => {
    expect(problemPaths(input)).toContain(path);
  });

  it('refuses a pasted key string and never repeats it', () => {
    const keyString = `AIza${'Sy0123456789abcdefghijklmnopqrstuv'}`;
    const result = validateSpec({ ...minimal, apiKey: keyString });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems[0]!.path).toBe('apiKey');
    expect(result.problems[0]!.message).toMatch(/resource name/);
    expect(JSON.stringify(result.problems)).not.toContain(keyString);
  });
});
