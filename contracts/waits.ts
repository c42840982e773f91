// What a migration waits for, as a typed value (argo-rollouts' PauseCondition): validators and
// tests compare its kind; the sentence the status, the CLI and the Temporal UI show is rendered
// from it by describeWait, and nowhere else.

import { formatDuration } from './duration';
import type { ApprovalStage } from './stages';

export type Wait =
  /** An operator's approve or reject of a stage. */
  | { kind: 'approval'; stage: ApprovalStage }
  /** Other pipelines sharing the key must reach 100 % on Vertex before it is finalized. */
  | { kind: 'sharing-pipelines'; pipelines: string[] }
  /** The key still sees traffic: the soak waits for a whole quiet soak window. */
  | { kind: 'key-traffic' }
  /** Finalize is done; a rollback can still undo it until `until`. */
  | { kind: 'rollback-window'; until: string }
  /**
   * A canary step baked for its longest (maxBake) without judging enough Vertex requests: it keeps
   * judging what comes, and advances once the evidence is there, or when an operator accepts what
   * it has with promote.
   */
  | { kind: 'canary-evidence'; step: number; of: number; percent: number; vertexRequests: number; minRequests: number; bakedMs: number; since: string }
  /** The soak's window saw no request with the key, but no run of the pipeline on Vertex either. */
  | { kind: 'pipeline-run'; vertexRequests: number; minVertexRequests: number; since: string };

export type WaitKind = Wait['kind'];

/** The KeylessStage search attribute while a migration waits for evidence: a fleet finds these waits by it. */
export const EVIDENCE_WAIT_STAGES = { 'canary-evidence': 'canary-awaiting-evidence', 'pipeline-run': 'soak-awaiting-run' } as const satisfies Partial<Record<WaitKind, string>>;

/** The wait as one line of text: what the status's `waitingFor` says. */
export function describeWait(wait: Wait): string {
  switch (wait.kind) {
    case 'approval':
      return `approve(stage: ${wait.stage})`;
    case 'sharing-pipelines':
      return `${wait.pipelines.join(', ')} to reach 100% on Vertex (they share this key)`;
    case 'key-traffic':
      return 'the key to see no request for a whole soak';
    case 'rollback-window':
      return `rollback window until ${wait.until} (send rollback to undo the finalize)`;
    case 'canary-evidence':
      return (
        `evidence at canary step ${wait.step}/${wait.of} (${wait.percent}%): ${wait.vertexRequests} of ${wait.minRequests} Vertex requests after ${formatDuration(wait.bakedMs)}; ` +
        'send promote to accept this evidence, or rollback'
      );
    case 'pipeline-run':
      return (
        `a run of the pipeline: none seen during the soak since ${wait.since} (${wait.vertexRequests} of ${wait.minVertexRequests} Vertex requests by its account, none with the key); ` +
        'it passes once the job runs on Vertex, or send promote to override, or rollback'
      );
  }
}

/** Whether a migration waits for the approval of `stage`. */
export function waitsForApproval(wait: Wait | undefined, stage: ApprovalStage): boolean {
  return wait?.kind === 'approval' && wait.stage === stage;
}
