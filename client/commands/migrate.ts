// `keyless migrate`: start one migration workflow per spec, or a fleet of them in waves.

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { KeylessPipeline, KeylessProject, KeylessStage, MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import type { PipelineSpec } from '../../contracts/spec';
import type { MigrationResult } from '../../contracts/status';
import type { migratePipeline } from '../../workflows/migrate-pipeline';
import { numberFlag, stringFlag, type CliIo, type Command, type ParsedArgs } from '../command';
import { ExitCode, UserError } from '../errors';
import { loadFleet, startFleet } from '../fleets';
import { loadSpec } from '../spec-file';

export const migrate: Command = {
  summary: 'Start the migration of each pipeline spec (YAML or JSON), or of a fleet in waves',
  usage: 'keyless migrate <spec…> [--follow] [--json] | keyless migrate --fleet <dir|file> [--wave-size n] [--concurrency n] [--approve-per-wave] [--halt-at ratio] [--on-halt continue|rollback] [--name fleet]',
  example: 'keyless migrate --fleet examples/specs --wave-size 5 --approve-per-wave',
  options: {
    follow: { type: 'boolean' },
    json: { type: 'boolean' },
    fleet: { type: 'string' },
    'wave-size': { type: 'string' },
    concurrency: { type: 'string' },
    'approve-per-wave': { type: 'boolean' },
    'halt-at': { type: 'string' },
    'on-halt': { type: 'string' },
    name: { type: 'string' },
  },
  positionals: [0, 1000],
  async run(args, io) {
    if (args.values.fleet) return migrateFleet(args, io);
    if (args.positionals.length === 0) throw new UserError('migrate needs at least one spec file, or --fleet <dir|file>', ExitCode.Usage);
    // Every spec is checked before any migration starts: a typo in the tenth file starts nothing.
    const specs = await Promise.all(args.positionals.map((path) => loadSpec(path)));
    return io.withTemporal(async ({ client, config }) => {
      const started = [];
      for (const spec of specs) {
        const s = await startMigration(client, config.taskQueue, spec);
        started.push(s);
        if (!args.values.json) io.print(`started ${s.workflowId}`);
      }
      if (args.values.follow) {
        const results = await Promise.all(started.map((s) => awaitMigration(client, s.workflowId)));
        if (args.values.json) io.json(results);
        else for (const r of results) io.print(`${r.pipeline}: ${r.outcome}${r.rollback ? ` (${r.rollback.reason})` : ''}`);
        return results.every((r) => r.outcome === 'completed') ? ExitCode.Ok : ExitCode.Failed;
      }
      if (args.values.json) io.json(started);
      return ExitCode.Ok;
    });
  },
};

async function migrateFleet(args: ParsedArgs, io: CliIo): Promise<number> {
  const fleet = await loadFleet(stringFlag(args, 'fleet')!, {
    name: stringFlag(args, 'name'),
    waveSize: numberFlag(args, 'wave-size'),
    concurrency: numberFlag(args, 'concurrency'),
    approvalPerWave: args.values['approve-per-wave'] ? true : undefined,
    haltAtFailureRatio: numberFlag(args, 'halt-at'),
    onHalt: stringFlag(args, 'on-halt'),
  });
  return io.withTemporal(async ({ client, config }) => {
    const workflowId = await startFleet(client, config.taskQueue, fleet);
    if (args.values.json) io.json({ workflowId, pipelines: fleet.pipelines.length, waveSize: fleet.waveSize });
    else io.print(`started fleet ${workflowId}: ${fleet.pipelines.length} pipelines in waves of ${fleet.waveSize}`);
    return ExitCode.Ok;
  });
}

export interface StartedMigration {
  workflowId: string;
  runId: string;
}

/** Starts a pipeline's migration; refuses, naming the running one, if the pipeline already has one. */
export async function startMigration(client: Client, taskQueue: string, spec: PipelineSpec): Promise<StartedMigration> {
  const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
  try {
    const handle = await client.workflow.start<typeof migratePipeline>(MIGRATE_PIPELINE_WORKFLOW, {
      taskQueue,
      workflowId,
      args: [spec],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: KeylessProject, value: spec.project },
        { key: KeylessPipeline, value: spec.pipeline },
        { key: KeylessStage, value: 'inventory' },
      ],
      staticSummary: `Migrate ${spec.pipeline} (${spec.project}) from its API key to Vertex AI`,
    });
    return { workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UserError(
        `a migration of ${spec.pipeline} is already running: workflow ${workflowId}`,
        ExitCode.Failed,
        `follow it with \`keyless status ${spec.pipeline} --project ${spec.project}\`, or roll it back first`,
      );
    }
    throw err;
  }
}

/** Waits for a migration to finish and returns its result. */
export async function awaitMigration(client: Client, workflowId: string): Promise<MigrationResult> {
  return client.workflow.getHandle<typeof migratePipeline>(workflowId).result();
}
