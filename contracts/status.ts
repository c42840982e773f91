// What the `status` query returns and what the result of a migration records.

import type { ErrorType } from './errors';
import type { Outcome, Stage } from './stages';

/** One change keyless made to the outside world, with who approved it. */
export interface Mutation {
  kind: 'route-published' | 'account-created' | 'role-granted' | 'token-creator-granted' | 'key-restricted' | 'key-deleted' | 'key-restored' | 'key-undeleted' | 'account-deleted' | 'role-removed';
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
  /** Vertex error rate minus the key's (the key's counted as 0 when it is already rejected). */
  delta: number;
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
  rollback?: RollbackRecord;
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
  rollback?: RollbackRecord;
}
