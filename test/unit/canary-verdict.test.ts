import { describe, expect, it } from 'vitest';
import { judgeCanary, type CanaryInputs } from '../../workflows/canary-verdict';

const side = (requests: number, errors: number) => ({ requests, errors, errorRate: requests ? errors / requests : 0 });
const base: CanaryInputs = { vertex: side(200, 0), keyThisStep: side(200, 0), keyWholeCanary: side(400, 0), repair: false, minRequests: 20, maxErrorRateDelta: 0.02 };

describe('judgeCanary', () => {
  it('given an outage on both paths at the 100 % step, compares Vertex with the key over the whole canary, not with 0 %', () => {
    const judged = judgeCanary({ ...base, vertex: side(200, 43), keyThisStep: side(0, 0), keyWholeCanary: side(400, 100) });
    expect(judged.baseline).toMatchObject({ source: 'key-whole-canary', errorRate: 0.25, requests: 400 });
    expect(judged.verdict).toBe('healthy');
  });

  it('given equal 25 % error rates on 200 requests a side, does not call sampling noise a breach', () => {
    // 27 % against 25 %: over the 2-point gate, well inside the noise of 200 requests.
    const judged = judgeCanary({ ...base, vertex: side(200, 54), keyThisStep: side(200, 50) });
    expect(judged.delta).toBeGreaterThanOrEqual(0.02);
    expect(judged.allowedDelta).toBeGreaterThan(0.1);
    expect(judged.verdict).toBe('healthy');
  });

  it('given Vertex clearly worse than the key, calls a breach', () => {
    const judged = judgeCanary({ ...base, vertex: side(200, 40), keyThisStep: side(200, 2) });
    expect(judged.baseline.source).toBe('key-this-step');
    expect(judged.verdict).toBe('breach');
  });

  it('given a rejected key (repair), compares with 0 % and still catches a Vertex outage', () => {
    const judged = judgeCanary({ ...base, repair: true, vertex: side(100, 30), keyThisStep: side(100, 100) });
    expect(judged.baseline.source).toBe('none');
    expect(judged.verdict).toBe('breach');
    expect(judgeCanary({ ...base, repair: true, vertex: side(100, 0) }).verdict).toBe('healthy');
  });

  it('given no key traffic at all, compares with 0 %; too few Vertex requests decide nothing', () => {
    expect(judgeCanary({ ...base, keyThisStep: side(0, 0), keyWholeCanary: side(5, 0), vertex: side(200, 30) })).toMatchObject({ baseline: { source: 'none' }, verdict: 'breach' });
    expect(judgeCanary({ ...base, vertex: side(10, 10) }).verdict).toBe('too-few-requests');
  });
});
