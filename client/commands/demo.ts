// `keyless demo`: the product on the embedded default, with nothing configured. It starts the
// dev stack, migrates the sample pipelines and prints where to approve them.

import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { migrationWorkflowId } from '../../contracts/names';
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
      if (options.yes) {
        await waitForApprovalPoint(client, spec.pipeline, spec.project);
        await sendDecision(client, { pipeline: spec.pipeline, project: spec.project }, 'approve', { stage: 'cutover', by: 'keyless-demo --yes' });
        options.print(`${spec.pipeline}: cutover approved (--yes)`);
      }
      results.push(client.workflow.getHandle(workflowId).result());
    }
    const all = Promise.all(results);
    const outcome = await Promise.race([all, stopSignal.then(() => undefined)]);
    return outcome ?? [];
  } finally {
    await stack.stop();
  }
}

async function waitForApprovalPoint(client: Client, pipeline: string, project: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const status = await migrationStatus(client, { pipeline, project }).catch(() => undefined);
    if (status?.waitingFor?.startsWith('approve(stage: cutover)')) return;
    if (status && !status.waitingFor && status.stage !== 'inventory') return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
