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

/** The answer of the `status` query. */
export interface MigrationStatus {
  pipeline: string;
  project: string;
  stage: Stage;
  /** One line on what happens next, as shown in the Temporal UI. */
  next: string;
  waitingFor?: string;
  paused: boolean;
  canary?: { step: number; of: number; percent: number };
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
  mutations: Mutation[];
  decisions: Decision[];
  rollback?: RollbackRecord;
}
