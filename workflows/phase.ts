// The one-line explanation of where a migration stands, as one pure function of its state:
// the `status` query, the Temporal UI's current details and the CLI all show this text.

import { formatDuration } from '../contracts/duration';
import type { Stage } from '../contracts/stages';
import { describeWait, type Wait } from '../contracts/waits';

/** The parts of a migration's state the explanation depends on. */
export interface PhaseInput {
  stage: Stage;
  paused: boolean;
  /** The key is already rejected: say so, the operator is repairing a pipeline that is down. */
  repair?: boolean;
  wait?: Wait;
  canary?: { step: number; of: number; percent: number };
  bakeEndsAt?: string;
  /** What the step has judged and asks for; once its bake is done, until when it may wait for the rest. */
  evidence?: { vertexRequests: number; minRequests: number; bakeDone: boolean; bakedMs: number; waitsUntil?: string };
  rollbackReason?: string;
  /** Resources rollback left as someone else changed them: the operator has to look at them. */
  leftAsFound?: string[];
  /** The job's own path was only checked, not walked: the operator should run `keyless doctor` inside the job. */
  runtimeUnproven?: boolean;
}

/** What happens next, in one line. */
export function describeNext(state: PhaseInput): string {
  const text = describe(state);
  return state.repair && !text.startsWith('rolled back') ? `repair (the key is already rejected): ${text}` : text;
}

function describe(state: PhaseInput): string {
  // A held soak is a wait too, but the operator's next step is what matters: say how to end it.
  if (state.wait?.kind === 'key-traffic') return HELD;
  if (state.wait?.kind === 'approval' && state.wait.stage === 'cutover' && state.runtimeUnproven) {
    return `waiting for ${describeWait(state.wait)}; first run \`keyless doctor\` inside the job: against Google keyless could check the runtime's configuration, not walk its path`;
  }
  if (state.wait) return `waiting for ${describeWait(state.wait)}`;
  switch (state.stage) {
    case 'canary': {
      const c = state.canary;
      if (!c) return 'starting the canary';
      const where = `canary step ${c.step}/${c.of} at ${c.percent}% on Vertex`;
      if (state.paused) return `${where}: paused, send resume to restart the bake clock`;
      const e = state.evidence;
      if (e?.bakeDone) {
        return `${where}: baked ${formatDuration(e.bakedMs)}, ${e.vertexRequests} of ${e.minRequests} Vertex requests judged; baking on for evidence until ${e.waitsUntil ?? 'it is there'}`;
      }
      const seen = e && e.minRequests > 0 ? ` (${e.vertexRequests} of ${e.minRequests} Vertex requests judged so far)` : '';
      return state.bakeEndsAt ? `${where}: baking until ${state.bakeEndsAt}${seen}` : `${where}${seen}`;
    }
    case 'rolling-back':
      return `rolling back: ${state.rollbackReason ?? 'requested'}`;
    case 'rolled-back': {
      const text = `rolled back: ${state.rollbackReason ?? 'requested'}`;
      if (!state.leftAsFound?.length) return text;
      return `${text}; left as found, because someone else changed it: ${state.leftAsFound.join(', ')} (decide its state by hand)`;
    }
    case 'completed':
      return 'completed: the pipeline runs on Vertex with its service account';
    case 'held':
      return HELD;
    case 'soak':
      return 'soaking: 100% on Vertex, checking that the key sees no requests';
    default:
      return `running ${state.stage}`;
  }
}

const HELD = 'held: the key still sees traffic; stop it, or send promote to override or rollback';
