// A migration's plan as data: what each stage would change, computed by the stage's own pure plan
// function (workflows/stages/) from read-only facts. `keyless plan` reads the facts from the cloud
// and prints the plan; the workflow calls the same functions with the facts it has learned and
// records what they say, so plan and run can never disagree on a rule.

import type { Mutation } from './status';
import type { PipelineStage } from './stages';

/** One thing a stage would do (or a warning about it), in workflow order. */
export interface PlannedStep {
  stage: PipelineStage;
  /** The mutation kind as the result will record it; `warning` and `note` change nothing. */
  mutation: Mutation['kind'] | 'warning' | 'note';
  target: string;
  /** What the mutation does, in the words its record uses. */
  detail: string;
  /** When it happens (after which approval, bake or soak), for the plan's reader. */
  when?: string;
  /** True when the cloud already says so: the migration will find it done and write nothing. */
  alreadyDone?: boolean;
}

/** What is known about the outside world when a plan is made; absent fields are unknown. */
export interface PlanFacts {
  /** The key as inventory reads it. */
  key?: { blockCandidate: boolean; deleted: boolean; deleteTime?: string; sharedWith: string[] };
  /** The pipeline's service account exists already (it will be adopted, not created). */
  accountExists?: boolean;
  /** The project already binds roles/aiplatform.user to the account, unconditionally. */
  vertexRoleHeld?: boolean;
  /** The orchestrator's email. */
  orchestratorEmail?: string;
  /** The orchestrator may already mint the account's tokens. */
  tokenCreatorHeld?: boolean;
  /** The route store's current document. */
  currentRoute?: { vertexPercent: number; generation: number };
  /** The project's number (federated principals and pool names use it). */
  projectNumber?: string;
  /** What exists of a federated runtime's pool, provider and binding. */
  workloadIdentity?: { pool: ResourceState; provider: ResourceState; userHeld: boolean };
  /** The account a Google Cloud runtime runs as. */
  runtimeAccount?: { email: string; computeDefault: boolean };
  /** The pipeline's requests (its key's and its account's) over a recent window, from Cloud Monitoring: what the canary's steps are sized against. */
  observedVolume?: { requests: number; windowMs: number };
}

/** A pool's or provider's state: `deleted` means its id is reserved (undeletable for 30 days). */
export type ResourceState = 'active' | 'deleted' | 'absent';

/** Whether a planned step changes something (not a warning or a note). */
export function isChange(step: PlannedStep): boolean {
  return step.mutation !== 'warning' && step.mutation !== 'note';
}
