// `keyless migrate`: start one migration workflow per spec.

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { KeylessPipeline, KeylessProject, KeylessStage, MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import type { PipelineSpec } from '../../contracts/spec';
import type { MigrationResult } from '../../contracts/status';
import { UserError } from '../errors';

export interface StartedMigration {
  workflowId: string;
  runId: string;
}

/** Starts a pipeline's migration; refuses, naming the running one, if the pipeline already has one. */
export async function startMigration(client: Client, taskQueue: string, spec: PipelineSpec): Promise<StartedMigration> {
  const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
  try {
    const handle = await client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, {
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
        1,
        `follow it with \`keyless status ${spec.pipeline} --project ${spec.project}\`, or roll it back first`,
      );
    }
    throw err;
  }
}

/** Waits for a migration to finish and returns its result. */
export async function awaitMigration(client: Client, workflowId: string): Promise<MigrationResult> {
  return client.workflow.getHandle(workflowId).result();
}
