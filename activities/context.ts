// The activity context where there is one: heartbeats, and who is asking. Activities also run as
// plain functions (tests, scripts, the benchmark), where these are no-ops.

import { Context } from '@temporalio/activity';

/** The Temporal activity context, or undefined when called as a plain function. */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Heartbeats when running as an activity; a no-op otherwise. */
export function heartbeat(details: unknown): void {
  activityContext()?.heartbeat(details);
}

/**
 * The workflow run asking: the workflow id alone repeats for every migration of a pipeline, and a
 * later migration must not claim (and on rollback delete) an account an earlier one created.
 */
export function currentWorkflowRun(): string | undefined {
  const execution = activityContext()?.info.workflowExecution;
  return execution ? `${execution.workflowId} (run ${execution.runId})` : undefined;
}

/** The first attempt's schedule time inside an activity (Temporal retries keep it); else now. */
export function firstAttemptAt(): number {
  return activityContext()?.info.scheduledTimestampMs ?? Date.now();
}
