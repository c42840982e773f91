// The state of one migration and everything that reads or changes it: the operators' messages,
// the waits, the record of what was done and the log of how to undo it. The stages in stages/ act;
// this class remembers. Workflow code: deterministic, no I/O.

import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, log, patched, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import {
  ApprovalSchema,
  MESSAGE_DESCRIPTIONS,
  OperatorActionSchema,
  RollbackRequestSchema,
  approveUpdate,
  pauseSignal,
  promoteSignal,
  promoteUpdate,
  rejectUpdate,
  resumeSignal,
  rollbackSignal,
  statusQuery,
  type Approval,
  type ApprovalReceipt,
  type OperatorAction,
  type OperatorReceipt,
  type RollbackRequest,
} from '../contracts/messages';
import type { VerifiedCaller } from '../contracts/identity';
import { KeylessStage } from '../contracts/names';
import type { WorkloadIdentityProbe } from '../contracts/activities';
import type { CredentialTraffic, DualRunReport, KeySnapshot, ProbeReport, SoakTraffic, TrafficReport } from '../contracts/reports';
import { approvalVerify, durationMs, pipelineAccount, type PipelineSpec } from '../contracts/spec';
import type { ApprovalStage, Stage } from '../contracts/stages';
import type { ApprovalRefusal, ApprovalRefusals, CanaryAnalysis, CanaryStepRecord, Decision, LeftAsFound, MigrationResult, MigrationStatus, Mutation, RollbackRecord, StepEvidence } from '../contracts/status';
import type { Undo, UndoResult } from '../contracts/undo';
import { EVIDENCE_WAIT_STAGES, describeWait, waitsForApproval, type Wait } from '../contracts/waits';
import { reads } from './activities';
import { countApproval, countCanaryVerdict, countMutation, countStage } from './metrics';
import { EVIDENCE_STAGE_ATTRIBUTE } from './patches';
import { describeNext, type PhaseInput } from './phase';

/** Refused approvals kept in state: enough to see who tried, bounded so a flood cannot grow it. */
const KEPT_REFUSALS = 20;
/**
 * Analyses kept in state: a wait for evidence or a watched gate analyses every interval for days,
 * and the record rides along every continue-as-new and ends in the result (Temporal caps payloads
 * at 2 MB). The first and the latest of each step and phase, and every breach, are always kept.
 */
const KEPT_ANALYSES = 200;

/** Used ID tokens kept (each only until it expires, an hour at most): a bound a flood of valid tokens cannot pass. */
const KEPT_TOKENS = 200;
/** google-auth-library accepts a token this long past its exp. */
const TOKEN_CLOCK_SKEW_S = 300;
/** Patch id: approve, reject and promote verify an idToken in an activity, promote is also an update, and a promote signal is ignored where promote must be verified. */
const VERIFIED_APPROVALS = 'verified-approvals';

/** Approvers are emails; Google reports them in lower case. */
function sameIdentity(listed: string, proved: string): boolean {
  return listed.trim().toLowerCase() === proved.toLowerCase();
}

/** Thrown inside the main flow when an operator or a failed stage asks for a rollback. */
export class RollbackRequested extends Error {
  constructor(readonly record: RollbackRecord) {
    super(record.reason);
  }
}

/** What a migration carries across continue-as-new; all JSON. */
export interface MigrationMemory {
  stage: Stage;
  repair: boolean;
  mutations: Mutation[];
  decisions: Decision[];
  approvals: ApprovalReceipt[];
  facts: MigrationFacts;
  canaryStep: number;
  bakeRemainingMs?: number;
  routeGeneration: number;
  vertexPercent: number;
  analyses: CanaryAnalysis[];
  rollback?: RollbackRecord;
  refusals?: ApprovalRefusals;
  /** Absent in the memory of runs from before the undo log (rollback-legacy.ts rebuilds it). */
  undos?: Undo[];
  warnings?: string[];
  /** Absent in the memory of runs from before the evidence patch. */
  canarySteps?: CanaryStepRecord[];
  analysesOmitted?: number;
  /** A promote not yet acted on when the run continued as new. */
  promoteRequested?: boolean;
  /** Google ID tokens already used on this workflow (each proves one act only), until they expire. */
  usedTokens?: UsedToken[];
}

/** A used Google ID token: the SHA-256 of its text and its `exp` (seconds). */
export interface UsedToken {
  hash: string;
  exp: number;
}

/** What the stages learned about the outside world, kept for later stages and for rollback. */
export interface MigrationFacts {
  keyUid?: string;
  /** The key's restrictions, annotations and etag before keyless touched it. */
  keySnapshot?: KeySnapshot;
  /** The etag keyless itself last left on the key: a different one means someone else changed it. */
  keyEtag?: string;
  sharedWith?: string[];
  serviceAccountEmail?: string;
  serviceAccountUniqueId?: string;
  accountCreated?: boolean;
  roleAdded?: boolean;
  roleGrantedAt?: string;
  /** The orchestrator's token-creator grant on the account was keyless's. */
  tokenCreatorAdded?: boolean;
  dualRun?: DualRunReport;
  probe?: ProbeReport;
  soak?: SoakTraffic;
  /** The soak passed; what is left of the soak stage is the wait for pipelines sharing the key. */
  soakPassed?: boolean;
  keyDeleted?: boolean;
  blockCandidate?: boolean;
  /** Cloud time the traffic readings count from (set when the canary begins). */
  trafficAnchor?: string;
  /** The traffic reading when the current canary step began. */
  stepBaseline?: TrafficReport;
  /** The key's traffic over the week before the canary: a baseline when the canary leaves the key none. */
  keyBeforeCanary?: CredentialTraffic;
  /** The soak's current window: the reading it counts from, since when, and when its quiet time is up. */
  soakWindow?: { baseline: TrafficReport; since: string; quietUntil: string };
  /** The window a watched gate judges: the reading it counts from (a new one after each healthy verdict). */
  watchBaseline?: TrafficReport;
  /** When each approval's wait began, so its deadline survives continue-as-new. */
  approvalSince?: Partial<Record<ApprovalStage, string>>;
  /** Compensations rollback skipped because someone else changed the resource since keyless did. */
  leftAsFound?: LeftAsFound[];
  /** The project's number (federated principals name it). */
  projectNumber?: string;
  /** The account a Google Cloud runtime runs as, as provision found it. */
  runtimeAccount?: { email: string; source: 'spec' | 'cloud-run-job'; computeDefault: boolean };
  /** What the identity stage set up for a federated runtime. */
  workloadIdentity?: { pool: string; provider: string; member: string; attributeCondition: string };
  /** When roles/iam.workloadIdentityUser was confirmed (IAM's propagation window starts there). */
  workloadIdentityGrantedAt?: string;
  /** What the probe proved of the job's own path. */
  runtimeProbe?: WorkloadIdentityProbe;
}

export class Migration {
  stage: Stage;
  repair: boolean;
  paused = false;
  promoteRequested = false;
  wait?: Wait;
  bakeEndsAt?: string;
  canaryStep: number;
  bakeRemainingMs?: number;
  vertexPercent: number;
  routeGeneration: number;
  readonly mutations: Mutation[];
  readonly decisions: Decision[];
  readonly approvals: Map<ApprovalStage, ApprovalReceipt>;
  readonly facts: MigrationFacts;
  readonly analyses: CanaryAnalysis[];
  readonly canarySteps: CanaryStepRecord[];
  analysesOmitted: number;
  readonly refusals: ApprovalRefusals;
  /** How to undo what was done, oldest first; rollback walks it newest first. */
  readonly undos: Undo[];
  /** What the operator should know but that stops nothing (e.g. a runtime on the Compute Engine default account). */
  readonly warnings: string[];
  /** Google ID tokens already used here, so a token read from this history cannot act twice. */
  readonly usedTokens: UsedToken[];
  rollbackRecord?: RollbackRecord;
  /** The KeylessStage value last published by a wait, so a wait upserts only when it changes it. */
  private publishedStage?: string;

  constructor(
    readonly spec: PipelineSpec,
    memory?: MigrationMemory,
    legacyUndos?: (memory: MigrationMemory) => Undo[],
  ) {
    this.stage = memory?.stage ?? 'inventory';
    this.repair = memory?.repair ?? false;
    this.mutations = memory?.mutations ?? [];
    this.decisions = memory?.decisions ?? [];
    this.approvals = new Map((memory?.approvals ?? []).map((a) => [a.stage, a]));
    this.facts = memory?.facts ?? {};
    this.canaryStep = memory?.canaryStep ?? 0;
    this.bakeRemainingMs = memory?.bakeRemainingMs;
    this.routeGeneration = memory?.routeGeneration ?? 0;
    this.vertexPercent = memory?.vertexPercent ?? 0;
    this.analyses = memory?.analyses ?? [];
    this.canarySteps = memory?.canarySteps ?? [];
    this.analysesOmitted = memory?.analysesOmitted ?? 0;
    this.promoteRequested = memory?.promoteRequested ?? false;
    this.refusals = memory?.refusals ?? { total: 0, recent: [] };
    this.rollbackRecord = memory?.rollback;
    this.undos = memory?.undos ?? (memory && legacyUndos ? legacyUndos(memory) : []);
    this.warnings = memory?.warnings ?? [];
    this.usedTokens = memory?.usedTokens ?? [];
  }

  memory(): MigrationMemory {
    return {
      stage: this.stage,
      repair: this.repair,
      mutations: this.mutations,
      decisions: this.decisions,
      approvals: [...this.approvals.values()],
      facts: this.facts,
      canaryStep: this.canaryStep,
      bakeRemainingMs: this.bakeRemainingMs,
      routeGeneration: this.routeGeneration,
      vertexPercent: this.vertexPercent,
      analyses: this.analyses,
      rollback: this.rollbackRecord,
      refusals: this.refusals,
      undos: this.undos,
      warnings: this.warnings,
      ...(this.canarySteps.length ? { canarySteps: this.canarySteps } : {}),
      ...(this.analysesOmitted ? { analysesOmitted: this.analysesOmitted } : {}),
      ...(this.promoteRequested ? { promoteRequested: true } : {}),
      ...(this.usedTokens.length > 0 ? { usedTokens: this.usedTokens } : {}),
    };
  }

  /** The pipeline's service account: as provision found it, else as the spec names it. */
  get serviceAccountEmail(): string {
    return this.facts.serviceAccountEmail ?? pipelineAccount(this.spec).email ?? '';
  }

  /** Records something the operator should know; said once, in the status and the result. */
  warn(text: string): void {
    if (this.warnings.includes(text)) return;
    this.warnings.push(text);
    log.warn(text);
  }

  /** Registers every message handler, each with the description the Temporal UI lists. */
  installHandlers(): void {
    setHandler(approveUpdate, (a) => this.decide(a, 'approved'), {
      validator: (a) => this.validateApproval(a),
      description: MESSAGE_DESCRIPTIONS.approve,
    });
    setHandler(rejectUpdate, (a) => this.decide(a, 'rejected'), {
      validator: (a) => this.validateApproval(a, 'reject'),
      description: MESSAGE_DESCRIPTIONS.reject,
    });
    setHandler(promoteUpdate, (a) => this.promote(a), { validator: (a) => this.validatePromote(a), description: MESSAGE_DESCRIPTIONS.promoteUpdate });
    setHandler(pauseSignal, (a) => this.onOperatorAction('pause', a), { description: MESSAGE_DESCRIPTIONS.pause });
    setHandler(resumeSignal, (a) => this.onOperatorAction('resume', a), { description: MESSAGE_DESCRIPTIONS.resume });
    setHandler(promoteSignal, (a) => this.onOperatorAction('promote', a), { description: MESSAGE_DESCRIPTIONS.promote });
    setHandler(rollbackSignal, (r) => this.onRollback(r), { description: MESSAGE_DESCRIPTIONS.rollback });
    setHandler(statusQuery, () => this.status(), { description: MESSAGE_DESCRIPTIONS.status });
  }

  /** How this migration's approvals are proved (approvals.verify, defaulted from approvers). */
  get verify(): 'google-id-token' | 'none' {
    return approvalVerify(this.spec);
  }

  /**
   * Refuses, without touching state, an approval that is malformed, early or late, or that lacks
   * the Google ID token verified approvals need. One from a stranger, or with a token that proves
   * no approver, passes on purpose: a validator's refusal leaves no trace in history, so decide()
   * records the attempt and then refuses it.
   */
  validateApproval(input: Approval, verb: 'approve' | 'reject' = 'approve'): void {
    const parsed = ApprovalSchema.safeParse(input);
    if (!parsed.success) {
      throw new Error(`invalid approval: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
    }
    const { stage } = parsed.data;
    if (!waitsForApproval(this.wait, stage)) {
      throw new Error(`stage ${stage} is not waiting for approval (the migration is at ${this.stage})`);
    }
    this.requireToken(parsed.data, `keyless ${verb} ${this.spec.pipeline} --stage ${stage}`);
  }

  /** Refuses the promote update's malformed payload, or one without the token verified approvals need. */
  validatePromote(input: OperatorAction): void {
    const parsed = OperatorActionSchema.safeParse(input ?? {});
    if (!parsed.success) {
      throw new Error(`invalid promote: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
    }
    this.requireToken(parsed.data, `keyless promote ${this.spec.pipeline}`);
  }

  private requireToken(payload: { by?: string; idToken?: string }, command: string): void {
    if (this.verify !== 'google-id-token' || payload.idToken !== undefined) return;
    throw new Error(
      `idToken: approvals.verify is google-id-token for ${this.spec.pipeline}, so the approver is whoever a Google ID token proves, never a typed name: ` +
        `run \`${command}\`, or paste the JSON \`${command} --print-payload\` prints`,
    );
  }

  async decide(input: Approval, decision: ApprovalReceipt['decision']): Promise<ApprovalReceipt> {
    const { stage, by, idToken, note } = ApprovalSchema.parse(input);
    const action = decision === 'approved' ? 'approve' : 'reject';
    // Histories from before verified approvals hold no idToken: they take the branch they took then.
    const caller = idToken !== undefined && patched(VERIFIED_APPROVALS) ? await this.verifyCaller(action, stage, idToken) : undefined;
    const who = caller?.email ?? by!;
    const approvers = this.spec.approvals.approvers;
    if (approvers && !approvers.some((a) => sameIdentity(a, who))) throw this.refuseApprover(action, stage, who);
    // The token's check took an activity: another decision may have been taken meanwhile.
    if (caller && !waitsForApproval(this.wait, stage)) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidSpec, nonRetryable: true, message: `stage ${stage} was decided while this ${action} was verified; nothing changed` });
    }
    const receipt: ApprovalReceipt = { stage, decision, by: who, at: nowIso(), verified: caller !== undefined };
    this.approvals.set(stage, receipt);
    this.decisions.push({ action, stage, by: who, note, at: receipt.at, verified: receipt.verified });
    countApproval(stage, decision);
    return receipt;
  }

  /** The promote update: checked like approve, then handled where the promote signal is. */
  async promote(input: OperatorAction): Promise<OperatorReceipt> {
    const payload = OperatorActionSchema.parse(input ?? {});
    const caller = payload.idToken !== undefined && patched(VERIFIED_APPROVALS) ? await this.verifyCaller('promote', this.stage, payload.idToken) : undefined;
    const who = caller?.email ?? payload.by ?? 'unknown';
    const approvers = this.spec.approvals.approvers;
    if (approvers && !approvers.some((a) => sameIdentity(a, who))) throw this.refuseApprover('promote', this.stage, who);
    await this.onOperatorAction('promote', payload, caller);
    return { action: 'promote', stage: this.stage, by: who, verified: caller !== undefined, at: nowIso() };
  }

  /**
   * Who a Google ID token proves, by the verifyIdToken activity; a token that proves no one, or was
   * already used here, is refused and recorded like an approver not allowed.
   */
  private async verifyCaller(action: ApprovalRefusal['action'], stage: string, idToken: string): Promise<VerifiedCaller> {
    const verdict = await reads.verifyIdToken({ idToken });
    if (!verdict.ok) throw this.refuse(action, stage, verdict.email ?? 'unknown', `the ID token proves no approver: ${verdict.reason}`, ErrorType.UnverifiedIdentity);
    const { caller } = verdict;
    if (this.usedTokens.some((t) => t.hash === caller.tokenHash)) {
      throw this.refuse(action, stage, caller.email, 'this ID token was already used on this migration (anyone who reads the history can see it): get a fresh one, as keyless approve does', ErrorType.UnverifiedIdentity);
    }
    this.rememberToken(caller);
    return caller;
  }

  /** Keeps a used token's hash until it expires, and never more than KEPT_TOKENS. */
  private rememberToken(caller: VerifiedCaller): void {
    const nowS = Date.now() / 1000;
    const live = this.usedTokens.filter((t) => t.exp > nowS - TOKEN_CLOCK_SKEW_S);
    live.push({ hash: caller.tokenHash, exp: caller.expiresAt });
    this.usedTokens.splice(0, this.usedTokens.length, ...live.slice(-KEPT_TOKENS));
  }

  /** Records an approve, reject or promote from someone outside approvals.approvers; the failure it returns fails the update, not the migration. */
  refuseApprover(action: ApprovalRefusal['action'], stage: string, by: string): ApplicationFailure {
    return this.refuse(action, stage, by, `${by} is not in approvals.approvers for ${this.spec.pipeline}`, ErrorType.ApproverNotAllowed);
  }

  private refuse(action: ApprovalRefusal['action'], stage: string, by: string, reason: string, type: ErrorType): ApplicationFailure {
    const refusal: ApprovalRefusal = { action, stage, by, at: nowIso(), reason };
    this.refusals.total += 1;
    this.refusals.recent.push(refusal);
    if (this.refusals.recent.length > KEPT_REFUSALS) this.refusals.recent.splice(0, this.refusals.recent.length - KEPT_REFUSALS);
    log.warn('refused an operator decision', { action, stage, by, type });
    countApproval(action === 'promote' ? 'promote' : stage, 'refused');
    const still = this.wait ? `it still waits for ${describeWait(this.wait)}` : 'nothing changed';
    return ApplicationFailure.create({
      type,
      nonRetryable: true,
      message: `${reason}: the attempt is recorded in the migration's status, and ${still}`,
      details: [refusal],
    });
  }

  /**
   * pause, resume and promote, from a signal or (promote) the verified update. A promote signal
   * where promote must be verified is recorded and not acted on. A signal's token, when there is
   * one, is verified after the signal has acted: pausing never waits on Google.
   */
  async onOperatorAction(action: 'pause' | 'resume' | 'promote', input?: OperatorAction, verified?: VerifiedCaller): Promise<void> {
    const parsed = OperatorActionSchema.safeParse(input ?? {});
    // Signals cannot be refused: a malformed payload still acts, but records no name or note from it.
    const payload = parsed.success ? parsed.data : {};
    if (action === 'promote' && !verified && this.verify === 'google-id-token' && patched(VERIFIED_APPROVALS)) {
      this.decisions.push({ action, stage: this.stage, by: payload.by ?? 'unknown', note: payload.note, at: nowIso(), verified: false, ignored: 'approvals.verify is google-id-token: promote is the promote update with an ID token (keyless promote)' });
      return;
    }
    if (action === 'pause') this.paused = true;
    if (action === 'resume') this.paused = false;
    if (action === 'promote') this.promoteRequested = true;
    const decision: Decision = { action, stage: this.stage, by: verified?.email ?? payload.by ?? 'unknown', note: payload.note, at: nowIso(), ...(verified ? { verified: true } : {}) };
    this.decisions.push(decision);
    if (!verified && payload.idToken) await this.recordSignalCaller(decision, payload.idToken);
  }

  async onRollback(input: RollbackRequest): Promise<void> {
    const parsed = RollbackRequestSchema.safeParse(input);
    if (!parsed.success) {
      log.warn('ignored a malformed rollback signal', { issues: parsed.error.issues.map((i) => i.message) });
      return;
    }
    const decision: Decision = { action: 'rollback', stage: this.stage, by: parsed.data.by, note: parsed.data.reason, at: nowIso() };
    this.decisions.push(decision);
    this.requestRollback({ reason: parsed.data.reason, by: parsed.data.by, failureType: ErrorType.OperatorRequest, at: nowIso() });
    if (parsed.data.idToken) await this.recordSignalCaller(decision, parsed.data.idToken);
  }

  /** A signal that moves toward safety acts for anyone; its token only tells who it was. */
  private async recordSignalCaller(decision: Decision, idToken: string): Promise<void> {
    if (!patched(VERIFIED_APPROVALS)) return;
    const verdict = await reads.verifyIdToken({ idToken });
    const reused = verdict.ok && this.usedTokens.some((t) => t.hash === verdict.caller.tokenHash);
    if (!verdict.ok || reused) {
      this.warn(`a ${decision.action} signal carried an ID token that proves no one (${verdict.ok ? 'already used here' : verdict.reason}); it acted, recorded as sent by "${decision.by}" (unverified)`);
      return;
    }
    this.rememberToken(verdict.caller);
    const claimed = decision.by;
    decision.by = verdict.caller.email;
    decision.verified = true;
    if (this.rollbackRecord && decision.action === 'rollback' && this.rollbackRecord.by === claimed) this.rollbackRecord.by = verdict.caller.email;
  }

  /** Records why the migration is abandoned; the first reason wins. */
  requestRollback(record: RollbackRecord): void {
    this.rollbackRecord ??= record;
  }

  status(): MigrationStatus {
    return {
      pipeline: this.spec.pipeline,
      project: this.spec.project,
      stage: this.stage,
      next: this.next(),
      repair: this.repair,
      ...(this.wait ? { wait: this.wait, waitingFor: describeWait(this.wait) } : {}),
      paused: this.paused,
      canary: this.canaryPosition(),
      lastAnalysis: this.analyses.at(-1),
      ...(this.canarySteps.length ? { canarySteps: this.canarySteps } : {}),
      soak: this.facts.soak,
      vertexPercent: this.vertexPercent,
      mutations: this.mutations,
      decisions: this.decisions,
      approvals: this.approvalsSummary(),
      refusals: this.refusals.total > 0 ? this.refusals : undefined,
      rollback: this.rollbackRecord,
      leftAsFound: this.facts.leftAsFound,
      ...(this.warnings.length > 0 ? { warnings: this.warnings } : {}),
      ...(this.facts.runtimeProbe ? { runtime: { kind: this.spec.runtime.kind, verified: this.facts.runtimeProbe.verified } } : {}),
      ...(this.facts.workloadIdentity ? { workloadIdentity: this.facts.workloadIdentity } : {}),
    };
  }

  /** What the canary step in progress has judged and asks for; set by the canary's evidence loop. */
  stepEvidence?: PhaseInput['evidence'];
  private approvalsSummary(): NonNullable<MigrationStatus['approvals']> {
    return { verify: this.verify, ...(this.spec.approvals.approvers ? { approvers: this.spec.approvals.approvers } : {}) };
  }

  next(): string {
    return describeNext({
      stage: this.stage,
      paused: this.paused,
      wait: this.wait,
      repair: this.repair,
      canary: this.canaryPosition(),
      bakeEndsAt: this.bakeEndsAt,
      ...(this.stepEvidence && this.stage === 'canary' ? { evidence: this.stepEvidence } : {}),
      rollbackReason: this.rollbackRecord?.reason,
      leftAsFound: this.facts.leftAsFound?.map((x) => x.target),
      runtimeUnproven: this.facts.runtimeProbe?.verified === 'configuration',
    });
  }

  private canaryPosition(): MigrationStatus['canary'] {
    const steps = this.spec.canary.steps;
    return this.stage === 'canary' ? { step: this.canaryStep + 1, of: steps.length, percent: steps[this.canaryStep]?.percent ?? 100 } : undefined;
  }

  /** Moves to a stage and publishes it where operators look: search attributes and current details. */
  enter(stage: Stage): void {
    this.stage = stage;
    this.publishedStage = stage;
    upsertSearchAttributes([{ key: KeylessStage, value: stage }]);
    countStage(stage);
    this.publishDetails();
  }

  /** Sets (or clears) what the migration waits for, and publishes it. */
  setWait(wait: Wait | undefined): void {
    this.wait = wait;
    // The stage attribute says where a migration stands, waits included; only a change is written.
    if (this.stageAttribute() !== this.publishedStage) {
      this.publishedStage = this.stageAttribute();
      upsertSearchAttributes([{ key: KeylessStage, value: this.publishedStage }]);
    }
    this.publishDetails();
  }

  /** The KeylessStage search attribute for the current stage and wait: a wait for evidence is told apart, so a fleet can find them. */
  private stageAttribute(): string {
    const kind = this.wait?.kind;
    if ((kind === 'canary-evidence' || kind === 'pipeline-run') && patched(EVIDENCE_STAGE_ATTRIBUTE)) return EVIDENCE_WAIT_STAGES[kind];
    return this.stage;
  }

  /** Adds an analysis to the record, dropping old routine ones past KEPT_ANALYSES. */
  recordAnalysis(analysis: CanaryAnalysis): void {
    this.analyses.push(analysis);
    countCanaryVerdict(analysis.verdict);
    if (this.analyses.length <= KEPT_ANALYSES) return;
    const group = (a: CanaryAnalysis) => `${a.step} ${a.phase ?? 'bake'}`;
    const first = new Map<string, number>();
    const last = new Map<string, number>();
    this.analyses.forEach((a, i) => {
      if (!first.has(group(a))) first.set(group(a), i);
      last.set(group(a), i);
    });
    const drop = this.analyses.findIndex((a, i) => a.verdict !== 'breach' && first.get(group(a)) !== i && last.get(group(a)) !== i);
    if (drop < 0) return;
    this.analyses.splice(drop, 1);
    this.analysesOmitted += 1;
  }

  /**
   * Takes in the operator's promote: clears the request and returns the promote decision, with the
   * evidence it accepted attached. The one place a promote is accepted, so that a promote that
   * must prove its sender (a verified update) changes this method and its caller only.
   */
  acceptPromote(accepted?: StepEvidence): Decision | undefined {
    this.promoteRequested = false;
    // A promote signal recorded but ignored (approvals verified) is not the one acted on.
    const decision = [...this.decisions].reverse().find((d) => d.action === 'promote' && !d.ignored);
    if (decision && accepted) decision.accepted = accepted;
    return decision;
  }

  publishDetails(): void {
    setCurrentDetails(`${this.spec.pipeline}: ${this.next()}`);
  }

  /** Throws if a rollback has been asked for; called at every point the migration could stop. */
  checkpoint(): void {
    if (this.rollbackRecord) throw new RollbackRequested(this.rollbackRecord);
  }

  /**
   * Waits for an operator's decision on a stage, honouring the spec's deadline. With `watch`, the
   * wait looks at the migration every interval (a breach rolls back before anyone approves) and
   * continues as new when its history grows, keeping its deadline.
   */
  async awaitApproval(stage: ApprovalStage, watch?: { intervalMs: number; look: () => Promise<void> }): Promise<ApprovalReceipt> {
    this.setWait({ kind: 'approval', stage });
    const { deadline, onDeadline } = this.spec.approvals;
    const decided = () => this.approvals.has(stage) || this.rollbackRecord !== undefined;
    const missed = () => this.requestRollback({ reason: `no decision on ${stage} within ${deadline}`, failureType: ErrorType.ApprovalDeadline, at: nowIso() });
    if (watch) {
      const since = ((this.facts.approvalSince ??= {})[stage] ??= nowIso());
      const deadlineAt = Date.parse(since) + durationMs(deadline);
      while (!decided()) {
        const left = deadlineAt - Date.now();
        if (left <= 0 && onDeadline === 'rollback') {
          missed();
          break;
        }
        await condition(decided, left > 0 ? Math.min(watch.intervalMs, left) : watch.intervalMs);
        if (decided()) break;
        await watch.look();
        if (!decided()) await this.continueAsNewIfHistoryIsLong();
      }
    } else {
      const inTime = await condition(decided, deadline);
      if (!inTime && onDeadline === 'rollback') missed();
      else if (!inTime) await condition(decided);
    }
    this.setWait(undefined);
    this.checkpoint();
    return this.approvals.get(stage)!;
  }

  /**
   * Records a change to the outside world and, with it, how to undo it: rollback walks the undo
   * log newest first. A mutation that another undo reverts (the token-creator grant on an account
   * keyless created goes with the account) names that undo's id instead.
   */
  recordMutation(mutation: Omit<Mutation, 'at' | 'undoId' | 'undoneAt'>, undo?: Undo | { undoneWith: string }): Mutation {
    const undoId = undo === undefined ? undefined : 'undoneWith' in undo ? undo.undoneWith : undo.id;
    const recorded: Mutation = { ...mutation, at: nowIso(), ...(undoId ? { undoId } : {}) };
    this.mutations.push(recorded);
    countMutation(recorded.kind);
    if (undo && !('undoneWith' in undo)) this.recordUndo(undo);
    return recorded;
  }

  /** Adds an undo to the log; one with the same id is replaced, so the log holds the newest way to undo each resource. */
  recordUndo(undo: Undo): void {
    const index = this.undos.findIndex((u) => u.id === undo.id && !u.doneAt);
    if (index >= 0) this.undos.splice(index, 1);
    this.undos.push(undo);
  }

  /** The undos rollback has still to run, newest first. */
  pendingUndos(): Undo[] {
    return this.undos.filter((u) => !u.doneAt).reverse();
  }

  /** Records what an undo did and marks it, and the mutations it reverted, done. */
  completeUndo(undo: Undo, result: UndoResult, by: string | undefined): void {
    for (const change of result.changes) this.recordMutation({ ...change, approvedBy: by });
    if (result.route) {
      this.vertexPercent = result.route.vertexPercent;
      this.routeGeneration = result.route.generation;
    }
    if (result.leftAsFound) {
      this.facts.leftAsFound = [...(this.facts.leftAsFound ?? []), { ...result.leftAsFound, at: nowIso() }];
      log.warn('rollback left a resource as someone else changed it', { target: result.leftAsFound.target });
    }
    undo.doneAt = nowIso();
    for (const mutation of this.mutations) {
      if (mutation.undoId === undo.id && !mutation.undoneAt && !result.notUndone?.includes(mutation.kind)) mutation.undoneAt = undo.doneAt;
    }
  }

  /** The person who approved the cutover, for mutations made under that approval. */
  get cutoverApprover(): string | undefined {
    return this.approvals.get('cutover')?.by;
  }

  /** Events in this run's history so far, recorded with each analysis: what one analysis costs. */
  historyLength(): number {
    return workflowInfo().historyLength;
  }

  /** Long bakes, soaks and waits: start a fresh history, carrying the state, before this one grows too long. */
  async continueAsNewIfHistoryIsLong(): Promise<void> {
    if (!workflowInfo().continueAsNewSuggested) return;
    await condition(allHandlersFinished);
    await continueAsNew<(spec: PipelineSpec, memory: MigrationMemory) => Promise<unknown>>(this.spec, this.memory());
  }

  result(): MigrationResult {
    return {
      outcome: this.stage === 'rolled-back' ? 'rolled-back' : this.stage === 'held' ? 'held' : 'completed',
      pipeline: this.spec.pipeline,
      project: this.spec.project,
      finalStage: this.stage,
      repair: this.repair,
      mutations: this.mutations,
      decisions: this.decisions,
      approvals: this.approvalsSummary(),
      dualRun: this.facts.dualRun,
      canary: this.analyses,
      ...(this.canarySteps.length ? { canarySteps: this.canarySteps } : {}),
      ...(this.analysesOmitted ? { canaryAnalysesOmitted: this.analysesOmitted } : {}),
      soak: this.facts.soak,
      refusals: this.refusals.total > 0 ? this.refusals : undefined,
      rollback: this.rollbackRecord,
      leftAsFound: this.facts.leftAsFound,
      ...(this.warnings.length > 0 ? { warnings: this.warnings } : {}),
      ...(this.facts.workloadIdentity ? { workloadIdentity: { ...this.facts.workloadIdentity, ...(this.facts.runtimeProbe ? { verified: this.facts.runtimeProbe.verified } : {}) } } : {}),
    };
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}
