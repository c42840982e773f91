// What the `status` query returns and what the result of a migration records.

import type { ErrorType } from './errors';
import type { ApprovalStage, Outcome, Stage } from './stages';

/** One change keyless made to the outside world, with who approved it. */
export interface Mutation {
  kind: 'route-published' | 'account-created' | 'role-granted' | 'token-creator-granted' | 'key-restricted' | 'key-deleted' | 'key-restored' | 'key-undeleted' | 'account-deleted' | 'role-removed' | 'token-creator-removed';
  target: string;
  detail: string;
  at: string;
  approvedBy?: string;
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

export interface RollbackRecord {
  reason: string;
  failureType?: ErrorType | string;
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
  waitingFor?: string;
  paused: boolean;
  canary?: { step: number; of: number; percent: number };
  lastAnalysis?: CanaryAnalysis;
  /** What the key saw during the soak: who still uses it when the migration is held. */
  soak?: { keyRequests: number; byMethod: { method: string; responseCode: string; requests: number }[] };
  vertexPercent: number;
  mutations: Mutation[];
  decisions: Decision[];
  /** Approvals refused for who sent them; absent when there were none (or from an older worker). */
  refusals?: ApprovalRefusals;
  rollback?: RollbackRecord;
  /** What rollback left as it found it, because someone else had changed it. */
  leftAsFound?: LeftAsFound[];
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
  /** The dual-run report (see activities/dual-run), when the migration got that far. */
  dualRun?: unknown;
  canary: CanaryAnalysis[];
  soak?: { keyRequests: number; byMethod: { method: string; responseCode: string; requests: number }[] };
  refusals?: ApprovalRefusals;
  rollback?: RollbackRecord;
  leftAsFound?: LeftAsFound[];
}
