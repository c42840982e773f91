// keyless's own Prometheus families, emitted from workflow code through the SDK's metric meter
// (the worker's KEYLESS_METRICS_ADDRESS endpoint serves them beside the SDK's). Replay-safe: the
// meter emits nothing while a workflow replays, so a restarted worker counts nothing twice.

import { metricMeter } from '@temporalio/workflow';

type MetricCounter = ReturnType<typeof metricMeter.createCounter>;

const counters = new Map<string, MetricCounter>();

function counter(name: string, description: string): MetricCounter {
  let found = counters.get(name);
  if (!found) {
    found = metricMeter.createCounter(name, '1', description);
    counters.set(name, found);
  }
  return found;
}

/** A migration entered a stage. */
export function countStage(stage: string): void {
  counter('keyless_migration_stages', 'Stages entered by migrations').add(1, { stage });
}

/** A migration began its rollback. */
export function countRollback(failureType: string): void {
  counter('keyless_rollbacks', 'Rollbacks begun, by what caused them').add(1, { failure_type: failureType });
}

/** A change to the outside world was recorded (rollback's own included). */
export function countMutation(kind: string): void {
  counter('keyless_mutations', 'Changes keyless made, by kind').add(1, { kind });
}

/** An operator's approve or reject was taken (`decision`), or refused for who sent it. */
export function countApproval(stage: string, decision: 'approved' | 'rejected' | 'refused'): void {
  counter('keyless_approvals', 'Approvals, rejections and refused attempts, by stage').add(1, { stage, decision });
}

/** One canary analysis reached a verdict. */
export function countCanaryVerdict(verdict: string): void {
  counter('keyless_canary_verdicts', 'Canary analyses, by verdict').add(1, { verdict });
}
