// Watching a migration while a gate waits after the canary (approve-finalize, the wait for the
// pipelines sharing the key): every analysis interval, Vertex is judged as in a canary step, in
// windows of at least minRequests requests, and a breach rolls back before anyone approves.

import { ActivityFailure, log } from '@temporalio/workflow';
import type { TrafficReport } from '../../contracts/reports';
import type { AnalysisPhase } from '../../contracts/status';
import type { Migration } from '../migration';
import { judgeWindow, recordJudgement } from './canary';
import { readTrafficSinceAnchor } from './traffic';

/** Opens the watched window where the gate begins (kept across continue-as-new and from one gate to the next). */
export async function openWatch(m: Migration): Promise<void> {
  if (!m.facts.watchBaseline) m.facts.watchBaseline = await readTolerantly(m);
}

/** One look while a gate waits. */
export async function watchGate(m: Migration, phase: Extract<AnalysisPhase, 'approve-finalize' | 'shared-key-wait'>): Promise<void> {
  const reading = await readTolerantly(m);
  if (!reading) return;
  if (!m.facts.watchBaseline) {
    m.facts.watchBaseline = reading;
    return;
  }
  const { minRequests, steps } = m.spec.canary;
  const judged = judgeWindow(m, m.facts.watchBaseline, reading, minRequests);
  const gate = phase === 'approve-finalize' ? 'while waiting for approve(stage: finalize)' : 'while waiting for the pipelines sharing the key';
  recordJudgement(m, { step: steps.length, percent: m.vertexPercent, phase, minRequests }, judged, gate);
  // A judged window closes; the next one counts from here, so a late outage is not diluted by days of health.
  if (judged.verdict === 'healthy') m.facts.watchBaseline = reading;
}

/** A gate may wait for days: a Monitoring that cannot be read is no reason to undo the migration, so that look is skipped. */
async function readTolerantly(m: Migration): Promise<TrafficReport | undefined> {
  try {
    return await readTrafficSinceAnchor(m, { latency: true });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn('gate watch skipped: Monitoring could not be read', { error: err.message });
    return undefined;
  }
}
