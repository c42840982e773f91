// One pipeline's move from its API key to Vertex AI with a service account. The stage machine
// is in ../shared/DESIGN.md; this file walks it. Every side effect is an activity; this code
// only decides, waits and remembers, so it must stay deterministic.

import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { KeylessActivities } from '../activities';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../contracts/errors';
import {
  ApprovalSchema,
  MESSAGE_DESCRIPTIONS,
  OperatorActionSchema,
  RollbackRequestSchema,
  approveUpdate,
  pauseSignal,
  promoteSignal,
  rejectUpdate,
  resumeSignal,
  rollbackSignal,
  statusQuery,
  type Approval,
  type ApprovalReceipt,
  type OperatorAction,
  type RollbackRequest,
} from '../contracts/messages';
import { KeylessPipeline, KeylessProject, KeylessStage } from '../contracts/names';
import { durationMs, validateSpec, type PipelineSpec, type PipelineSpecInput } from '../contracts/spec';
import type { ApprovalStage, Stage } from '../contracts/stages';
import type { Decision, MigrationResult, MigrationStatus, Mutation, RollbackRecord } from '../contracts/status';
import { describeNext } from './phase';

// Route writes are small and idempotent per generation; a store that stays down for minutes
// is an outage worth surfacing, not hiding behind endless retries.
const { publishRoute } = proxyActivities<KeylessActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

// Rollback must finish: it retries without an attempt limit, with a slower ceiling.
const { publishRoute: publishRouteForRollback } = proxyActivities<KeylessActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/** Thrown inside the main flow when an operator or a failed stage asks for a rollback. */
class RollbackRequested extends Error {
  constructor(readonly record: RollbackRecord) {
    super(record.reason);
  }
}

/** Everything the workflow knows about its migration; handlers are its methods. */
class Migration {
  stage: Stage = 'inventory';
  paused = false;
  promoteRequested = false;
  waitingFor?: string;
  canary?: { step: number; of: number; percent: number };
  bakeEndsAt?: string;
  vertexPercent = 0;
  routeGeneration = 0;
  readonly mutations: Mutation[] = [];
  readonly decisions: Decision[] = [];
  readonly approvals = new Map<ApprovalStage, ApprovalReceipt>();
  rollbackRecord?: RollbackRecord;

  constructor(readonly spec: PipelineSpec) {}

  /** Registers every message handler, each with the description the Temporal UI lists. */
  installHandlers(): void {
    setHandler(approveUpdate, (a) => this.decide(a, 'approved'), {
      validator: (a) => this.validateApproval(a),
      description: MESSAGE_DESCRIPTIONS.approve,
    });
    setHandler(rejectUpdate, (a) => this.decide(a, 'rejected'), {
      validator: (a) => this.validateApproval(a),
      description: MESSAGE_DESCRIPTIONS.reject,
    });
    setHandler(pauseSignal, (a) => this.onPause(a), { description: MESSAGE_DESCRIPTIONS.pause });
    setHandler(resumeSignal, (a) => this.onResume(a), { description: MESSAGE_DESCRIPTIONS.resume });
    setHandler(promoteSignal, (a) => this.onPromote(a), { description: MESSAGE_DESCRIPTIONS.promote });
    setHandler(rollbackSignal, (r) => this.onRollback(r), { description: MESSAGE_DESCRIPTIONS.rollback });
    setHandler(statusQuery, () => this.status(), { description: MESSAGE_DESCRIPTIONS.status });
  }

  /** Refuses, without touching state, an approval that is malformed, early, late or from a stranger. */
  validateApproval(input: Approval): void {
    const parsed = ApprovalSchema.safeParse(input);
    if (!parsed.success) {
      throw new Error(`invalid approval: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
    }
    const { stage, by } = parsed.data;
    if (this.waitingFor !== approvalWait(stage)) {
      throw new Error(`stage ${stage} is not waiting for approval (the migration is at ${this.stage})`);
    }
    const approvers = this.spec.approvals.approvers;
    if (approvers && !approvers.includes(by)) {
      throw new Error(`${by} is not in approvals.approvers for ${this.spec.pipeline}`);
    }
  }

  decide(input: Approval, decision: ApprovalReceipt['decision']): ApprovalReceipt {
    const { stage, by, note } = ApprovalSchema.parse(input);
    const receipt: ApprovalReceipt = { stage, decision, by, at: nowIso() };
    this.approvals.set(stage, receipt);
    this.decisions.push({ action: decision === 'approved' ? 'approve' : 'reject', stage, by, note, at: receipt.at });
    return receipt;
  }

  onPause(input?: OperatorAction): void {
    const action = OperatorActionSchema.safeParse(input ?? {});
    this.paused = true;
    this.record('pause', action.success ? action.data : {});
  }

  onResume(input?: OperatorAction): void {
    const action = OperatorActionSchema.safeParse(input ?? {});
    this.paused = false;
    this.record('resume', action.success ? action.data : {});
  }

  onPromote(input?: OperatorAction): void {
    const action = OperatorActionSchema.safeParse(input ?? {});
    this.promoteRequested = true;
    this.record('promote', action.success ? action.data : {});
  }

  onRollback(input: RollbackRequest): void {
    const parsed = RollbackRequestSchema.safeParse(input);
    // Signals cannot be refused; a malformed request is logged and ignored rather than acted on.
    if (!parsed.success) {
      log.warn('ignored a malformed rollback signal', { issues: parsed.error.issues.map((i) => i.message) });
      return;
    }
    this.decisions.push({ action: 'rollback', by: parsed.data.by, note: parsed.data.reason, at: nowIso() });
    // The first reason wins: later requests do not rewrite why the migration was abandoned.
    this.rollbackRecord ??= { reason: parsed.data.reason, by: parsed.data.by, at: nowIso() };
  }

  private record(action: Decision['action'], input: OperatorAction): void {
    this.decisions.push({ action, by: input.by ?? 'unknown', note: input.note, at: nowIso() });
  }

  status(): MigrationStatus {
    return {
      pipeline: this.spec.pipeline,
      project: this.spec.project,
      stage: this.stage,
      next: describeNext({ ...this, rollbackReason: this.rollbackRecord?.reason }),
      waitingFor: this.waitingFor,
      paused: this.paused,
      canary: this.canary,
      vertexPercent: this.vertexPercent,
      mutations: this.mutations,
      decisions: this.decisions,
      rollback: this.rollbackRecord,
    };
  }

  /** Moves to a stage and publishes it where operators look: search attributes and current details. */
  enter(stage: Stage): void {
    this.stage = stage;
    this.publishDetails();
  }

  publishDetails(): void {
    upsertSearchAttributes([{ key: KeylessStage, value: this.stage }]);
    setCurrentDetails(`${this.spec.pipeline}: ${describeNext({ ...this, rollbackReason: this.rollbackRecord?.reason })}`);
  }

  /** Throws if a rollback has been asked for; called at every point the migration could stop. */
  checkpoint(): void {
    if (this.rollbackRecord) throw new RollbackRequested(this.rollbackRecord);
  }

  /** Waits for an operator's decision on a stage, honouring the spec's deadline. */
  async awaitApproval(stage: ApprovalStage): Promise<ApprovalReceipt> {
    this.enter(stage === 'cutover' ? 'approve-cutover' : 'approve-finalize');
    this.waitingFor = approvalWait(stage);
    this.publishDetails();
    const { deadline, onDeadline } = this.spec.approvals;
    const decided = () => this.approvals.has(stage) || this.rollbackRecord !== undefined;
    const inTime = await condition(decided, deadline);
    if (!inTime && onDeadline === 'rollback') {
      this.rollbackRecord ??= { reason: `no decision on ${stage} within ${deadline}`, failureType: 'ApprovalDeadline', at: nowIso() };
    } else if (!inTime) {
      await condition(decided);
    }
    this.waitingFor = undefined;
    this.checkpoint();
    const receipt = this.approvals.get(stage)!;
    if (receipt.decision === 'rejected') {
      this.rollbackRecord ??= { reason: `${stage} rejected by ${receipt.by}`, failureType: 'Rejected', by: receipt.by, at: receipt.at };
      this.checkpoint();
    }
    return receipt;
  }

  /** Publishes a route with a generation newer than any this workflow wrote before. */
  async publish(vertexPercent: number, approvedBy: string | undefined, forRollback = false): Promise<void> {
    // Workflow time in milliseconds keeps generations rising across successive migrations of the
    // same pipeline, and replays produce the same value.
    this.routeGeneration = Math.max(this.routeGeneration + 1, Date.now());
    const route = {
      pipeline: this.spec.pipeline,
      generation: this.routeGeneration,
      vertexPercent,
      project: this.spec.project,
      location: this.spec.vertex.location,
      serviceAccount: serviceAccountEmail(this.spec),
      updatedAt: nowIso(),
    };
    const send = forRollback ? publishRouteForRollback : publishRoute;
    const outcome = await send({ store: this.spec.route.store, route });
    this.vertexPercent = vertexPercent;
    this.mutations.push({
      kind: 'route-published',
      target: outcome.location,
      detail: `generation ${route.generation}: ${vertexPercent}% on Vertex`,
      at: nowIso(),
      approvedBy,
    });
  }

  /** Walks the canary steps: publish each step's route, then bake it. */
  async runCanary(approvedBy: string | undefined): Promise<void> {
    this.enter('canary');
    const steps = this.spec.canary.steps;
    for (const [index, step] of steps.entries()) {
      this.checkpoint();
      this.canary = { step: index + 1, of: steps.length, percent: step.percent };
      await this.publish(step.percent, approvedBy);
      await this.bake(durationMs(step.bake));
    }
    this.canary = undefined;
  }

  /** Waits out a bake; pause stops its clock, promote ends it, rollback aborts it. */
  async bake(totalMs: number): Promise<void> {
    let remaining = totalMs;
    this.promoteRequested = false;
    while (remaining > 0 && !this.promoteRequested) {
      this.checkpoint();
      if (this.paused) {
        this.bakeEndsAt = undefined;
        this.publishDetails();
        await condition(() => !this.paused || this.rollbackRecord !== undefined);
        continue;
      }
      const started = Date.now();
      this.bakeEndsAt = new Date(started + remaining).toISOString();
      this.publishDetails();
      await condition(() => this.paused || this.promoteRequested || this.rollbackRecord !== undefined, remaining);
      remaining -= Date.now() - started;
    }
    this.bakeEndsAt = undefined;
    this.checkpoint();
  }

  /** Undoes what was done, newest first, in a scope that cancellation cannot interrupt. */
  async rollback(record: RollbackRecord): Promise<void> {
    this.rollbackRecord ??= record;
    this.waitingFor = undefined;
    this.canary = undefined;
    this.enter('rolling-back');
    await CancellationScope.nonCancellable(async () => {
      if (this.mutations.some((m) => m.kind === 'route-published') && this.vertexPercent !== 0) {
        log.info('rollback: routing the pipeline back to its key', { pipeline: this.spec.pipeline });
        await this.publish(0, this.rollbackRecord?.by, true);
      }
    });
    this.enter('rolled-back');
  }

  result(): MigrationResult {
    return {
      outcome: this.stage === 'rolled-back' ? 'rolled-back' : this.stage === 'held' ? 'held' : 'completed',
      pipeline: this.spec.pipeline,
      project: this.spec.project,
      finalStage: this.stage,
      mutations: this.mutations,
      decisions: this.decisions,
      rollback: this.rollbackRecord,
    };
  }
}

/** Migrates one pipeline from its API key to Vertex AI with a service account. */
export async function migratePipeline(input: PipelineSpecInput): Promise<MigrationResult> {
  const spec = parseSpec(input);
  const migration = new Migration(spec);
  migration.installHandlers();
  upsertSearchAttributes([
    { key: KeylessProject, value: spec.project },
    { key: KeylessPipeline, value: spec.pipeline },
  ]);
  migration.publishDetails();

  try {
    const cutover = spec.approvals.cutover ? await migration.awaitApproval('cutover') : undefined;
    await migration.runCanary(cutover?.by);
    migration.enter('completed');
  } catch (err) {
    if (!(err instanceof RollbackRequested)) throw err;
    await migration.rollback(err.record);
  }

  // Let in-flight updates answer before the workflow closes.
  await condition(allHandlersFinished);
  return migration.result();
}

function parseSpec(input: PipelineSpecInput): PipelineSpec {
  const result = validateSpec(input);
  if (result.ok) return result.spec;
  throw ApplicationFailure.create({
    type: ErrorType.InvalidSpec,
    nonRetryable: true,
    message: `invalid pipeline spec: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    details: [result.problems],
  });
}

function approvalWait(stage: ApprovalStage): string {
  return `approve(stage: ${stage})`;
}

function serviceAccountEmail(spec: PipelineSpec): string {
  return `${spec.serviceAccount.accountId}@${spec.project}.iam.gserviceaccount.com`;
}

function nowIso(): string {
  return new Date().toISOString();
}
