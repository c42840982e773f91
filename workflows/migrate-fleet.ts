// Many pipelines in waves: each pipeline is a child migratePipeline, at most `concurrency` at once,
// one wave after the other, optionally behind one approval per wave. When too many migrations of a
// wave roll back, the fleet halts: no new wave starts, and the running ones finish or roll back.

import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  patched,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  AcceptedFleetSpecSchema,
  FLEET_MESSAGE_DESCRIPTIONS,
  FleetSpecSchema,
  WaveApprovalSchema,
  approveWaveUpdate,
  describeFleetWait,
  fleetStatusQuery,
  type FleetMember,
  type FleetSpec,
  type FleetSpecInput,
  type FleetStatus,
  type FleetWait,
  fleetVerify,
  type WaveApproval,
  type WaveApprovalRefusal,
  type WaveGrant,
  type WaveReceipt,
} from '../contracts/fleet';
import type { VerifiedCaller } from '../contracts/identity';
import { ErrorType } from '../contracts/errors';
import { RollbackRequestSchema, rollbackSignal, type RollbackRequest } from '../contracts/messages';
import { migrationWorkflowId } from '../contracts/names';
import { approvalVerify, formatPath, type PipelineSpec } from '../contracts/spec';
import type { MigrationResult } from '../contracts/status';
import { reads } from './activities';
import { SPEC_DURATION_LIMITS, migratePipeline } from './migrate-pipeline';

export interface FleetResult {
  fleet: string;
  halted?: FleetStatus['halted'];
  counts: FleetStatus['counts'];
  members: FleetMember[];
  waveApprovals: WaveReceipt[];
  refusals?: FleetStatus['refusals'];
}

/** How many refused wave approvals the fleet keeps (the count goes on). */
const KEPT_REFUSALS = 20;

class Fleet {
  readonly members: FleetMember[];
  readonly waves: number;
  wave = 0;
  wait?: FleetWait;
  halted?: FleetStatus['halted'];
  haltRequest?: RollbackRequest;
  readonly approvals = new Map<number, WaveReceipt>();
  /** Hashes of the ID tokens already used here (a fleet approves a handful of waves). */
  readonly usedTokens = new Set<string>();
  readonly refusals: { total: number; recent: WaveApprovalRefusal[] } = { total: 0, recent: [] };
  readonly running = new Map<string, ChildWorkflowHandle<typeof migratePipeline>>();
  /** Children asked to start whose start is not confirmed yet. */
  starting = 0;

  constructor(readonly spec: FleetSpec) {
    this.members = spec.pipelines.map((p, i) => ({ pipeline: p.pipeline, project: p.project, wave: Math.floor(i / spec.waveSize) + 1, state: 'waiting' }));
    this.waves = Math.ceil(spec.pipelines.length / spec.waveSize);
  }

  installHandlers(): void {
    setHandler(approveWaveUpdate, (a) => this.approveWave(a), { validator: (a) => this.validateWaveApproval(a), description: FLEET_MESSAGE_DESCRIPTIONS.approveWave });
    setHandler(fleetStatusQuery, () => this.status(), { description: FLEET_MESSAGE_DESCRIPTIONS.fleetStatus });
    setHandler(rollbackSignal, (r) => this.requestHalt(r), { description: FLEET_MESSAGE_DESCRIPTIONS.rollback });
  }

  validateWaveApproval(input: WaveApproval): void {
    const parsed = WaveApprovalSchema.safeParse(input);
    if (!parsed.success) throw new Error(`invalid wave approval: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
    if (this.wait?.wave !== parsed.data.wave) throw new Error(`wave ${parsed.data.wave} is not waiting for approval (the fleet is at wave ${this.wave})`);
    if (fleetVerify(this.spec) === 'google-id-token' && parsed.data.idToken === undefined) {
      throw new Error(`idToken: the fleet's approvals are verified (verify google-id-token), so the approver is whoever a Google ID token proves, never a typed name`);
    }
    // Someone outside `approvers` passes on purpose: a validator's refusal leaves no trace in
    // history, so approveWave() records the attempt and then refuses it.
  }

  async approveWave(input: WaveApproval): Promise<WaveReceipt> {
    const parsed = WaveApprovalSchema.parse(input);
    // Histories from before verified wave approvals hold no idToken: they take the branch they took then.
    const caller = parsed.idToken !== undefined && patched(FLEET_VERIFIED_APPROVALS) ? await this.verifyCaller(parsed.wave, parsed.idToken) : undefined;
    const by = caller?.email ?? parsed.by!;
    const approvers = this.spec.approvers;
    if (approvers && !approvers.some((a) => a.toLowerCase() === by.toLowerCase())) throw this.refuseApprover({ wave: parsed.wave, by });
    if (caller && this.wait?.wave !== parsed.wave) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidSpec, nonRetryable: true, message: `wave ${parsed.wave} was approved while this approval was verified; nothing changed` });
    }
    const at = new Date().toISOString();
    // Each pipeline's own approvers must include the approver: a wave approval never widens who may approve it.
    const refusedFor: string[] = [];
    for (const [i, member] of this.members.entries()) {
      if (member.wave !== parsed.wave) continue;
      const own = this.spec.pipelines[i]!;
      const reason = this.childRefusal(own, by, caller !== undefined);
      if (!reason) continue;
      refusedFor.push(member.pipeline);
      this.recordRefusal({ wave: parsed.wave, pipeline: member.pipeline, by, at, reason });
    }
    const receipt: WaveReceipt = { wave: parsed.wave, by, at, verified: caller !== undefined, ...(refusedFor.length > 0 ? { refusedFor } : {}) };
    this.approvals.set(parsed.wave, receipt);
    return receipt;
  }

  /** Why the wave approval by `by` cannot stand for a pipeline's own approvals, if it cannot. */
  private childRefusal(spec: PipelineSpec, by: string, verified: boolean): string | undefined {
    const approvers = spec.approvals.approvers;
    if (approvers && !approvers.some((a) => a.toLowerCase() === by.toLowerCase())) return `${by} is not in ${spec.pipeline}'s approvals.approvers: it keeps its own approvals`;
    if (approvalVerify(spec) === 'google-id-token' && !verified) return `${spec.pipeline}'s approvals are verified and this wave approval is not: it keeps its own approvals`;
    return undefined;
  }

  private async verifyCaller(wave: number, idToken: string): Promise<VerifiedCaller> {
    const verdict = await reads.verifyIdToken({ idToken });
    if (!verdict.ok) throw this.refuse({ wave, by: verdict.email ?? 'unknown' }, `the ID token proves no approver: ${verdict.reason}`, ErrorType.UnverifiedIdentity);
    if (this.usedTokens.has(verdict.caller.tokenHash)) throw this.refuse({ wave, by: verdict.caller.email }, 'this ID token was already used on this fleet: get a fresh one', ErrorType.UnverifiedIdentity);
    this.usedTokens.add(verdict.caller.tokenHash);
    return verdict.caller;
  }

  /** Records an approveWave from outside `approvers`; the failure it returns fails the update, not the fleet. */
  refuseApprover(input: { wave: number; by: string }): ApplicationFailure {
    return this.refuse(input, `${input.by} is not in approvers for fleet ${this.spec.fleet}`, ErrorType.ApproverNotAllowed);
  }

  private refuse(input: { wave: number; by: string }, reason: string, type: ErrorType): ApplicationFailure {
    const refusal = { wave: input.wave, by: input.by, at: new Date().toISOString(), reason };
    this.recordRefusal(refusal);
    return ApplicationFailure.create({
      type,
      nonRetryable: true,
      message: `${reason}: the attempt is recorded in the fleet's status, and it still waits for ${describeFleetWait({ kind: 'wave-approval', wave: input.wave })}`,
      details: [refusal],
    });
  }

  private recordRefusal(refusal: WaveApprovalRefusal): void {
    this.refusals.total += 1;
    this.refusals.recent.push(refusal);
    if (this.refusals.recent.length > KEPT_REFUSALS) this.refusals.recent.splice(0, this.refusals.recent.length - KEPT_REFUSALS);
  }

  requestHalt(input: RollbackRequest): void {
    const parsed = RollbackRequestSchema.safeParse(input);
    if (parsed.success) this.haltRequest ??= parsed.data;
  }

  status(): FleetStatus {
    const counts = { waiting: 0, running: 0, completed: 0, 'rolled-back': 0, held: 0, 'not-started': 0, 'failed-to-start': 0 } as FleetStatus['counts'];
    for (const m of this.members) counts[m.state]++;
    return {
      fleet: this.spec.fleet,
      wave: this.wave,
      waves: this.waves,
      ...(this.wait ? { wait: this.wait, waitingFor: describeFleetWait(this.wait) } : {}),
      halted: this.halted,
      counts,
      members: this.members,
      ...(this.refusals.total > 0 ? { refusals: this.refusals } : {}),
    };
  }

  publishDetails(): void {
    const s = this.status();
    const where = this.halted ? `halted at wave ${this.halted.wave}` : this.wait ? `waiting for ${describeFleetWait(this.wait)}` : `wave ${this.wave}/${this.waves}`;
    setCurrentDetails(`fleet ${this.spec.fleet}: ${where}; ${s.counts.completed} completed, ${s.counts.running} running, ${s.counts['rolled-back']} rolled back`);
  }

  /** Runs one wave with at most `concurrency` children at once. */
  async runWave(wave: number): Promise<void> {
    this.wave = wave;
    if (this.spec.approvalPerWave) {
      this.wait = { kind: 'wave-approval', wave };
      this.publishDetails();
      await condition(() => this.approvals.has(wave) || this.haltRequest !== undefined);
      this.wait = undefined;
    }
    const indexes = this.members.flatMap((m, i) => (m.wave === wave ? [i] : []));
    const children: Promise<void>[] = [];
    // A child counts against `concurrency` from the moment its start is asked for: before this
    // patch a wave started every child in one workflow task, as none was `running` until its
    // start was confirmed (a fleet of 1,000 ran 1,000 at once; issue 9's benchmark).
    const startsHoldSlots = patched(FLEET_STARTS_HOLD_SLOTS);
    for (const index of indexes) {
      await condition(() => this.running.size + (startsHoldSlots ? this.starting : 0) < this.spec.concurrency || this.stopping());
      if (this.stopping()) break;
      children.push(this.runChild(index));
    }
    await Promise.all(children);
  }

  private stopping(): boolean {
    return this.halted !== undefined || this.haltRequest !== undefined;
  }

  private async runChild(index: number): Promise<void> {
    const member = this.members[index]!;
    const own = this.spec.pipelines[index]!;
    const receipt = this.approvals.get(member.wave);
    const covered = this.spec.approvalPerWave && receipt !== undefined && !receipt.refusedFor?.includes(own.pipeline);
    const spec = covered ? this.childSpec(own) : own;
    const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
    // The child stamps the wave's approver on its mutations; runs from before this send the spec alone.
    const grant: WaveGrant | undefined = covered && patched(FLEET_VERIFIED_APPROVALS) ? { fleet: this.spec.fleet, wave: member.wave, by: receipt.by, at: receipt.at, verified: receipt.verified ?? false } : undefined;
    let handle: ChildWorkflowHandle<typeof migratePipeline>;
    this.starting++;
    try {
      handle = await startChild(migratePipeline, {
        workflowId,
        args: grant ? [spec, undefined, grant] : [spec],
        // Cancelling or closing the fleet must not abandon a pipeline halfway through a cutover.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      this.starting--;
      // A pipeline already being migrated (same workflow id) is reported, not started twice.
      member.state = 'failed-to-start';
      member.reason = (err as Error).message;
      this.afterChild(member.wave);
      return;
    }
    this.starting--;
    this.running.set(workflowId, handle);
    member.state = 'running';
    this.publishDetails();
    try {
      const result: MigrationResult = await handle.result();
      member.state = result.outcome;
      member.reason = result.rollback?.reason;
    } catch (err) {
      member.state = 'rolled-back';
      member.reason = (err as Error).message;
    } finally {
      this.running.delete(workflowId);
    }
    this.afterChild(member.wave);
  }

  /** With a wave approval that covers it, the pipeline's own approvals are already given. */
  private childSpec(spec: PipelineSpec): PipelineSpec {
    return { ...spec, approvals: { ...spec.approvals, cutover: false, finalize: false } };
  }

  /** Halts the fleet once the wave's rollbacks pass the ratio; on 'rollback', rolls back its running migrations. */
  private afterChild(wave: number): void {
    const inWave = this.members.filter((m) => m.wave === wave);
    const failures = inWave.filter((m) => m.state === 'rolled-back' || m.state === 'failed-to-start').length;
    if (!this.halted && failures / inWave.length > this.spec.haltAtFailureRatio) {
      this.halted = { wave, failures, size: inWave.length, at: new Date().toISOString() };
    }
    this.publishDetails();
  }

  async rollBackRunning(reason: string, by: string): Promise<void> {
    await Promise.all([...this.running.values()].map((child) => child.signal(rollbackSignal, { by, reason })));
  }

  markNotStarted(): void {
    for (const m of this.members) if (m.state === 'waiting') m.state = 'not-started';
  }
}

/** Migrates a fleet of pipelines in waves, as child migrations. */
export async function migrateFleet(input: FleetSpecInput): Promise<FleetResult> {
  // As a pipeline's spec: the duration limits hold for new fleets, not for one started before them.
  const limits = !workflowInfo().continuedFromExecutionRunId && patched(SPEC_DURATION_LIMITS);
  const parsed = (limits ? FleetSpecSchema : AcceptedFleetSpecSchema).safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidSpec,
      nonRetryable: true,
      message: `invalid fleet spec: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`,
    });
  }
  const fleet = new Fleet(parsed.data);
  fleet.installHandlers();
  fleet.publishDetails();

  // A halt met mid-wave: an operator's rollback, or onHalt 'rollback', rolls back the running wave now.
  const haltWatch = condition(() => fleet.halted !== undefined || fleet.haltRequest !== undefined).then(() => {
    if (fleet.haltRequest) return fleet.rollBackRunning(`fleet halted: ${fleet.haltRequest.reason}`, fleet.haltRequest.by);
    if (fleet.spec.onHalt === 'rollback') return fleet.rollBackRunning(`fleet ${fleet.spec.fleet} halted at wave ${fleet.halted!.wave}`, 'keyless fleet');
    return undefined;
  });
  for (let wave = 1; wave <= fleet.waves && !fleet.halted && !fleet.haltRequest; wave++) {
    await fleet.runWave(wave);
  }
  if (fleet.halted || fleet.haltRequest) await haltWatch;
  fleet.markNotStarted();
  fleet.wait = undefined;
  fleet.publishDetails();
  await condition(allHandlersFinished);
  const status = fleet.status();
  return { fleet: status.fleet, halted: status.halted, counts: status.counts, members: status.members, waveApprovals: [...fleet.approvals.values()], ...(status.refusals ? { refusals: status.refusals } : {}) };
}

/** Patch id: children being started hold a concurrency slot. */
const FLEET_STARTS_HOLD_SLOTS = 'fleet-starts-hold-slots';
/** Patch id: wave approvals verify an idToken in an activity, check each child's approvers, and hand the child a WaveGrant. */
const FLEET_VERIFIED_APPROVALS = 'fleet-verified-approvals';
