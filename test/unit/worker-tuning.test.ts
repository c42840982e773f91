// Worker capacity from the environment (KEYLESS_MAX_*): good values reach WorkerOptions, bad ones
// name the variable, unset ones leave the SDK's defaults.

import { describe, expect, it } from 'vitest';
import { ConfigError, temporalConfigFromEnv, workerTuningFromEnv } from '../../worker/config';

describe('workerTuningFromEnv', () => {
  it('given no KEYLESS_MAX_* variables, when parsed, then the SDK defaults stay (no options set)', () => {
    expect(workerTuningFromEnv({ KEYLESS_TASK_QUEUE: 'q', KEYLESS_MAX_CACHED_WORKFLOWS: '' })).toEqual({});
  });

  it('given all three variables, when parsed, then they become the matching worker options', () => {
    expect(
      workerTuningFromEnv({ KEYLESS_MAX_CACHED_WORKFLOWS: '500', KEYLESS_MAX_CONCURRENT_WORKFLOW_TASKS: '20', KEYLESS_MAX_CONCURRENT_ACTIVITIES: '150' }),
    ).toEqual({ maxCachedWorkflows: 500, maxConcurrentWorkflowTaskExecutions: 20, maxConcurrentActivityTaskExecutions: 150 });
  });

  it('given a value that is not a positive whole number, when parsed, then the error names each bad variable', () => {
    let problems: string[] = [];
    try {
      workerTuningFromEnv({ KEYLESS_MAX_CACHED_WORKFLOWS: 'lots', KEYLESS_MAX_CONCURRENT_ACTIVITIES: '0' });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems.map((p) => p.variable);
    }
    expect(problems.sort()).toEqual(['KEYLESS_MAX_CACHED_WORKFLOWS', 'KEYLESS_MAX_CONCURRENT_ACTIVITIES']);
  });

  it('given the Temporal settings, when parsed, then the worker tuning comes with them', () => {
    const config = temporalConfigFromEnv({ HOME: '/nonexistent', KEYLESS_MAX_CONCURRENT_ACTIVITIES: '200' });
    expect(config.worker).toEqual({ maxConcurrentActivityTaskExecutions: 200 });
  });
});
