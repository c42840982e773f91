// The reliability suite's table: each test file records the scenarios it proved, and the summary
// reporter prints them all once the run ends (files run in separate processes, so a file holds them).

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One row of the suite's closing table. */
export interface ScenarioRow {
  scenario: string;
  runs: number;
  outcome: string;
}

/** Where test files leave their rows (git-ignored). */
export const SCENARIO_FILE = join(fileURLToPath(new URL('../..', import.meta.url)), 'test/artifacts/scenarios.jsonl');

/** Adds a row to the closing table; call it once the scenario's assertions have passed. */
export function recordScenario(row: ScenarioRow): void {
  mkdirSync(dirname(SCENARIO_FILE), { recursive: true });
  appendFileSync(SCENARIO_FILE, `${JSON.stringify(row)}\n`);
}

export function formatScenarioTable(rows: ScenarioRow[]): string {
  const header: ScenarioRow = { scenario: 'scenario', runs: 0, outcome: 'outcome' };
  const width = Math.max(...[header, ...rows].map((r) => r.scenario.length));
  const line = (r: ScenarioRow, runs: string) => `${r.scenario.padEnd(width)} | ${runs.padStart(4)} | ${r.outcome}`;
  return [line(header, 'runs'), `${'-'.repeat(width)}-+------+${'-'.repeat(20)}`, ...rows.map((r) => line(r, String(r.runs)))].join('\n');
}
