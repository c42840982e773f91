// `keyless demo`: the product on the embedded default, with nothing configured. It starts the
// dev stack, migrates the sample pipelines and prints where to approve them.

import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { migrationWorkflowId } from '../../contracts/names';
import { APPROVAL_STAGES } from '../../contracts/stages';
import type { MigrationResult } from '../../contracts/status';
import { loadSpec } from '../spec-file';
import { startDevStack, stopRequested, type DevStackOptions } from './dev';
import { startMigration } from './migrate';
import { migrationStatus, sendDecision } from './operate';

export const DEMO_SPECS = [fileURLToPath(new URL('../../examples/specs/nightly-summarizer.yaml', import.meta.url))];

export interface DemoOptions extends DevStackOptions {
  /** Approve every waiting stage without a person. */
  yes: boolean;
  print: (line: string) => void;
}

export async function runDemo(options: DemoOptions): Promise<MigrationResult[]> {
  const specs = await Promise.all(DEMO_SPECS.map((path) => loadSpec(path)));
  const stack = await startDevStack(options);
  const stopSignal = stopRequested();
  try {
    options.print(`Temporal UI: ${stack.uiUrl}`);
    const client = stack.client;
    const results: Promise<MigrationResult>[] = [];
    for (const spec of specs) {
      const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
      const running = await client.workflow.getHandle(workflowId).describe().then((d) => d.status.name === 'RUNNING', () => false);
      // Running the demo again resumes the migrations it left in .keyless/ instead of starting over.
      if (!running) await startMigration(client, stack.taskQueue, spec);
      const link = `${stack.uiUrl}/namespaces/${stack.namespace}/workflows/${encodeURIComponent(workflowId)}`;
      options.print(`${spec.pipeline}: migration ${running ? 'resumed' : 'started'}; approve the cutover at ${link}`);
      const result = client.workflow.getHandle(workflowId).result();
      if (options.yes) void approveWhenAsked(client, spec.pipeline, spec.project, result, options.print);
      results.push(result);
    }
    const all = Promise.all(results);
    const outcome = await Promise.race([all, stopSignal.then(() => undefined)]);
    return outcome ?? [];
  } finally {
    await stack.stop();
  }
}

/** With --yes: approves each stage the migration waits on, until it finishes. */
async function approveWhenAsked(client: Client, pipeline: string, project: string, finished: Promise<unknown>, print: (line: string) => void): Promise<void> {
  let done = false;
  void finished.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    const status = await migrationStatus(client, { pipeline, project }).catch(() => undefined);
    const stage = APPROVAL_STAGES.find((s) => status?.waitingFor === `approve(stage: ${s})`);
    if (stage) {
      await sendDecision(client, { pipeline, project }, 'approve', { stage, by: 'keyless-demo --yes' }).then(
        () => print(`${pipeline}: ${stage} approved (--yes)`),
        () => undefined,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
