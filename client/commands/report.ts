// `keyless report <pipeline> [--format markdown|html]`: the dual-run report and the canary's
// analyses of one migration, for the operator deciding on it and for the change record. The HTML
// page is self-contained (inline CSS and SVG) so it can be attached to a ticket or mailed as is.

import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { statusQuery } from '../../contracts/messages';
import type { DualRunReport } from '../../contracts/reports';
import { formatDuration } from '../../contracts/duration';
import type { CanaryAnalysis, CanaryStepRecord, MigrationResult, MigrationStatus } from '../../contracts/status';
import { projectOption, stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { migrationHandle, migrationRef, type MigrationRef } from '../migrations';
import { renderDualRunMarkdown } from '../render/dual-run';
import { describeApprovals, identityLabel } from './status';

export const report: Command = {
  summary: 'Dual-run and canary reports of a migration as Markdown or a self-contained HTML page with charts',
  usage: 'keyless report <pipeline> [--project <p>] [--format markdown|html] [--json]',
  example: 'keyless report nightly-summarizer --project demo-project --format html > report.html',
  options: { ...projectOption, format: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(args, io) {
    const format = stringFlag(args, 'format') ?? 'markdown';
    if (format !== 'markdown' && format !== 'html') throw new UserError(`--format must be markdown or html, not "${format}"`, ExitCode.Usage);
    const source = await io.withTemporal(({ client }) => reportFor(client, migrationRef(args)));
    if (args.values.json) io.json(source);
    else io.print(renderReport(source, format));
    return ExitCode.Ok;
  },
};

export type ReportFormat = 'markdown' | 'html';

/** What a report is made from: a finished migration's result, or a running one's status. */
export type ReportSource = MigrationResult | MigrationStatus;

/** The result of a finished migration, or the live `status` of a running one. */
export async function reportFor(client: Client, ref: MigrationRef): Promise<ReportSource> {
  const handle = await migrationHandle(client, ref);
  try {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') return await handle.query(statusQuery);
    if (status.name === 'COMPLETED') return (await handle.result()) as MigrationResult;
    throw new UserError(`the migration of ${ref.pipeline} ended as ${status.name.toLowerCase()}: it left no result to report`, ExitCode.Failed, `see its history: temporal workflow show --workflow-id ${handle.workflowId}`);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`no migration found for pipeline ${ref.pipeline}${ref.project ? ` in ${ref.project}` : ''}`, ExitCode.Failed);
    throw err;
  }
}

export function isResult(source: ReportSource): source is MigrationResult {
  return 'outcome' in source;
}

/** The report as Markdown, or as a self-contained HTML page with the series drawn as SVG charts. */
export function renderReport(source: ReportSource, format: ReportFormat): string {
  const markdown = renderReportMarkdown(source);
  return format === 'markdown' ? markdown : renderReportHtml(source, markdown);
}

/** The dual-run report, when the migration got that far (a running one's status does not carry it). */
function dualRunOf(source: ReportSource): DualRunReport | undefined {
  return isResult(source) ? source.dualRun : undefined;
}

function analysesOf(source: ReportSource): CanaryAnalysis[] {
  if (isResult(source)) return source.canary;
  return source.lastAnalysis ? [source.lastAnalysis] : [];
}

const rate = (value: number) => `${(value * 100).toFixed(1)} %`;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function renderReportMarkdown(source: ReportSource): string {
  const lines: string[] = [`# Migration report: ${source.pipeline} (${source.project})`, ''];
  if (isResult(source)) {
    lines.push(`Outcome: **${source.outcome}** at stage ${source.finalStage}${source.repair ? '; a repair (the key was already refused)' : ''}.`);
  } else {
    lines.push(`Running, stage **${source.stage}**, ${source.vertexPercent}% on Vertex${source.paused ? ', paused' : ''}. Next: ${source.next}`);
  }
  if (source.rollback) lines.push('', `Rolled back: ${source.rollback.reason}${source.rollback.by ? ` (by ${source.rollback.by})` : ''}.`);
  lines.push('');

  lines.push('## Decisions', '');
  if (source.approvals) lines.push(`Approvals: ${describeApprovals(source.approvals)}.`, '');
  if (source.decisions.length === 0) lines.push('None.', '');
  else {
    lines.push('| at | action | stage | by | identity |', '|---|---|---|---|---|');
    for (const d of source.decisions) lines.push(`| ${d.at} | ${d.action} | ${d.stage ?? ''} | ${cell(d.by)} | ${cell(identityLabel(d).replace(/^\(|\)$/g, ''))} |`);
    lines.push('');
  }

  lines.push('## Mutations', '');
  if (source.mutations.length === 0) lines.push('None.', '');
  else {
    lines.push('| at | kind | target | detail | approved by | undone |', '|---|---|---|---|---|---|');
    for (const m of source.mutations) {
      lines.push(`| ${m.at} | ${m.kind} | ${cell(m.target)} | ${cell(m.detail)} | ${cell(m.approvedBy ?? '')} | ${m.undoneAt ?? ''} |`);
    }
    lines.push('');
  }

  const dualRun = dualRunOf(source);
  if (dualRun) {
    // The dual-run report is a document of its own; nest its headings under this one.
    lines.push(...renderDualRunMarkdown(dualRun).split('\n').map((line) => (line.startsWith('#') ? `#${line}` : line)));
  } else {
    lines.push('## Dual-run report', '', isResult(source) ? 'The migration ended before the dual-run.' : 'Shown once the migration finishes (`keyless report` on the result).', '');
  }

  lines.push(...renderCanarySteps(source.canarySteps ?? []));
  const analyses = analysesOf(source);
  lines.push(isResult(source) ? '## Canary analyses' : '## Canary: last analysis', '');
  if (analyses.length === 0) lines.push('No canary analysis yet.', '');
  else {
    lines.push(
      '| step | percent | phase | at | baseline | key requests | key error rate | Vertex requests | Vertex error rate | delta | Vertex 429 / 401-403 | latency p50 Vertex / baseline | latency ratio (z) | verdict | history events |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const a of analyses) lines.push(analysisRow(a));
    lines.push('');
    const omitted = isResult(source) ? (source.canaryAnalysesOmitted ?? 0) : 0;
    if (omitted > 0) lines.push(`${omitted} routine analyses of long waits are left out (the first and the latest of each step and phase, and every breach, are kept).`, '');
    const perAnalysis = eventsPerAnalysis(analyses);
    if (perAnalysis.length > 0) lines.push(`History: ${Math.min(...perAnalysis)}–${Math.max(...perAnalysis)} events per analysis (a timer, a Monitoring read, their workflow tasks).`, '');
  }

  if (source.soak) {
    lines.push('## Soak', '', `The key saw ${source.soak.keyRequests} request(s) during the soak.`, '');
    if (source.soak.byMethod.length > 0) {
      lines.push('| method | response code | requests |', '|---|---|---|', ...source.soak.byMethod.map((b) => `| ${cell(b.method)} | ${b.responseCode} | ${b.requests} |`), '');
    }
  }
  return lines.join('\n');
}

const ADVANCED: Record<NonNullable<CanaryStepRecord['advancedBy']>, string> = {
  evidence: 'on its evidence',
  promote: 'promote',
  repair: 'repair: on its shortened bake (the key was already rejected)',
  time: 'on its bake alone (minRequests 0)',
};

/** One row per canary step: what it judged, what it asked for, and why it moved on. */
function renderCanarySteps(steps: CanaryStepRecord[]): string[] {
  if (steps.length === 0) return [];
  const lines = ['## Canary steps', '', '| step | percent | started | ended | baked | Vertex requests judged | asked for | last verdict | advanced |', '|---|---|---|---|---|---|---|---|---|'];
  for (const s of steps) {
    let advanced = s.advancedBy ? ADVANCED[s.advancedBy] : s.evidenceWaitSince ? `waiting for evidence or promote since ${s.evidenceWaitSince}` : 'in progress';
    if (s.advancedBy === 'promote') advanced = `promote by ${s.by ?? 'unknown'}, accepting ${s.vertexRequests} of ${s.minRequests} requests`;
    lines.push(`| ${s.step} | ${s.percent} % | ${s.startedAt} | ${s.endedAt ?? ''} | ${formatDuration(s.bakedMs)} | ${s.vertexRequests} | ${s.minRequests} | ${s.verdict ?? '-'} | ${cell(advanced)} |`);
  }
  lines.push('');
  return lines;
}

function analysisRow(a: CanaryAnalysis): string {
  const verdict = a.verdict === 'breach' ? `**breach${a.breach ? ` (${a.breach})` : ''}**` : a.verdict;
  const baseline = a.baseline ? `${a.baseline.source} (${a.baseline.requests})` : '-';
  const classes = a.classes ? `${a.classes.vertex.quota} / ${a.classes.vertex.identity}` : '-';
  const l = a.latency;
  const p50 = l ? `${l.vertex.p50Ms ?? '-'} / ${l.baseline.p50Ms ?? '-'} ms` : '-';
  const ratio = l?.ratio !== null && l?.ratio !== undefined ? `${l.ratio}× (z ${l.z})` : '-';
  return `| ${a.step} | ${a.percent} % | ${a.phase ?? 'bake'} | ${a.at} | ${baseline} | ${a.key.requests} | ${rate(a.key.errorRate)} | ${a.vertex.requests} | ${rate(a.vertex.errorRate)} | ${(a.delta * 100).toFixed(1)} pt | ${classes} | ${p50} | ${ratio} | ${verdict} | ${a.historyLength ?? '-'} |`;
}

/** Events between consecutive analyses of the same step and phase in the same run: what one analysis costs in history. */
export function eventsPerAnalysis(analyses: CanaryAnalysis[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < analyses.length; i++) {
    const [a, b] = [analyses[i - 1]!, analyses[i]!];
    if (a.step === b.step && a.phase === b.phase && a.historyLength !== undefined && b.historyLength !== undefined && b.historyLength > a.historyLength) out.push(b.historyLength - a.historyLength);
  }
  return out;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline Markdown of our own tables and lines: bold and code only. */
function inline(text: string): string {
  return escapeHtml(text)
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** Splits a Markdown table row on unescaped pipes. */
function tableCells(line: string): string[] {
  return line
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

/**
 * The Markdown this file and the dual-run report generate (headings, tables, bullets,
 * paragraphs) as HTML; not a general Markdown renderer, so both formats say the same things.
 */
function markdownToHtml(markdown: string): string {
  const out: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    if (heading) {
      out.push(`<h${heading[1]!.length}>${inline(heading[2]!)}</h${heading[1]!.length}>`);
    } else if (line.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++) {
        if (!/^\|(-+\|)+$/.test(lines[i]!)) rows.push(tableCells(lines[i]!));
      }
      i--;
      const [head, ...body] = rows;
      out.push(
        '<table>',
        `<thead><tr>${head!.map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead>`,
        `<tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('\n')}</tbody>`,
        '</table>',
      );
    } else if (line.startsWith('- ')) {
      const items: string[] = [];
      for (; i < lines.length && lines[i]!.startsWith('- '); i++) items.push(`<li>${inline(lines[i]!.slice(2))}</li>`);
      i--;
      out.push(`<ul>${items.join('')}</ul>`);
    } else if (line.trim()) {
      out.push(`<p>${inline(line)}</p>`);
    }
  }
  return out.join('\n');
}

/** One line of a chart; `null` leaves a gap (a call that failed has no latency). */
export interface ChartSeries {
  name: string;
  color: string;
  values: (number | null)[];
}

const CHART = { width: 640, height: 240, left: 56, right: 28, top: 28, bottom: 36 };

/** A line chart as inline SVG: axes, three gridlines, one polyline and dots per series, a legend. */
export function lineChartSvg(title: string, unit: string, labels: string[], series: ChartSeries[]): string {
  const { width, height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const max = Math.max(...values, 0) || 1;
  const count = Math.max(labels.length, 1);
  const x = (i: number) => left + (count === 1 ? plotW / 2 : (i * plotW) / (count - 1));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`,
    `<title>${escapeHtml(title)}</title>`,
    `<text x="${left}" y="18" class="chart-title">${escapeHtml(title)}</text>`,
  ];
  for (const fraction of [0, 0.5, 1]) {
    const gy = y(max * fraction);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${gy.toFixed(1)}" y2="${gy.toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${(gy + 4).toFixed(1)}" text-anchor="end" class="axis">${formatTick(max * fraction)}${escapeHtml(unit)}</text>`);
  }
  labels.forEach((label, i) => {
    // Every label on short series; about ten on long ones, so they do not overlap.
    if (labels.length <= 12 || i % Math.ceil(labels.length / 10) === 0) {
      parts.push(`<text x="${x(i).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" class="axis">${escapeHtml(label)}</text>`);
    }
  });
  if (values.length === 0) {
    parts.push(`<text x="${left + plotW / 2}" y="${top + plotH / 2}" text-anchor="middle" class="axis">no data</text>`);
  }
  series.forEach((s, index) => {
    const segments: string[][] = [[]];
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) segments.push([]);
      else segments[segments.length - 1]!.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    for (const points of segments.filter((p) => p.length > 1)) {
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(' ')}"/>`);
    }
    s.values.forEach((v, i) => {
      if (v !== null && Number.isFinite(v)) {
        parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeHtml(`${s.name} ${labels[i] ?? i}: ${formatTick(v)}${unit}`)}</title></circle>`);
      }
    });
    const lx = width - right - 150 * (series.length - index);
    parts.push(`<rect x="${lx}" y="8" width="12" height="12" fill="${s.color}"/><text x="${lx + 16}" y="18" class="axis">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function formatTick(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

const KEY_COLOR = '#d9480f';
const VERTEX_COLOR = '#1c7ed6';

/** Per-sample latency of both paths; failed or skipped calls are gaps, not zeros. */
function latencyChart(dualRun: DualRunReport | undefined): string {
  const samples = dualRun?.samples ?? [];
  const latency = (side: { success: boolean; skipped?: boolean; latencyMs: number }) => (side.success && !side.skipped ? side.latencyMs : null);
  return lineChartSvg(
    'Dual-run latency per sample',
    ' ms',
    samples.map((_, i) => String(i + 1)),
    [
      { name: 'key (Gemini API)', color: KEY_COLOR, values: samples.map((s) => latency(s.key)) },
      { name: 'Vertex (service account)', color: VERTEX_COLOR, values: samples.map((s) => latency(s.vertex)) },
    ],
  );
}

/** Median latencies at each canary analysis: Vertex against its baseline (gaps where a side had none). */
function latencyAnalysisChart(analyses: CanaryAnalysis[]): string {
  return lineChartSvg(
    'Canary latency (p50) per analysis',
    ' ms',
    analyses.map((a) => `${a.step}:${a.percent}%`),
    [
      { name: 'baseline (key)', color: KEY_COLOR, values: analyses.map((a) => a.latency?.baseline.p50Ms ?? null) },
      { name: 'Vertex (service account)', color: VERTEX_COLOR, values: analyses.map((a) => a.latency?.vertex.p50Ms ?? null) },
    ],
  );
}

/** Error rates at each canary analysis, in percent. */
function errorRateChart(analyses: CanaryAnalysis[]): string {
  return lineChartSvg(
    'Canary error rate per analysis',
    ' %',
    analyses.map((a) => `${a.step}:${a.percent}%`),
    [
      { name: 'key (Gemini API)', color: KEY_COLOR, values: analyses.map((a) => a.key.errorRate * 100) },
      { name: 'Vertex (service account)', color: VERTEX_COLOR, values: analyses.map((a) => a.vertex.errorRate * 100) },
    ],
  );
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #212529; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #dee2e6; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f1f3f5; }
code { background: #f1f3f5; padding: 0 3px; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { border: 1px solid #dee2e6; background: #fff; }
.chart .grid { stroke: #e9ecef; }
.chart .axis { font-size: 11px; fill: #495057; }
.chart .chart-title { font-size: 13px; font-weight: 600; fill: #212529; }
`;

function renderReportHtml(source: ReportSource, markdown: string): string {
  const title = `Migration report: ${source.pipeline} (${source.project})`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    '<section class="charts">',
    latencyChart(dualRunOf(source)),
    errorRateChart(analysesOf(source)),
    latencyAnalysisChart(analysesOf(source)),
    '</section>',
    // The title is already above the charts.
    markdownToHtml(markdown.split('\n').slice(1).join('\n')),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
