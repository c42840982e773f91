// Names other systems see: the task queue, workflow ids and search attributes. They are wire
// names: changing one strands running migrations, so they live here, once.

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Default task queue of the keyless worker; overridable with KEYLESS_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'keyless';

/** Workflow type of one pipeline's migration. */
export const MIGRATE_PIPELINE_WORKFLOW = 'migratePipeline';

/** One id per pipeline, so two migrations of the same pipeline can never run at once. */
export function migrationWorkflowId(project: string, pipeline: string): string {
  return `keyless/${project}/${pipeline}`;
}

export const KeylessProject = defineSearchAttributeKey('KeylessProject', SearchAttributeType.KEYWORD);
export const KeylessPipeline = defineSearchAttributeKey('KeylessPipeline', SearchAttributeType.KEYWORD);
export const KeylessStage = defineSearchAttributeKey('KeylessStage', SearchAttributeType.KEYWORD);

/** The custom search attributes a Temporal namespace needs for keyless, with their types. */
export const SEARCH_ATTRIBUTES = [KeylessProject, KeylessPipeline, KeylessStage] as const;
