// What the `status` query returns and what the result of a migration records.

import type { ErrorType } from './errors';
import type { DualRunReport, SoakTraffic } from './reports';
import type { ApprovalStage, Outcome, Stage } from './stages';
import type { Wait } from './waits';

/** One change keyless made to the outside world, with who approved it. */
export interface Mutation {
  kind:
    | 'route-published'
    | 'account-created'
    | 'role-granted'
    | 'token-creator-granted'
    | 'workload-identity-pool-created'
    | 'workload-identity-provider-created'
    | 'workload-identity-user-granted'
    | 'key-restricted'
    | 'key-deleted'
    | 'key-restored'
    | 'key-undeleted'
    | 'account-deleted'
    | 'role-removed'
    | 'token-creator-removed'
    | 'workload-identity-pool-deleted'
    | 'workload-identity-provider-deleted'
    | 'workload-identity-user-removed';
  target: string;
  detail: string;
  at: string;
  approvedBy?: string;
  /** The undo (in the migration's undo log) that reverts this mutation; absent: nothing will. */
  undoId?: string;
  /** Set once rollback has undone this mutation. */
  undoneAt?: string;
}

/** An operator's decision, kept in order. */
export interface Decision {
  action: 'approve' | 'reject' | 'pause' | 'resume' | 'promote' | 'rollback';
  stage?: string;
  by: string;
  note?: string;
  at: string;
}

/** An approve or reject the migration took in but would not act on: the attempt stays on record. */
export interface ApprovalRefusal {
  action: 'approve' | 'reject';
  stage: ApprovalStage;
  by: string;
  at: string;
  /** Why, as the caller was told (an ApproverNotAllowed failure). */
  reason: string;
}

/** Refused approvals: how many there were, and the most recent ones (older ones are dropped). */
export interface ApprovalRefusals {
  total: number;
  recent: ApprovalRefusal[];
}

/** A resource rollback did not put back because someone else changed it after keyless did. */
export interface LeftAsFound {
  /** The resource's name, e.g. the key's `projects/…/keys/…`. */
  target: string;
  /** Fields that differ from the snapshot taken before the migration (names, never values). */
  changedFields: string[];
  /** What the compensation found, as it reported it. */
  reason: string;
  /** What the operator should do now. */
  advice: string;
  at: string;
}

/** What to tell the operator about a key rollback left as someone else changed (or deleted) it. */
export function keyLeftAsFoundAdvice(key: string, snapshot: { displayName: string; restrictions?: object }, deleted: boolean): string {
  const restrictions = JSON.stringify(snapshot.restrictions ?? {});
  const before = `before the migration it had display name "${snapshot.displayName}" and restrictions ${restrictions === '{}' ? 'none' : restrictions}`;
  return deleted
    ? `someone else deleted ${key} during the migration and rollback did not undelete it: if a job still needs the key, undelete it within 30 days of its deletion (${before})`
    : `someone else changed ${key} after keyless did, so rollback left it as they set it, with whatever of keyless's own changes survived theirs: ` +
        `find who in Cloud Audit Logs (apikeys.googleapis.com UpdateKey on this key), agree with them on the key's state and set it by hand (${before})`;
}

export interface RollbackRecord {
  reason: string;
  failureType?: ErrorType;
  by?: string;
  at: string;
}

/** One look at the traffic during a canary bake: the key's error rate against the service account's. */
export interface CanaryAnalysis {
  step: number;
  percent: number;
  at: string;
  key: { requests: number; errors: number; errorRate: number };
  vertex: { requests: number; errors: number; errorRate: number };
  /** Vertex error rate minus the baseline's. */
  delta: number;
  /**
   * What Vertex was compared with: the key in this step; the key over the whole canary when this
   * step gave it too few requests (the 100 % step gives it none); none (0 %) when the key is
   * already rejected or never had enough traffic. Absent in analyses recorded before it existed.
   */
  baseline?: { source: 'key-this-step' | 'key-whole-canary' | 'none'; errorRate: number; requests: number };
  /** How far the delta may go before a breach: maxErrorRateDelta plus three standard errors of the difference. */
  allowedDelta?: number;
  verdict: 'healthy' | 'breach' | 'too-few-requests';
}

/** The answer of the `status` query. */
export interface MigrationStatus {
  pipeline: string;
  project: string;
  stage: Stage;
  /** One line on what happens next, as shown in the Temporal UI. */
  next: string;
  /** The key is already rejected by Google: the migration repairs a pipeline that is down. */
  repair: boolean;
  /** What the migration waits for; compare its kind, never the sentence. */
  wait?: Wait;
  /** The wait as one line (describeWait), for people. */
  waitingFor?: string;
  paused: boolean;
  canary?: { step: number; of: number; percent: number };
  lastAnalysis?: CanaryAnalysis;
  /** What the key saw during the soak: who still uses it when the migration is held. */
  soak?: SoakTraffic;
  vertexPercent: number;
  mutations: Mutation[];
  decisions: Decision[];
  /** Approvals refused for who sent them; absent when there were none (or from an older worker). */
  refusals?: ApprovalRefusals;
  rollback?: RollbackRecord;
  /** What rollback left as it found it, because someone else had changed it. */
  leftAsFound?: LeftAsFound[];
  /** What the operator should know that stops nothing. */
  warnings?: string[];
  /**
   * How far the job's own path was proved: `chain` (a runner token reached Vertex as the account)
   * or `configuration` (read back; run `keyless doctor` inside the job before approving the cutover).
   */
  runtime?: { kind: string; verified: 'chain' | 'configuration' };
  /** What the identity stage set up for a federated runtime, once it has (what `keyless credentials` prints a configuration for). */
  workloadIdentity?: { pool: string; provider: string; member: string; attributeCondition: string };
}

/** The result of a finished migration. */
export interface MigrationResult {
  outcome: Outcome;
  pipeline: string;
  project: string;
  finalStage: Stage;
  repair: boolean;
  mutations: Mutation[];
  decisions: Decision[];
  /** The dual-run report, when the migration got that far. */
  dualRun?: DualRunReport;
  canary: CanaryAnalysis[];
  soak?: SoakTraffic;
  refusals?: ApprovalRefusals;
  rollback?: RollbackRecord;
  leftAsFound?: LeftAsFound[];
  warnings?: string[];
  /** What the identity stage set up for a federated runtime, and how far the probe proved it. */
  workloadIdentity?: { pool: string; provider: string; member: string; attributeCondition: string; verified?: 'chain' | 'configuration' };
}
