// Prints the reliability suite's table of scenarios (rows recorded by the test files) and one
// closing line, "tests: N passed, N failed", that CI reads whatever runner it knows.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';
import { SCENARIO_FILE, formatScenarioTable, type ScenarioRow } from './scenarios';

export default class SummaryReporter implements Reporter {
  onInit(): void {
    // Rows from an earlier run must not be reported as this run's.
    rmSync(SCENARIO_FILE, { force: true });
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      // A file that failed to load has no tests but must still fail the run.
      if (module.state() === 'failed' && ![...module.children.allTests()].some((t) => t.result().state === 'failed')) failed++;
    }
    if (existsSync(SCENARIO_FILE)) {
      const rows = readFileSync(SCENARIO_FILE, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as ScenarioRow);
      process.stdout.write(`\nreliability scenarios proved in this run (${rows.length})\n${formatScenarioTable(rows)}\n`);
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
