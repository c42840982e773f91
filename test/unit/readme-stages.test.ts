// The README's stage table is documentation people read before trusting a migration: it lists the
// stages the workflow really runs, in the order it runs them (contracts/stages.ts).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PIPELINE_STAGES } from '../../contracts/stages';
import { STAGE_DEFINITIONS } from '../../workflows/stages';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** The first cells of the table whose header is `| stage | does | fails how |`, as stage names. */
function readmeStages(): string[] {
  const lines = readme.split('\n');
  const header = lines.findIndex((l) => /^\|\s*stage\s*\|\s*does\s*\|\s*fails how\s*\|/.test(l));
  expect(header, 'the README has a stage table').toBeGreaterThanOrEqual(0);
  const rows: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|')[1]!.trim().replace(/\s+/g, '-'));
  }
  return rows;
}

describe('the README stage table', () => {
  it('lists the stages of contracts/stages.ts, in the same order', () => {
    expect(readmeStages()).toEqual([...PIPELINE_STAGES]);
  });

  it('has a definition (plan and run) for every stage', () => {
    for (const stage of PIPELINE_STAGES) {
      expect(typeof STAGE_DEFINITIONS[stage].plan, stage).toBe('function');
      expect(typeof STAGE_DEFINITIONS[stage].run, stage).toBe('function');
    }
    expect(Object.keys(STAGE_DEFINITIONS).sort()).toEqual([...PIPELINE_STAGES].sort());
  });
});
