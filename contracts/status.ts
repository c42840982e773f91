// What the `status` query returns and what the result of a migration records.

import type { ErrorType } from './errors';
import type { DualRunReport, SoakTraffic } from './reports';
import type { Outcome, Stage } from './stages';
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
  /**
   * true: `by` is the email a Google ID token proved; false or absent: `by` is what the caller
   * typed, unverified (approvals.verify none, or a signal without a token).
   */
  verified?: boolean;
  /** Set when the message was recorded but not acted on, saying why (a promote signal where promote needs a token). */
  ignored?: string;
  /** A promote that ended a canary step: the evidence it accepted. */
  accepted?: StepEvidence;
}

/** What a canary step had judged when it ended (or when an operator accepted it). */
export interface StepEvidence {
  step: number;
  percent: number;
  /** Vertex requests judged in the step. */
  vertexRequests: number;
  /** What the step asked for before it would advance on its own. */
  minRequests: number;
  /** Bake time spent in the step (pauses excluded). */
  bakedMs: number;
  /** The last analysis's verdict in the step; absent when none ran. */
  verdict?: CanaryAnalysis['verdict'];
}

/** Why a canary step ended and moved on. */
export type StepAdvance =
  /** Its bake passed and it judged at least minRequests Vertex requests, healthy. */
  | 'evidence'
  /** An operator accepted it with promote (on whatever evidence it had). */
  | 'promote'
  /** The key was already rejected: nothing healthy to protect, the (shortened) bake was enough. */
  | 'repair'
  /** The step asked for no evidence (minRequests 0): its bake alone. */
  | 'time';

/** One canary step from start to end: for `keyless report`'s per-step table. */
export interface CanaryStepRecord extends StepEvidence {
  startedAt: string;
  endedAt?: string;
  advancedBy?: StepAdvance;
  /** Who promoted, when advancedBy is promote. */
  by?: string;
  /** When the step began waiting for an operator (maxBake passed without the evidence). */
  evidenceWaitSince?: string;
}

/** An approve, reject or promote the migration took in but would not act on: the attempt stays on record. */
export interface ApprovalRefusal {
  action: 'approve' | 'reject' | 'promote';
  /** The approval stage of an approve or reject; the migration's stage for a promote. */
  stage: string;
  /** Who the token proved, or who the payload claimed when no token proved anyone. */
  by: string;
  at: string;
  /** Why, as the caller was told (an ApproverNotAllowed or UnverifiedIdentity failure). */
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
  baseline?: { source: 'key-this-step' | 'key-whole-canary' | 'key-before-canary' | 'none'; errorRate: number; requests: number };
  /** How far the delta may go before a breach: maxErrorRateDelta plus three standard errors of the difference. */
  allowedDelta?: number;
  verdict: 'healthy' | 'breach' | 'too-few-requests';
  /** Where the analysis ran: a step's bake, its wait for evidence, or a gate watched after the canary. Absent before it existed. */
  phase?: AnalysisPhase;
  /** What breached (verdict breach): a broken identity, server errors, quota, or latency. */
  breach?: BreachKind;
  /** Responses by class on each side; 429 apart from 5xx. */
  classes?: { key: ResponseClasses; vertex: ResponseClasses };
  /** 429s on Vertex against the key's, judged like the error rate. */
  quota?: { vertexRate: number; baselineRate: number; allowedDelta: number };
  latency?: LatencyJudgement;
  /** The Vertex requests this step must judge before it advances. */
  minRequests?: number;
  /** Events in the workflow's history when the analysis was recorded (after continue-as-new, of the new run). */
  historyLength?: number;
}

export type AnalysisPhase = 'bake' | 'evidence-wait' | 'approve-finalize' | 'shared-key-wait';

export type BreachKind = 'identity' | 'error-rate' | 'quota' | 'latency';

/** Response counts of one side by class. Error rate is server + notFound; quota and identity are judged apart. */
export interface ResponseClasses {
  ok: number;
  /** 401 and 403: the credential is refused. On Vertex, a broken identity: rolled back at once. */
  identity: number;
  /** 429. */
  quota: number;
  /** 5xx. */
  server: number;
  /** 404: a model not served. */
  notFound: number;
  /** Other 4xx (the caller's own doing; fail the same on either path). */
  other: number;
}

/** Vertex's latency distribution against the baseline's, judged by a rank test. */
export interface LatencyJudgement {
  vertex: LatencySummary;
  baseline: LatencySummary & { source: NonNullable<CanaryAnalysis['baseline']>['source'] | 'key-before-canary' };
  /** Hodges–Lehmann estimate of how many times slower Vertex is (median of the pairwise ratios); null without both sides. */
  ratio: number | null;
  maxRatio: number;
  /** Mann–Whitney z of Vertex's latencies against maxRatio times the baseline's; above 3 is a breach. */
  z: number | null;
  verdict: 'healthy' | 'breach' | 'too-few-requests';
}

export interface LatencySummary {
  count: number;
  /** Medians and 95th percentiles read from the buckets (their upper bounds). */
  p50Ms: number | null;
  p95Ms: number | null;
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
  /** Each canary step so far: its evidence and why it moved on. Absent from older workers. */
  canarySteps?: CanaryStepRecord[];
  /** What the key saw during the soak: who still uses it when the migration is held. */
  soak?: SoakTraffic;
  vertexPercent: number;
  mutations: Mutation[];
  decisions: Decision[];
  /**
   * How approvals are proved: `google-id-token` (each approver proved by a Google ID token) or
   * `none` (anyone who may write to the namespace may approve, under any name: unverified).
   * Absent from workers before verified approvals.
   */
  approvals?: { verify: 'google-id-token' | 'none'; approvers?: string[] };
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
  /**
   * How approvals are proved: `google-id-token` (each approver proved by a Google ID token) or
   * `none` (anyone who may write to the namespace may approve, under any name: unverified).
   * Absent from workers before verified approvals.
   */
  approvals?: { verify: 'google-id-token' | 'none'; approvers?: string[] };
  /** The dual-run report, when the migration got that far. */
  dualRun?: DualRunReport;
  canary: CanaryAnalysis[];
  /** Each canary step: its evidence and why it moved on. Absent from older workers. */
  canarySteps?: CanaryStepRecord[];
  /** Analyses left out of `canary` to keep a long wait's record bounded (the first and latest of each step are kept). */
  canaryAnalysesOmitted?: number;
  soak?: SoakTraffic;
  refusals?: ApprovalRefusals;
  rollback?: RollbackRecord;
  leftAsFound?: LeftAsFound[];
  warnings?: string[];
  /** What the identity stage set up for a federated runtime, and how far the probe proved it. */
  workloadIdentity?: { pool: string; provider: string; member: string; attributeCondition: string; verified?: 'chain' | 'configuration' };
}
