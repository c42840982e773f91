// The deterministic model on its own: determinism, endpoint divergence, JSON output, truncation.

import { describe, expect, it } from 'vitest';
import { generate, ModelInputError, readPrompt } from '../../emulator/model/generate';

const body = (text: string, generationConfig: Record<string, unknown> = { temperature: 0 }) => ({ contents: [{ role: 'user', parts: [{ text }] }], generationConfig });
const answer = (b: unknown, endpoint: 'gemini' | 'vertex' = 'gemini', divergence = 0, modelVersion = 'gemini-2.5-flash') =>
  generate({ body: b, endpoint, divergence, modelVersion }).candidates[0]!.content.parts[0]!.text;

describe('model', () => {
  it('is deterministic at temperature 0 and varies without it', () => {
    expect(answer(body('hello world'))).toBe(answer(body('hello world')));
    expect(answer(body('hello world'))).not.toBe(answer(body('hello there')));
    expect(answer(body('hello world'), 'gemini', 0, 'gemini-2.5-flash-lite')).not.toBe(answer(body('hello world')));
    const free = new Set(Array.from({ length: 5 }, () => answer(body('hello world', {}))));
    expect(free.size).toBeGreaterThan(1);
  });

  it('changes about the configured share of words on Vertex, word for word aligned', () => {
    let words = 0;
    let changed = 0;
    for (let i = 0; i < 200; i++) {
      const g = answer(body(`prompt number ${i}`)).split(' ');
      const v = answer(body(`prompt number ${i}`), 'vertex', 0.2).split(' ');
      expect(v.length).toBe(g.length);
      words += g.length;
      changed += g.filter((w, j) => w !== v[j]).length;
    }
    expect(changed / words).toBeGreaterThan(0.15);
    expect(changed / words).toBeLessThan(0.25);
    expect(answer(body('same'), 'vertex', 0)).toBe(answer(body('same')));
  });

  it('emits JSON matching a JSON Schema, and truncates at maxOutputTokens', () => {
    const schema = { type: 'object', properties: { name: { type: 'string' }, count: { type: 'integer', minimum: 5, maximum: 9 }, ok: { type: 'boolean' }, when: { type: 'string', format: 'date' } } };
    const parsed = JSON.parse(answer(body('x', { temperature: 0, responseMimeType: 'application/json', responseJsonSchema: schema }))) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['name', 'count', 'ok', 'when']);
    expect(parsed.count).toBeGreaterThanOrEqual(5);
    expect(parsed.count).toBeLessThanOrEqual(9);
    expect(parsed.when).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const r = generate({ body: body('x', { temperature: 0, maxOutputTokens: 2 }), endpoint: 'gemini', divergence: 0, modelVersion: 'm' });
    expect(r.candidates[0]!.finishReason).toBe('MAX_TOKENS');
    expect(r.usageMetadata.candidatesTokenCount).toBe(2);
  });

  it('counts prompt tokens from text, system instruction and media, and refuses empty contents', () => {
    const p = readPrompt({ contents: [{ parts: [{ text: 'abcd' }, { inlineData: { mimeType: 'image/png', data: '' } }] }], systemInstruction: { parts: [{ text: 'efgh' }] } });
    expect(p.tokens).toBe(Math.ceil(8 / 4) + 258);
    expect(() => readPrompt({ contents: [] })).toThrow(ModelInputError);
  });
});
