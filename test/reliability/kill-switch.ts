// A workflow interceptor for the reliability suite only (bundled into the suite's worker processes,
// never into keyless's own worker). Each time a migration schedules an activity it tells the worker
// which stage it is in; the worker's sink SIGKILLs its own process at the first activity of the
// stage named in KEYLESS_TEST_KILL_AT_STAGE, or as the activity named in KEYLESS_TEST_KILL_AT_ACTIVITY
// is scheduled (a point inside a stage). Sinks run after the workflow task is computed and
// before its result is sent, so the worker dies exactly at the stage boundary: the server never
// hears the decision and a new worker must make it again from history.

import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { KeylessStage } from '../../contracts/names';

export interface KillSwitchSinks extends Sinks {
  killSwitch: { activityScheduled(stage: string, activityType: string): void };
}

const { killSwitch } = proxySinks<KillSwitchSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        killSwitch.activityScheduled(workflowInfo().typedSearchAttributes.get(KeylessStage) ?? 'none', input.activityType);
        return next(input);
      },
    },
  ],
});
