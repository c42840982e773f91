// Where one migration's orchestration time goes (not a test): runs a few quick migrations on the
// dev server with a worker process and prints, from the last one's history, the time spent in
// workflow tasks, in activity executions and in the gaps between (dispatch and polling).
// `npx tsx bench/migration-timeline.ts`

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import protos from '@temporalio/proto';

const { temporal } = protos;
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../contracts/names';
import { quickSpec, startBench, withWorker } from './orchestration';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const EventType = temporal.api.enums.v1.EventType;
const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

async function main(): Promise<void> {
  const runs = 4;
  const bench = await startBench(Array.from({ length: runs }, (_, i) => `timeline-${i}`));
  const routesDir = await mkdtemp(join(tmpdir(), 'keyless-timeline-'));
  try {
    await withWorker(bench, `timeline-${Date.now()}`, async () => undefined);
    const taskQueue = `timeline-${Date.now()}`;
    const { value: events } = await withWorker(bench, taskQueue, async () => {
      let last: protos.temporal.api.history.v1.IHistoryEvent[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const handle = await bench.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId: migrationWorkflowId('demo-project', `timeline-${i}`), args: [quickSpec(`timeline-${i}`, routesDir)] });
        await handle.result();
        console.log(`run ${i}: ${(performance.now() - t0).toFixed(0)} ms`);
        last = (await handle.fetchHistory()).events ?? [];
      }
      return last;
    });
    let wft = 0;
    let activity = 0;
    const byActivity = new Map<string, number>();
    const scheduled = new Map<string, { type: string; at: number }>();
    let wftScheduledAt = 0;
    let wftStartedAt = 0;
    let scheduleToStartWft = 0;
    let scheduleToStartActivity = 0;
    for (const e of events) {
      const at = ms(e.eventTime);
      switch (e.eventType) {
        case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: wftScheduledAt = at; break;
        case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: wftStartedAt = at; scheduleToStartWft += at - wftScheduledAt; break;
        case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: wft += at - wftStartedAt; break;
        case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: scheduled.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', at }); break;
        case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: { const s = scheduled.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId)); if (s) { scheduleToStartActivity += at - s.at; s.at = at; } break; }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: { const s = scheduled.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)); if (s) { activity += at - s.at; byActivity.set(s.type, (byActivity.get(s.type) ?? 0) + at - s.at); } break; }
      }
    }
    if (process.env.TIMELINE_EVENTS) {
      const first = ms(events[0]?.eventTime);
      let previous = first;
      for (const e of events) {
        const at = ms(e.eventTime);
        console.log(`${(at - first).toFixed(0).padStart(6)} +${(at - previous).toFixed(0).padStart(4)}  ${EventType[e.eventType ?? 0]?.replace('EVENT_TYPE_', '')} ${e.activityTaskScheduledEventAttributes?.activityType?.name ?? e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? ''}`);
        previous = at;
      }
    }
    const total = ms(events.at(-1)?.eventTime) - ms(events[0]?.eventTime);
    console.log(`last run, from history: ${total.toFixed(0)} ms in ${events.length} events`);
    console.log(`  workflow tasks running: ${wft.toFixed(0)} ms (${events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length} tasks)`);
    console.log(`  workflow tasks waiting to start: ${scheduleToStartWft.toFixed(0)} ms`);
    console.log(`  activities running: ${activity.toFixed(0)} ms (${scheduled.size} activities)`);
    console.log(`  activities waiting to start: ${scheduleToStartActivity.toFixed(0)} ms`);
    for (const [type, t] of [...byActivity.entries()].sort((a, b) => b[1] - a[1])) console.log(`    ${type.padEnd(24)} ${t.toFixed(0)} ms`);
  } finally {
    await bench.stop();
  }
}

void main();
