// The dual-run report: what the workflow decides on and what an operator reads before approving
// the cutover. Small and JSON-safe (no output texts, no key strings): it travels as an activity
// result, inside heartbeats and in the migration's result.

import type { PipelineSpec } from '../../contracts/spec';

/** The spec's dual-run gate. */
export type DualRunThresholds = PipelineSpec['dualRun']['thresholds'];

/** `compare`: the key is a working baseline. `repair`: the key is refused, so Vertex is judged alone. */
export type DualRunMode = 'compare' | 'repair';

/** How one path answered one sample; the output text itself is compared, then dropped. */
export interface SideOutcome {
  success: boolean;
  /** HTTP status of a failed call. */
  httpStatus?: number;
  /** Google's status of a failed call, e.g. `UNAUTHENTICATED`. */
  status?: string;
  /** ErrorInfo reason of a failed call, e.g. `ACCESS_TOKEN_TYPE_UNSUPPORTED`. */
  reason?: string;
  /** Google's message, truncated and redacted. */
  message?: string;
  /** Not sent: the key was already refused earlier in this run. */
  skipped?: boolean;
  finishReason?: string;
  promptTokens?: number;
  outputTokens?: number;
  /** Wall time of the call; 0 when skipped. */
  latencyMs: number;
  modelVersion?: string;
  /** Only for prompts that ask for JSON: whether the output parsed. */
  jsonValid?: boolean;
}

/** One prompt × sample × model, on both paths. */
export interface SampleResult {
  model: string;
  /** Index into the run's prompts. */
  prompt: number;
  /** 0-based repetition of that prompt. */
  sample: number;
  key: SideOutcome;
  vertex: SideOutcome;
  /** Output similarity 0..1 (see `SIMILARITY_MEASURE`); only when both paths succeeded. */
  similarity?: number;
  /** Only when both paths succeeded. */
  finishReasonMatch?: boolean;
  /** Prompt token counts equal within tolerance; only when both paths report them. */
  promptTokensMatch?: boolean;
  /** `expectContains` words absent from the Vertex output (when the prompt lists any). */
  missingWords?: string[];
}

/** Latency percentiles of one path's successful calls (nearest-rank method). */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
}

/** The model versions each path reported for one requested model. */
export interface ModelVersionSummary {
  model: string;
  key: string[];
  vertex: string[];
  /** Both paths answered and named different versions: an alias resolving differently. */
  drift: boolean;
}

/** Aggregates over every sample of the run. */
export interface DualRunSummary {
  total: number;
  keySuccessRate: number;
  vertexSuccessRate: number;
  /** Samples where both paths succeeded, the only ones compared. */
  compared: number;
  meanSimilarity: number | null;
  minSimilarity: number | null;
  finishReasonMismatches: number;
  promptTokenMismatches: number;
  /** Over samples of prompts that ask for JSON and succeeded on that path; null when none. */
  jsonValidity: { samples: number; keyRate: number | null; vertexRate: number | null; vertexOnlyInvalid: number };
  latency: { key: LatencySummary | null; vertex: LatencySummary | null; p50Ratio: number | null; p95Ratio: number | null };
  modelVersions: ModelVersionSummary[];
  /** Vertex samples missing an `expectContains` word. */
  expectationMisses: number;
}

/** The result of the dual-run activity. */
export interface DualRunReport {
  mode: DualRunMode;
  passed: boolean;
  /** One line per breached threshold; empty when passed. */
  breaches: string[];
  summary: DualRunSummary;
  samples: SampleResult[];
  thresholds: DualRunThresholds;
  /** How `similarity` was computed, for the reader of a stored report. */
  similarityMeasure: string;
  /** Prompt texts are the operator's own sample prompts; shortened for the table. */
  prompts: string[];
}

const PROMPT_EXCERPT_CHARS = 60;

/** A prompt shortened for a table cell. */
export function promptExcerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > PROMPT_EXCERPT_CHARS ? `${oneLine.slice(0, PROMPT_EXCERPT_CHARS - 1)}…` : oneLine;
}

const pct = (rate: number | null) => (rate === null ? 'n/a' : `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)} %`);
const num = (value: number | null | undefined, digits = 3) => (value === null || value === undefined ? 'n/a' : value.toFixed(digits));
const ms = (value: number | undefined) => (value === undefined ? 'n/a' : `${Math.round(value)} ms`);
/** Table cells must not break the Markdown table. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function side(outcome: SideOutcome): string {
  if (outcome.success) return `ok ${outcome.finishReason ?? ''}`.trim();
  if (outcome.skipped) return `skipped (${outcome.reason ?? outcome.httpStatus ?? 'refused'})`;
  return `${outcome.httpStatus ?? 'error'} ${outcome.reason ?? outcome.status ?? ''}`.trim();
}

/** The one-line verdict, e.g. for a workflow's current details. */
export function summaryLine(report: DualRunReport): string {
  const s = report.summary;
  const verdict = report.passed ? 'passed' : `FAILED (${report.breaches.length} breach${report.breaches.length === 1 ? '' : 'es'})`;
  if (report.mode === 'repair') {
    return `Dual-run ${verdict}, repair mode (key refused, no baseline): ${s.total} samples, Vertex success ${pct(s.vertexSuccessRate)}, expectation misses ${s.expectationMisses}.`;
  }
  return `Dual-run ${verdict}: ${s.total} samples, success key ${pct(s.keySuccessRate)} / Vertex ${pct(s.vertexSuccessRate)}, mean similarity ${num(s.meanSimilarity)}, p50 latency ratio ${num(s.latency.p50Ratio, 2)}.`;
}

/** The report for people: summary, breaches, model versions, then one row per sample. */
export function renderDualRunMarkdown(report: DualRunReport): string {
  const s = report.summary;
  const lines: string[] = [`# Dual-run report (${report.mode})`, '', summaryLine(report), ''];
  if (report.breaches.length > 0) {
    lines.push('## Breaches', '', ...report.breaches.map((b) => `- ${cell(b)}`), '');
  }
  lines.push(
    '## Aggregates',
    '',
    '| measure | key (Gemini API) | service account (Vertex) |',
    '|---|---|---|',
    `| success rate | ${pct(s.keySuccessRate)} | ${pct(s.vertexSuccessRate)} |`,
    `| latency p50 | ${ms(s.latency.key?.p50Ms)} | ${ms(s.latency.vertex?.p50Ms)} |`,
    `| latency p95 | ${ms(s.latency.key?.p95Ms)} | ${ms(s.latency.vertex?.p95Ms)} |`,
    `| JSON valid | ${pct(s.jsonValidity.keyRate)} | ${pct(s.jsonValidity.vertexRate)} |`,
    '',
    `Compared samples: ${s.compared} of ${s.total}; similarity mean ${num(s.meanSimilarity)}, min ${num(s.minSimilarity)} (${report.similarityMeasure}). ` +
      `Latency ratio Vertex/key: p50 ${num(s.latency.p50Ratio, 2)}, p95 ${num(s.latency.p95Ratio, 2)}. ` +
      `Finish reason mismatches: ${s.finishReasonMismatches}; prompt token mismatches: ${s.promptTokenMismatches}.`,
    '',
    '## Model versions',
    '',
    '| model | key | Vertex | drift |',
    '|---|---|---|---|',
    ...s.modelVersions.map((m) => `| ${m.model} | ${m.key.join(', ') || 'n/a'} | ${m.vertex.join(', ') || 'n/a'} | ${m.drift ? '**yes**' : 'no'} |`),
    '',
    '## Samples',
    '',
    '| model | prompt | # | key | Vertex | similarity | key ms | Vertex ms | notes |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of report.samples) {
    const notes: string[] = [];
    if (r.finishReasonMatch === false) notes.push('finish reason differs');
    if (r.promptTokensMatch === false) notes.push(`prompt tokens ${r.key.promptTokens} vs ${r.vertex.promptTokens}`);
    if (r.vertex.jsonValid === false) notes.push('Vertex JSON invalid');
    if (r.missingWords?.length) notes.push(`missing: ${r.missingWords.join(', ')}`);
    const prompt = report.prompts[r.prompt] ?? `#${r.prompt}`;
    lines.push(
      `| ${cell(r.model)} | ${cell(prompt)} | ${r.sample + 1} | ${cell(side(r.key))} | ${cell(side(r.vertex))} | ${num(r.similarity)} | ${r.key.skipped ? '' : ms(r.key.latencyMs)} | ${ms(r.vertex.latencyMs)} | ${cell(notes.join('; '))} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
