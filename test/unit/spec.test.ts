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
