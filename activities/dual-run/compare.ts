// Pure comparison of the two paths' answers: per sample as soon as both answers are in (so the
// texts can be dropped), then in aggregate, gated against the spec's dual-run thresholds.
//
// Similarity: word-level normalised Levenshtein. Both texts are lowercased and cut into words
// (runs of Unicode letters and digits, so whitespace and punctuation do not count); the score
// is 1 - editDistance(words) / max(wordCount), in 0..1: 1 for identical word sequences, 0 for
// nothing in common, and one changed word in a hundred costs 0.01. It is order-aware, unlike a
// token-set Jaccard, so a reordered answer scores lower; and a word-for-word substitution (how
// two deployments of one model usually differ at temperature 0) costs what it changes.
// JSON outputs are compared parsed: deep-equal values score 1 whatever the key order or
// whitespace; otherwise a structural score (below) that uses the word measure on strings.

import type { DualRunMode, DualRunReport, DualRunSummary, DualRunThresholds, LatencySummary, ModelVersionSummary, SampleResult, SideOutcome } from '../../contracts/reports';
import { isApiKeyRejection } from '../../google/errors';

/** How similarity is computed, as stored in each report. */
export const SIMILARITY_MEASURE =
  'word-level normalised Levenshtein on lowercased words (1 - edits / longer word count, 0..1); JSON compared parsed, deep-equal = 1';

/** Words beyond this are not compared: the edit distance is quadratic and longer outputs add little. */
export const MAX_COMPARED_WORDS = 4000;

/** Prompt token counts may differ by this share (or PROMPT_TOKEN_SLACK tokens) before it counts as a different prompt. */
export const PROMPT_TOKEN_TOLERANCE = 0.02;
export const PROMPT_TOKEN_SLACK = 2;

/**
 * A p50 latency gap below this is noise, whatever the ratio: on a fast path (a local emulator, a
 * cached answer) 4 ms against 1 ms is a ratio of 4 and means nothing to a batch pipeline.
 */
export const LATENCY_NOISE_FLOOR_MS = 50;

/**
 * Successful calls per side before latency can breach the gate. One or two timings say more about
 * the machine's load at that instant than about the endpoint (a fleet on two cores showed 17 of
 * 100 single-sample runs "breach" from noise); below this the latencies are reported, not gated.
 */
export const MIN_LATENCY_SAMPLES = 3;

/** The prompt fields comparison needs. */
export interface ComparedPrompt {
  json?: boolean;
  expectContains?: string[];
}

/** One path's answer before comparison: the outcome plus its text, which comparison then drops. */
export interface Observation {
  outcome: Omit<SideOutcome, 'jsonValid'>;
  text?: string;
}

/** Lowercased words: runs of letters and digits (an apostrophe inside a word keeps it whole). */
export function normalizeWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? [];
}

/** Levenshtein distance between two word sequences, in O(min) memory. */
function wordEditDistance(a: string[], b: string[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  if (b.length === 0) return a.length;
  const ids = new Map<string, number>();
  const id = (w: string) => {
    let v = ids.get(w);
    if (v === undefined) ids.set(w, (v = ids.size));
    return v;
  };
  const aa = Int32Array.from(a, id);
  const bb = Int32Array.from(b, id);
  let prev = new Uint32Array(bb.length + 1).map((_, j) => j);
  let curr = new Uint32Array(bb.length + 1);
  for (let i = 1; i <= aa.length; i++) {
    curr[0] = i;
    const ai = aa[i - 1];
    for (let j = 1; j <= bb.length; j++) {
      const substitution = prev[j - 1]! + (ai === bb[j - 1] ? 0 : 1);
      curr[j] = Math.min(substitution, prev[j]! + 1, curr[j - 1]! + 1);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[bb.length]!;
}

/** Word-level normalised Levenshtein similarity, 0..1 (two empty texts are identical). */
export function textSimilarity(a: string, b: string): number {
  const wa = normalizeWords(a).slice(0, MAX_COMPARED_WORDS);
  const wb = normalizeWords(b).slice(0, MAX_COMPARED_WORDS);
  const longer = Math.max(wa.length, wb.length);
  if (longer === 0) return 1;
  return 1 - wordEditDistance(wa, wb) / longer;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Structural similarity of two parsed JSON values, 0..1. Objects: the mean over the union of keys
 * (a key on one side only scores 0). Arrays: the mean over positions up to the longer length.
 * Strings: the word measure. Numbers, booleans, null: equal or not. Different types: 0.
 */
export function jsonSimilarity(a: unknown, b: unknown): number {
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    if (keys.size === 0) return 1;
    let sum = 0;
    for (const k of keys) sum += k in a && k in b ? jsonSimilarity(a[k], b[k]) : 0;
    return sum / keys.size;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const length = Math.max(a.length, b.length);
    if (length === 0) return 1;
    let sum = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++) sum += jsonSimilarity(a[i], b[i]);
    return sum / length;
  }
  if (typeof a === 'string' && typeof b === 'string') return a === b ? 1 : textSimilarity(a, b);
  return a === b ? 1 : 0;
}

/** Parses a model's JSON output; a Markdown code fence around it is tolerated, as pipelines do. */
export function parseJsonOutput(text: string): { valid: true; value: unknown } | { valid: false } {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(trimmed);
  try {
    return { valid: true, value: JSON.parse(fenced ? fenced[1]! : trimmed) };
  } catch {
    return { valid: false };
  }
}

/** Similarity of two outputs; JSON prompts compare parsed values when both parse. */
export function outputSimilarity(keyText: string, vertexText: string, json: boolean): number {
  if (json) {
    const k = parseJsonOutput(keyText);
    const v = parseJsonOutput(vertexText);
    if (k.valid && v.valid) return jsonSimilarity(k.value, v.value);
  }
  return textSimilarity(keyText, vertexText);
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

function latencySummary(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  return { count: values.length, p50Ms: round(percentile(values, 50), 1), p95Ms: round(percentile(values, 95), 1) };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Prompt token counts equal, or within PROMPT_TOKEN_TOLERANCE / PROMPT_TOKEN_SLACK. */
export function promptTokensWithinTolerance(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(PROMPT_TOKEN_SLACK, PROMPT_TOKEN_TOLERANCE * Math.max(a, b));
}

/**
 * Whether a failed Gemini API call refused the key itself (retired, invalid, blocked by its own
 * restrictions), as opposed to failing on the model, quota or a server error. A key refused this
 * way will be refused for every prompt: there is no baseline.
 */
export function isKeyRejection(outcome: Omit<SideOutcome, 'jsonValid'>): boolean {
  if (outcome.success) return false;
  const info = { httpStatus: outcome.httpStatus ?? 0, status: outcome.status ?? '', message: '', ...(outcome.reason ? { reason: outcome.reason } : {}) };
  // Google has not documented the retirement's response; a 401 to a key-only call can only be the key.
  return isApiKeyRejection(info) || outcome.reason === 'API_KEY_INVALID' || outcome.httpStatus === 401;
}

/** `expectContains` words missing from an output (case-insensitive, on whole words or phrases). */
export function missingExpectedWords(text: string, expected: string[]): string[] {
  const haystack = ` ${normalizeWords(text).join(' ')} `;
  return expected.filter((word) => {
    const needle = normalizeWords(word).join(' ');
    return needle !== '' && !haystack.includes(` ${needle} `);
  });
}

function jsonValidity(observation: Observation, prompt: ComparedPrompt): boolean | undefined {
  if (!prompt.json || !observation.outcome.success) return undefined;
  return parseJsonOutput(observation.text ?? '').valid;
}

/** Compares one sample's two answers; the result carries no output text. */
export function compareSample(input: {
  model: string;
  prompt: number;
  sample: number;
  promptSpec: ComparedPrompt;
  key: Observation;
  vertex: Observation;
}): SampleResult {
  const { promptSpec, key, vertex } = input;
  const keyJson = jsonValidity(key, promptSpec);
  const vertexJson = jsonValidity(vertex, promptSpec);
  const result: SampleResult = {
    model: input.model,
    prompt: input.prompt,
    sample: input.sample,
    key: { ...key.outcome, ...(keyJson === undefined ? {} : { jsonValid: keyJson }) },
    vertex: { ...vertex.outcome, ...(vertexJson === undefined ? {} : { jsonValid: vertexJson }) },
  };
  if (key.outcome.success && vertex.outcome.success) {
    result.similarity = round(outputSimilarity(key.text ?? '', vertex.text ?? '', promptSpec.json ?? false), 4);
    result.finishReasonMatch = key.outcome.finishReason === vertex.outcome.finishReason;
    if (key.outcome.promptTokens !== undefined && vertex.outcome.promptTokens !== undefined) {
      result.promptTokensMatch = promptTokensWithinTolerance(key.outcome.promptTokens, vertex.outcome.promptTokens);
    }
  }
  if (promptSpec.expectContains?.length && vertex.outcome.success) {
    result.missingWords = missingExpectedWords(vertex.text ?? '', promptSpec.expectContains);
  }
  return result;
}

/** Repair when the key side never answered because the key itself was refused every time. */
export function decideMode(samples: SampleResult[]): DualRunMode {
  return samples.length > 0 && samples.every((s) => isKeyRejection(s.key)) ? 'repair' : 'compare';
}

const rate = (n: number, of: number) => (of === 0 ? 0 : round(n / of, 4));
const distinct = (values: Array<string | undefined>) => [...new Set(values.filter((v): v is string => !!v))].sort();

function modelVersions(samples: SampleResult[]): ModelVersionSummary[] {
  const models = [...new Set(samples.map((s) => s.model))];
  return models.map((model) => {
    const own = samples.filter((s) => s.model === model);
    const key = distinct(own.map((s) => (s.key.success ? s.key.modelVersion : undefined)));
    const vertex = distinct(own.map((s) => (s.vertex.success ? s.vertex.modelVersion : undefined)));
    const drift = key.length > 0 && vertex.length > 0 && (key.length !== vertex.length || key.some((v, i) => v !== vertex[i]));
    return { model, key, vertex, drift };
  });
}

/** Aggregates every sample of a run. */
export function summarize(samples: SampleResult[]): DualRunSummary {
  const compared = samples.filter((s) => s.similarity !== undefined);
  const similarities = compared.map((s) => s.similarity!);
  const keyLatencies = samples.filter((s) => s.key.success).map((s) => s.key.latencyMs);
  const vertexLatencies = samples.filter((s) => s.vertex.success).map((s) => s.vertex.latencyMs);
  const key = latencySummary(keyLatencies);
  const vertex = latencySummary(vertexLatencies);
  // A ratio over a zero-millisecond baseline is meaningless; a floor of 1 ms keeps it finite.
  const ratio = (v: number | undefined, k: number | undefined) => (v === undefined || k === undefined ? null : round(v / Math.max(k, 1), 3));
  const keyJson = samples.filter((s) => s.key.jsonValid !== undefined);
  const vertexJson = samples.filter((s) => s.vertex.jsonValid !== undefined);
  return {
    total: samples.length,
    keySuccessRate: rate(samples.filter((s) => s.key.success).length, samples.length),
    vertexSuccessRate: rate(samples.filter((s) => s.vertex.success).length, samples.length),
    compared: compared.length,
    meanSimilarity: similarities.length ? round(similarities.reduce((a, b) => a + b, 0) / similarities.length, 4) : null,
    minSimilarity: similarities.length ? Math.min(...similarities) : null,
    finishReasonMismatches: compared.filter((s) => s.finishReasonMatch === false).length,
    promptTokenMismatches: compared.filter((s) => s.promptTokensMatch === false).length,
    jsonValidity: {
      samples: samples.filter((s) => s.key.jsonValid !== undefined || s.vertex.jsonValid !== undefined).length,
      keyRate: keyJson.length ? rate(keyJson.filter((s) => s.key.jsonValid).length, keyJson.length) : null,
      vertexRate: vertexJson.length ? rate(vertexJson.filter((s) => s.vertex.jsonValid).length, vertexJson.length) : null,
      vertexOnlyInvalid: samples.filter((s) => s.key.jsonValid === true && s.vertex.jsonValid === false).length,
    },
    latency: { key, vertex, p50Ratio: ratio(vertex?.p50Ms, key?.p50Ms), p95Ratio: ratio(vertex?.p95Ms, key?.p95Ms) },
    modelVersions: modelVersions(samples),
    expectationMisses: samples.filter((s) => (s.missingWords?.length ?? 0) > 0).length,
  };
}

/** The gate: every breached threshold as one line a person can act on. */
export function gate(summary: DualRunSummary, mode: DualRunMode, thresholds: DualRunThresholds): { passed: boolean; breaches: string[] } {
  const breaches: string[] = [];
  const share = (r: number) => `${round(r * 100, 1)} %`;
  if (summary.total === 0) breaches.push('no samples were run');
  if (summary.vertexSuccessRate < thresholds.minSuccessRate) {
    breaches.push(`Vertex success rate ${share(summary.vertexSuccessRate)} is below minSuccessRate ${share(thresholds.minSuccessRate)}`);
  }
  if (mode === 'repair') {
    if (summary.expectationMisses > 0) breaches.push(`${summary.expectationMisses} Vertex sample(s) miss words the prompt expects (expectContains)`);
    const invalid = summary.jsonValidity.vertexRate !== null && summary.jsonValidity.vertexRate < 1;
    if (invalid) breaches.push(`Vertex JSON validity ${share(summary.jsonValidity.vertexRate!)}: some JSON prompts got output that does not parse`);
    return { passed: breaches.length === 0, breaches };
  }
  if (summary.compared === 0) {
    breaches.push('no sample succeeded on both paths, so nothing could be compared');
  } else if (summary.meanSimilarity! < thresholds.minSimilarity) {
    breaches.push(`mean output similarity ${summary.meanSimilarity!.toFixed(3)} is below minSimilarity ${thresholds.minSimilarity}`);
  }
  if (summary.finishReasonMismatches > 0) breaches.push(`${summary.finishReasonMismatches} sample(s) finished for a different reason on Vertex`);
  if (summary.promptTokenMismatches > 0) {
    breaches.push(`${summary.promptTokenMismatches} sample(s) count prompt tokens differently beyond tolerance: the two paths may not send the same prompt`);
  }
  if (summary.jsonValidity.vertexOnlyInvalid > 0) {
    breaches.push(`${summary.jsonValidity.vertexOnlyInvalid} JSON sample(s) parse on the key path but not on Vertex`);
  }
  const { key, vertex, p50Ratio } = summary.latency;
  // p50, not p95: the first Vertex call of a run can carry a token exchange, and with a handful of samples p95 is that one call.
  const enoughSamples = key && vertex && key.count >= MIN_LATENCY_SAMPLES && vertex.count >= MIN_LATENCY_SAMPLES;
  if (key && vertex && enoughSamples && p50Ratio !== null && p50Ratio > thresholds.maxLatencyRatio && vertex.p50Ms - key.p50Ms > LATENCY_NOISE_FLOOR_MS) {
    breaches.push(`Vertex p50 latency ${vertex.p50Ms} ms is ${p50Ratio}× the key's ${key.p50Ms} ms, above maxLatencyRatio ${thresholds.maxLatencyRatio}`);
  }
  if (!thresholds.allowModelVersionDrift) {
    for (const m of summary.modelVersions.filter((v) => v.drift)) {
      breaches.push(`model ${m.model} resolves to ${m.key.join(', ')} on the Gemini API but ${m.vertex.join(', ')} on Vertex (alias drift)`);
    }
  }
  return { passed: breaches.length === 0, breaches };
}

/** The whole report from a run's samples. */
export function buildDualRunReport(samples: SampleResult[], prompts: Array<{ text: string }>, thresholds: DualRunThresholds): DualRunReport {
  const mode = decideMode(samples);
  const summary = summarize(samples);
  const { passed, breaches } = gate(summary, mode, thresholds);
  return {
    mode,
    passed,
    breaches,
    summary,
    samples,
    thresholds,
    similarityMeasure: SIMILARITY_MEASURE,
    prompts: prompts.map((p) => promptExcerpt(p.text)),
  };
}

const PROMPT_EXCERPT_CHARS = 60;

/** A prompt shortened for a table cell. */
export function promptExcerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > PROMPT_EXCERPT_CHARS ? `${oneLine.slice(0, PROMPT_EXCERPT_CHARS - 1)}…` : oneLine;
}
