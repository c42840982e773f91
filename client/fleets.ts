// `keyless migrate --fleet`: many pipeline specs (a folder of them, or one file) migrated in waves
// by one fleet workflow; and the fleet's status at a glance.

import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { FleetSpecSchema, MIGRATE_FLEET_WORKFLOW, approveWaveUpdate, fleetStatusQuery, fleetWorkflowId, type FleetSpec, type FleetStatus, type WaveApproval, type WaveReceipt } from '../contracts/fleet';
import { formatPath } from '../contracts/spec';
import { ExitCode, UserError } from './errors';
import { readSpecFile } from './spec-file';
import type { migrateFleet } from '../workflows/migrate-fleet';

/** Fleet settings from the command line; unset ones take the schema's defaults. */
export interface FleetOptions {
  name?: string;
  waveSize?: number;
  concurrency?: number;
  approvalPerWave?: boolean;
  haltAtFailureRatio?: number;
  onHalt?: string;
}

const SPEC_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Reads a folder of specs, or one file holding a fleet document or a list of specs, and validates it all. */
export async function loadFleet(path: string, options: FleetOptions): Promise<FleetSpec> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UserError(`cannot read ${path}`, ExitCode.Config, 'give a folder of pipeline specs or a fleet file');
  let document: Record<string, unknown>;
  if (info.isDirectory()) {
    const files = (await readdir(path)).filter((f) => SPEC_EXTENSIONS.has(extname(f))).sort();
    if (files.length === 0) throw new UserError(`no .yaml, .yml or .json specs in ${path}`, ExitCode.Config);
    document = { pipelines: await Promise.all(files.map((f) => readSpecFile(join(path, f)))) };
  } else {
    const content = await readSpecFile(path);
    // A list of specs, a single spec, or a fleet document with its own settings.
    if (Array.isArray(content)) document = { pipelines: content };
    else if (content && typeof content === 'object' && 'pipeline' in content) document = { pipelines: [content] };
    else document = (content ?? {}) as Record<string, unknown>;
  }
  const merged = {
    fleet: options.name ?? document.fleet ?? basename(path, extname(path)).toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    ...document,
    ...(options.waveSize !== undefined ? { waveSize: options.waveSize } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.approvalPerWave !== undefined ? { approvalPerWave: options.approvalPerWave } : {}),
    ...(options.haltAtFailureRatio !== undefined ? { haltAtFailureRatio: options.haltAtFailureRatio } : {}),
    ...(options.onHalt !== undefined ? { onHalt: options.onHalt } : {}),
  };
  const parsed = FleetSpecSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
    throw new UserError(`fleet ${path} is invalid:\n${lines.join('\n')}`, ExitCode.Config);
  }
  return parsed.data;
}

export async function startFleet(client: Client, taskQueue: string, fleet: FleetSpec): Promise<string> {
  const workflowId = fleetWorkflowId(fleet.fleet);
  try {
    await client.workflow.start<typeof migrateFleet>(MIGRATE_FLEET_WORKFLOW, {
      taskQueue,
      workflowId,
      args: [fleet],
      workflowIdConflictPolicy: 'FAIL',
      staticSummary: `Migrate fleet ${fleet.fleet}: ${fleet.pipelines.length} pipelines in waves of ${fleet.waveSize}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new UserError(`fleet ${fleet.fleet} is already running: workflow ${workflowId}`, ExitCode.Failed);
    throw err;
  }
  return workflowId;
}

/** Sends approveWave; a refusal is shown as the fleet gave it. */
export async function approveWave(client: Client, fleet: string, approval: WaveApproval): Promise<WaveReceipt> {
  try {
    return await client.workflow.getHandle(fleetWorkflowId(fleet)).executeUpdate(approveWaveUpdate, { args: [approval] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new UserError(`approveWave refused: ${err.cause?.message ?? err.message}`, ExitCode.Failed, `\`keyless status --fleet ${fleet}\` shows the refusals`);
    throw err;
  }
}

export async function fleetStatus(client: Client, fleet: string): Promise<FleetStatus> {
  return client.workflow.getHandle(fleetWorkflowId(fleet)).query(fleetStatusQuery);
}

/** One line of counts, then a line per pipeline. */
export function renderFleetStatus(status: FleetStatus): string {
  const counts = Object.entries(status.counts).filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`).join(', ');
  const head = `fleet ${status.fleet}: wave ${status.wave}/${status.waves}${status.halted ? ` (halted at wave ${status.halted.wave})` : ''}${status.waitingFor ? `, waiting for ${status.waitingFor}` : ''}: ${counts}`;
  const rows = status.members.map((m) => `  wave ${m.wave}  ${m.pipeline.padEnd(30)} ${m.state}${m.reason ? `  (${m.reason})` : ''}`);
  const refusals = status.refusals
    ? [`refused wave approvals: ${status.refusals.total}${status.refusals.total > status.refusals.recent.length ? ` (the last ${status.refusals.recent.length} below)` : ''}`, ...status.refusals.recent.map((r) => `  ${r.at}  wave ${r.wave}${r.pipeline ? ` (${r.pipeline})` : ''}  ${r.by}: ${r.reason}`)]
    : [];
  return [head, ...rows, ...refusals].join('\n');
}
