// The dual-run report as Markdown, for the operator deciding on the cutover (`keyless report`).
// The report itself (contracts/reports.ts) is what the workflow decides on.

import type { DualRunReport, SideOutcome } from '../../contracts/reports';

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
