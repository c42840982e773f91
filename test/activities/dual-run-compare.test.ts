import { describe, expect, it } from 'vitest';
import {
  buildDualRunReport,
  compareSample,
  decideMode,
  gate,
  isKeyRejection,
  jsonSimilarity,
  missingExpectedWords,
  outputSimilarity,
  percentile,
  summarize,
  textSimilarity,
  type Observation,
} from '../../activities/dual-run/compare';
import { renderDualRunMarkdown } from '../../client/render/dual-run';
import type { DualRunThresholds, SampleResult } from '../../contracts/reports';

const thresholds: DualRunThresholds = { minSuccessRate: 1, minSimilarity: 0.8, maxLatencyRatio: 3, allowModelVersionDrift: false };

const ok = (text: string, extra: Partial<Observation['outcome']> = {}): Observation => ({
  outcome: { success: true, finishReason: 'STOP', promptTokens: 12, latencyMs: 100, modelVersion: 'gemini-2.5-flash', ...extra },
  text,
});
const refused: Observation = { outcome: { success: false, httpStatus: 401, status: 'UNAUTHENTICATED', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', latencyMs: 5 } };

function sample(key: Observation, vertex: Observation, prompt: { json?: boolean; expectContains?: string[] } = {}, i = 0): SampleResult {
  return compareSample({ model: 'gemini-2.5-flash', prompt: 0, sample: i, promptSpec: prompt, key, vertex });
}

describe('output similarity', () => {
  it('is 1 for identical outputs, ignoring case, whitespace and punctuation', () => {
    expect(textSimilarity('The quick brown fox.', 'the  quick\nbrown fox')).toBe(1);
    expect(textSimilarity('', '')).toBe(1);
  });

  it('costs a changed word its share of the longer text', () => {
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const changed = [...words];
    changed[10] = 'other';
    changed[50] = 'else';
    changed[90] = 'more';
    const similarity = textSimilarity(words.join(' '), changed.join(' '));
    expect(similarity).toBeCloseTo(0.97, 5);
    // A small divergence sits between a strict and the default threshold.
    expect(similarity).toBeGreaterThan(thresholds.minSimilarity);
    expect(similarity).toBeLessThan(0.99);
  });

  it('is 0 for unrelated texts and order-aware', () => {
    expect(textSimilarity('alpha beta gamma', 'delta epsilon zeta')).toBe(0);
    expect(textSimilarity('one two three four', 'four three two one')).toBeLessThan(1);
  });

  it('compares JSON parsed: key order and whitespace do not matter', () => {
    const key = '{"label": "bug", "priority": 2, "tags": ["ui", "crash"]}';
    const vertex = '{\n  "tags": ["ui","crash"],\n  "priority": 2,\n  "label": "bug"\n}';
    expect(outputSimilarity(key, vertex, true)).toBe(1);
    // As text the same outputs are not identical, which is why JSON is parsed.
    expect(textSimilarity(key, vertex)).toBeLessThan(1);
  });

  it('scores differing JSON structurally', () => {
    expect(jsonSimilarity({ a: 1, b: 'x y z' }, { a: 1, b: 'x y z', c: true })).toBeCloseTo(2 / 3, 5);
    expect(jsonSimilarity({ a: 1, b: 2 }, { a: 1, b: 3 })).toBe(0.5);
    expect(jsonSimilarity([1, 2], [1])).toBe(0.5);
    expect(jsonSimilarity({ a: '1' }, { a: 1 })).toBe(0);
    expect(outputSimilarity('{"a":1}', 'not json at all', true)).toBe(0);
  });
});

describe('percentiles (nearest rank)', () => {
  it('computes p50 and p95', () => {
    const values = Array.from({ length: 20 }, (_, i) => 20 - i); // 1..20, unsorted
    expect(percentile(values, 50)).toBe(10);
    expect(percentile(values, 95)).toBe(19);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(() => percentile([], 50)).toThrow(RangeError);
  });

  it('summarises latency per side and their ratio', () => {
    const samples = [100, 200, 300, 400].map((ms, i) => sample(ok('a b', { latencyMs: ms }), ok('a b', { latencyMs: ms * 2 }), {}, i));
    const summary = summarize(samples);
    expect(summary.latency.key).toEqual({ count: 4, p50Ms: 200, p95Ms: 400 });
    expect(summary.latency.vertex).toEqual({ count: 4, p50Ms: 400, p95Ms: 800 });
    expect(summary.latency.p50Ratio).toBe(2);
  });
});

describe('per-sample comparison', () => {
  it('records matches and drops the texts', () => {
    const result = sample(ok('hello there world'), ok('hello there world', { promptTokens: 13 }));
    expect(result.similarity).toBe(1);
    expect(result.finishReasonMatch).toBe(true);
    expect(result.promptTokensMatch).toBe(true);
    expect(JSON.stringify(result)).not.toContain('hello');
  });

  it('flags finish reason and prompt token differences', () => {
    const result = sample(ok('x'), ok('x', { finishReason: 'MAX_TOKENS', promptTokens: 40 }));
    expect(result.finishReasonMatch).toBe(false);
    expect(result.promptTokensMatch).toBe(false);
    const { breaches } = gate(summarize([result]), 'compare', thresholds);
    expect(breaches.some((b) => b.includes('different reason'))).toBe(true);
    expect(breaches.some((b) => b.includes('prompt tokens'))).toBe(true);
  });

  it('records JSON validity on each side', () => {
    const result = sample(ok('{"a":1}'), ok('{"a":'), { json: true });
    expect(result.key.jsonValid).toBe(true);
    expect(result.vertex.jsonValid).toBe(false);
    expect(gate(summarize([result]), 'compare', thresholds).breaches.some((b) => b.includes('parse on the key path'))).toBe(true);
  });
});

describe('gate', () => {
  it('passes identical runs', () => {
    const report = buildDualRunReport([sample(ok('same words'), ok('same words'))], [{ text: 'p' }], thresholds);
    expect(report).toMatchObject({ mode: 'compare', passed: true, breaches: [] });
  });

  it('flags alias drift unless allowed', () => {
    const drift = sample(ok('a b c', { modelVersion: 'gemini-2.5-flash-preview-09-2025' }), ok('a b c', { modelVersion: 'gemini-2.5-flash' }));
    const summary = summarize([drift]);
    expect(summary.modelVersions).toEqual([
      { model: 'gemini-2.5-flash', key: ['gemini-2.5-flash-preview-09-2025'], vertex: ['gemini-2.5-flash'], drift: true },
    ]);
    expect(gate(summary, 'compare', thresholds).breaches.some((b) => b.includes('alias drift'))).toBe(true);
    expect(gate(summary, 'compare', { ...thresholds, allowModelVersionDrift: true }).passed).toBe(true);
  });

  it('breaches on low similarity and Vertex failures', () => {
    const low = sample(ok('alpha beta gamma delta'), ok('alpha zeta eta theta'));
    const failed = sample(ok('x'), { outcome: { success: false, httpStatus: 403, reason: 'IAM_PERMISSION_DENIED', latencyMs: 3 } }, {}, 1);
    const { passed, breaches } = gate(summarize([low, failed]), 'compare', thresholds);
    expect(passed).toBe(false);
    expect(breaches.some((b) => b.includes('minSimilarity'))).toBe(true);
    expect(breaches.some((b) => b.includes('minSuccessRate'))).toBe(true);
  });

  it('ignores a latency ratio below the noise floor but not above it', () => {
    const fast = sample(ok('a', { latencyMs: 2 }), ok('a', { latencyMs: 10 }));
    expect(gate(summarize([fast]), 'compare', thresholds).passed).toBe(true);
    const slow = [0, 1, 2].map((i) => sample(ok('a', { latencyMs: 100 }), ok('a', { latencyMs: 500 }), {}, i));
    expect(gate(summarize(slow), 'compare', thresholds).breaches.some((b) => b.includes('maxLatencyRatio'))).toBe(true);
  });

  it('reports but does not gate latency measured on fewer than three calls per side', () => {
    const one = sample(ok('a', { latencyMs: 100 }), ok('a', { latencyMs: 500 }));
    const summary = summarize([one]);
    expect(summary.latency.p50Ratio).toBe(5);
    expect(gate(summary, 'compare', thresholds).breaches.some((b) => b.includes('maxLatencyRatio'))).toBe(false);
  });
});

describe('repair mode', () => {
  it('is chosen when every key call was refused, and judges Vertex alone', () => {
    const good = sample(refused, ok('the summary mentions revenue growth'), { expectContains: ['Revenue', 'growth'] });
    const missing = sample(refused, ok('nothing relevant'), { expectContains: ['revenue'] }, 1);
    expect(isKeyRejection(refused.outcome)).toBe(true);
    expect(decideMode([good, missing])).toBe('repair');
    expect(good.missingWords).toEqual([]);
    expect(missing.missingWords).toEqual(['revenue']);
    const report = buildDualRunReport([good, missing], [{ text: 'p' }], thresholds);
    expect(report.mode).toBe('repair');
    expect(report.passed).toBe(false);
    expect(report.breaches).toHaveLength(1);
    expect(report.breaches[0]).toContain('expectContains');
    expect(buildDualRunReport([good], [{ text: 'p' }], thresholds).passed).toBe(true);
  });

  it('checks JSON validity on Vertex', () => {
    const invalid = sample(refused, ok('{"a": '), { json: true });
    const report = buildDualRunReport([invalid], [{ text: 'p' }], thresholds);
    expect(report.mode).toBe('repair');
    expect(report.breaches.some((b) => b.includes('JSON'))).toBe(true);
  });

  it('is not chosen for quota or server errors on the key side', () => {
    const quota = sample({ outcome: { success: false, httpStatus: 429, status: 'RESOURCE_EXHAUSTED', latencyMs: 1 } }, ok('x'));
    expect(decideMode([quota])).toBe('compare');
    expect(missingExpectedWords('Hello, World!', ['world', 'hello world', 'bye'])).toEqual(['bye']);
  });
});

describe('markdown', () => {
  it('renders the summary, breaches and one row per sample', () => {
    const samples = [sample(ok('a b c'), ok('a b d')), sample(ok('a b c'), ok('a b c'), {}, 1)];
    const report = buildDualRunReport(samples, [{ text: 'Summarise | the night' }], { ...thresholds, minSimilarity: 0.9 });
    const markdown = renderDualRunMarkdown(report);
    expect(markdown).toContain('Dual-run FAILED (1 breach)');
    expect(markdown).toContain('## Breaches');
    expect(markdown).toContain('Summarise \\| the night');
    expect(markdown.split('\n').filter((l) => l.startsWith('| gemini-2.5-flash | Summarise'))).toHaveLength(2);
  });
});
