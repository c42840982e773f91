// The environments that would let @google/genai pick a backend on its own are refused at start.

import { describe, expect, it } from 'vitest';
import { ConflictingCredentialsError, createGeminiClient, environmentConflicts } from '../../gemini-client';

// Shaped like a key so a leak into a message would be caught; not a real key.
const FAKE_KEY = `AIza${'Q'.repeat(35)}`;

function refusal(env: Record<string, string>): ConflictingCredentialsError {
  try {
    createGeminiClient({ pipeline: 'nightly-summarizer', project: 'demo-project', route: { store: 'file://.keyless/routes' }, env });
  } catch (err) {
    if (err instanceof ConflictingCredentialsError) return err;
    throw err;
  }
  throw new Error('createGeminiClient accepted a conflicting environment');
}

describe('conflicting credentials in the environment', () => {
  it('refuses GEMINI_API_KEY next to GOOGLE_GENAI_USE_VERTEXAI=true, naming the variable to remove', () => {
    const err = refusal({ GEMINI_API_KEY: FAKE_KEY, GOOGLE_GENAI_USE_VERTEXAI: 'true' });
    expect(err.conflicts.map((c) => c.remove)).toEqual(['GOOGLE_GENAI_USE_VERTEXAI']);
    expect(err.message).toContain('remove GOOGLE_GENAI_USE_VERTEXAI');
    expect(err.message).not.toContain(FAKE_KEY);
  });

  it('refuses GOOGLE_API_KEY next to GOOGLE_GENAI_USE_VERTEXAI=TRUE (any case)', () => {
    expect(refusal({ GOOGLE_API_KEY: FAKE_KEY, GOOGLE_GENAI_USE_VERTEXAI: 'TRUE' }).conflicts[0]!.message).toContain('GOOGLE_API_KEY');
  });

  it('refuses two different keys, naming GOOGLE_API_KEY, which the SDK would silently prefer', () => {
    const err = refusal({ GEMINI_API_KEY: FAKE_KEY, GOOGLE_API_KEY: `${FAKE_KEY.slice(0, -1)}R` });
    expect(err.conflicts.map((c) => c.remove)).toEqual(['GOOGLE_API_KEY']);
  });

  it('accepts a key alone, Vertex alone, or GOOGLE_GENAI_USE_VERTEXAI=false next to a key', () => {
    expect(environmentConflicts({ GEMINI_API_KEY: FAKE_KEY })).toEqual([]);
    expect(environmentConflicts({ GOOGLE_GENAI_USE_VERTEXAI: 'true', GOOGLE_CLOUD_PROJECT: 'demo-project' })).toEqual([]);
    expect(environmentConflicts({ GEMINI_API_KEY: FAKE_KEY, GOOGLE_GENAI_USE_VERTEXAI: 'false' })).toEqual([]);
    expect(() => createGeminiClient({ pipeline: 'p1', project: 'demo-project', route: { store: 'file://.keyless/routes' }, env: { GEMINI_API_KEY: FAKE_KEY } })).not.toThrow();
  });
});
