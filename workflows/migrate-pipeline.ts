// One pipeline's move from its API key to Vertex AI with a service account: a loop over the stage
// machine (contracts/stages.ts for the order, stages/ for each stage). Stages act; the Migration
// remembers (migration.ts). A rollback, asked for by an operator or by a failed stage, unwinds what
// was done (rollback.ts).

import { ActivityFailure, ApplicationFailure, allHandlersFinished, condition, patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import { fleetWorkflowId, type WaveGrant } from '../contracts/fleet';
import { MigrationMemorySchema, memoryProblems } from '../contracts/memory';
import { KeylessPipeline, KeylessProject, migrationWorkflowId } from '../contracts/names';
import { formatPath, pipelineAccount, validateSpec, type PipelineSpec, type PipelineSpecInput } from '../contracts/spec';
import type { MigrationResult, RollbackRecord } from '../contracts/status';
import { Migration, RollbackRequested, nowIso, type MigrationMemory } from './migration';
import { rollback } from './rollback';
import { legacyUndos } from './rollback-legacy';
import { STAGE_DEFINITIONS, runningStage, stageAfter } from './stages';

/** Migrates one pipeline from its API key to Vertex AI with a service account. */
export async function migratePipeline(input: PipelineSpecInput, memory?: MigrationMemory, grant?: WaveGrant): Promise<MigrationResult> {
  const spec = parseSpec(input);
  // Runs from before these checks were accepted as they came; replaying them must not refuse them now.
  const trusted = patched(STATE_FROM_CONTINUE_AS_NEW) ? trustedMemory(spec, memory) : memory;
  const m = new Migration(spec, trusted, (old) => legacyUndos(old, spec));
  if (grant && !trusted) acceptWaveGrant(m, grant);
  m.installHandlers();
  upsertSearchAttributes([
    { key: KeylessProject, value: spec.project },
    { key: KeylessPipeline, value: spec.pipeline },
  ]);
  m.enter(m.stage);

  try {
    for (let stage = runningStage(m.stage); stage; stage = runningStage(m.stage)) {
      m.checkpoint();
      const chosen = await STAGE_DEFINITIONS[stage].run(m);
      m.enter(stageAfter(stage, chosen ?? undefined));
    }
  } catch (err) {
    const record = rollbackRecordFor(err);
    if (!record) throw err;
    m.requestRollback(record);
  }
  if (m.rollbackRecord && m.stage !== 'rolled-back') await rollback(m);

  // Let in-flight updates answer before the workflow closes.
  await condition(allHandlersFinished);
  return m.result();
}

/** A failure that calls for a rollback: an operator's request, or an activity that failed for good. */
function rollbackRecordFor(err: unknown): RollbackRecord | undefined {
  if (err instanceof RollbackRequested) return err.record;
  if (err instanceof ActivityFailure) {
    const cause = err.cause as ApplicationFailure | undefined;
    return { reason: `${err.activityType} failed: ${cause?.message ?? err.message}`, failureType: taxonomyType(cause?.type), at: nowIso() };
  }
  return undefined;
}

/** The failure's type when it is one of the taxonomy's; anything else is reported as Transient. */
function taxonomyType(type: string | undefined | null): ErrorType {
  return (Object.values(ErrorType) as string[]).includes(type ?? '') ? (type as ErrorType) : ErrorType.Transient;
}

/**
 * A fleet's wave approval standing for this migration's own: its approver is on record for the
 * cutover and finalize, and stamped on their mutations. Only a parent fleet workflow (the server
 * names it) may hand one over; from anyone else it is refused.
 */
function acceptWaveGrant(m: Migration, grant: WaveGrant): void {
  const parent = workflowInfo().parent?.workflowId;
  if (!parent || parent !== fleetWorkflowId(grant.fleet)) {
    throw untrusted(ErrorType.UntrustedState, `refused a wave approval: only the fleet keyless-fleet/${grant.fleet} that started this migration may hand one over; nothing was changed`);
  }
  for (const stage of ['cutover', 'finalize'] as const) {
    m.approvals.set(stage, { stage, decision: 'approved', by: grant.by, at: grant.at, verified: grant.verified });
    m.decisions.push({ action: 'approve', stage, by: grant.by, note: `wave ${grant.wave} of fleet ${grant.fleet}`, at: grant.at, verified: grant.verified });
  }
}

/** Patch id: the workflow id must be the spec's, and a memory comes only from continue-as-new, in MigrationMemorySchema's shape. */
const STATE_FROM_CONTINUE_AS_NEW = 'state-from-continue-as-new';

/**
 * The memory a run may start from: none, or the one an earlier run of this same workflow handed
 * over when it continued as new. Anyone who can start a workflow can pass a second argument; only
 * the server sets continuedFromExecutionRunId, and only for a continued run.
 */
function trustedMemory(spec: PipelineSpec, memory: unknown): MigrationMemory | undefined {
  const info = workflowInfo();
  const expectedId = migrationWorkflowId(spec.project, spec.pipeline);
  if (info.workflowId !== expectedId) {
    throw untrusted(ErrorType.InvalidSpec, `this migration's workflow id is ${info.workflowId}, but its spec's is ${expectedId}: start it as keyless/<project>/<pipeline> (keyless migrate does)`);
  }
  if (memory === undefined || memory === null) return undefined;
  if (!info.continuedFromExecutionRunId) {
    throw untrusted(
      ErrorType.UntrustedState,
      'refused a second workflow argument: a migration carries state only from an earlier run of itself continuing as new; start it with the spec alone (args: [spec], or keyless migrate) — nothing was changed',
    );
  }
  const parsed = MigrationMemorySchema.safeParse(memory);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw untrusted(ErrorType.UntrustedState, `the state carried from the previous run is not a migration's memory (${issues.join('; ')}); nothing was changed`);
  }
  const problems = memoryProblems(parsed.data, { pipeline: spec.pipeline, apiKey: spec.apiKey, ...(pipelineAccount(spec).email ? { accountEmail: pipelineAccount(spec).email } : {}) });
  if (problems.length > 0) throw untrusted(ErrorType.UntrustedState, `the state carried from the previous run is not this pipeline's: ${problems.join('; ')}; nothing was changed`);
  return parsed.data;
}

function untrusted(type: ErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, nonRetryable: true, message });
}

/**
 * Patch id: a new migration's spec is held to the spec's duration limits. A run started before them
 * keeps the spec it was accepted with, and so does a continued run or a fleet's child (its fleet
 * checked the spec), so no running migration is refused by a rule added after its start.
 */
export const SPEC_DURATION_LIMITS = 'spec-duration-limits';

function parseSpec(input: PipelineSpecInput): PipelineSpec {
  const info = workflowInfo();
  const limits = !info.continuedFromExecutionRunId && !info.parent && patched(SPEC_DURATION_LIMITS);
  const result = validateSpec(input, { limits });
  if (result.ok) return result.spec;
  throw ApplicationFailure.create({
    type: ErrorType.InvalidSpec,
    nonRetryable: true,
    message: `invalid pipeline spec: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    details: [result.problems],
  });
}

