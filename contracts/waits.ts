// What a migration waits for, as a typed value (argo-rollouts' PauseCondition): validators and
// tests compare its kind; the sentence the status, the CLI and the Temporal UI show is rendered
// from it by describeWait, and nowhere else.

import type { ApprovalStage } from './stages';

export type Wait =
  /** An operator's approve or reject of a stage. */
  | { kind: 'approval'; stage: ApprovalStage }
  /** Other pipelines sharing the key must reach 100 % on Vertex before it is finalized. */
  | { kind: 'sharing-pipelines'; pipelines: string[] }
  /** The key still sees traffic: the soak waits for a whole quiet soak window. */
  | { kind: 'key-traffic' }
  /** Finalize is done; a rollback can still undo it until `until`. */
  | { kind: 'rollback-window'; until: string };

export type WaitKind = Wait['kind'];

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
  }
}

/** Whether a migration waits for the approval of `stage`. */
export function waitsForApproval(wait: Wait | undefined, stage: ApprovalStage): boolean {
  return wait?.kind === 'approval' && wait.stage === stage;
}
