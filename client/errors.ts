// Errors the CLI reports as one clear message (no stack trace), with an exit code scripts can trust.

/** Exit codes of the keyless command. */
export const ExitCode = {
  Ok: 0,
  /** The operation ran and failed (a migration refused, a check failed). */
  Failed: 1,
  /** The command line itself is wrong: unknown command, bad flag, missing argument. */
  Usage: 2,
  /** The environment or a file is wrong: bad TEMPORAL_* value, unreadable spec. */
  Config: 3,
  /** Something keyless needs is not reachable (Temporal server, emulator). */
  Unavailable: 4,
} as const;

/** A mistake the user can fix; printed without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Failed,
    /** What to do next, printed on its own line. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
