// The verbs that act on a waiting or running migration share a shape: approve/reject send an
// update and print its receipt; pause/resume/promote send a signal.

import { ApprovalSchema } from '../contracts/messages';
import { byOption, operatorName, projectOption, stringFlag, type Command } from './command';
import { ExitCode, UserError } from './errors';
import { migrationRef, sendDecision, sendOperatorSignal, type OperatorSignal } from './migrations';

export function decisionCommand(decision: 'approve' | 'reject'): Command {
  return {
    summary: decision === 'approve' ? 'Approve the stage a migration waits on (cutover or finalize)' : 'Reject the waiting stage (a rejected cutover rolls back)',
    usage: `keyless ${decision} <pipeline> --stage <cutover|finalize> [--by <who>] [--note <text>] [--project <p>]`,
    example: `keyless ${decision} nightly-summarizer --stage cutover --by alice@example.com`,
    options: { ...projectOption, ...byOption, stage: { type: 'string' } },
    positionals: [1, 1],
    async run(args, io) {
      const approval = ApprovalSchema.safeParse({ stage: stringFlag(args, 'stage'), by: operatorName(args, io.env), note: stringFlag(args, 'note') });
      if (!approval.success) throw new UserError(`${decision} needs --stage cutover or --stage finalize`, ExitCode.Usage);
      const receipt = await io.withTemporal(({ client }) => sendDecision(client, migrationRef(args), decision, approval.data));
      io.print(`${receipt.stage} ${receipt.decision} by ${receipt.by} at ${receipt.at}`);
      return ExitCode.Ok;
    },
  };
}

export function signalCommand(verb: OperatorSignal, summary: string): Command {
  return {
    summary,
    usage: `keyless ${verb} <pipeline> [--by <who>] [--note <text>] [--project <p>]`,
    example: `keyless ${verb} nightly-summarizer`,
    options: { ...projectOption, ...byOption },
    positionals: [1, 1],
    async run(args, io) {
      await io.withTemporal(({ client }) => sendOperatorSignal(client, migrationRef(args), verb, { by: operatorName(args, io.env), note: stringFlag(args, 'note') }));
      io.print(`${verb} sent to ${args.positionals[0]}`);
      return ExitCode.Ok;
    },
  };
}
