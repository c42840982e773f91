// Each change carries its undo (the saga sample, made durable): the stage that records a mutation
// records with it the compensation activity and its input. Rollback walks the unfinished undos
// newest first, runs each (every compensation is idempotent) and marks it done once it succeeds,
// so a rollback resumed after a crash or a continue-as-new never repeats a step.

import type { KeylessActivities } from './activities';
import type { LeftAsFound, Mutation } from './status';

/** One change an undo made, recorded as a mutation (rollback adds the time and who asked for it). */
export interface UndoChange {
  kind: Mutation['kind'];
  target: string;
  detail: string;
}

/** What every compensation activity answers. */
export interface UndoResult {
  /** What the undo changed, in order; recorded as mutations. */
  changes: UndoChange[];
  /** Kinds among the mutations this undo reverts that it could not revert (a key someone else changed is left as found). */
  notUndone?: Mutation['kind'][];
  /** The resource was left as someone else changed it: what the operator must know. */
  leftAsFound?: Omit<LeftAsFound, 'at'>;
  /** The route the undo published, so the migration knows where its pipeline now goes. */
  route?: { generation: number; vertexPercent: number };
}

/** The compensation activities: every activity that answers an UndoResult. */
export type UndoActivity = {
  [A in keyof KeylessActivities]: Awaited<ReturnType<KeylessActivities[A]>> extends UndoResult ? A : never;
}[keyof KeylessActivities];

/** An undo as recorded: its id (one per resource), the compensation and its input. */
export type Undo = {
  [A in UndoActivity]: {
    /** Recording an undo with an id already in the log replaces that one and makes it the newest (the key's composite undo). */
    id: string;
    activity: A;
    input: Parameters<KeylessActivities[A]>[0];
    /** Set once the compensation succeeded. */
    doneAt?: string;
  };
}[UndoActivity];
