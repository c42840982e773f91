// `keyless rollback <pipeline> --reason …`: roll a migration back now, in reverse order of what was done.

import { RollbackRequestSchema } from '../../contracts/messages';
import { byOption, operatorName, projectOption, stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { migrationRef, requestRollback } from '../migrations';

export const rollback: Command = {
  summary: 'Roll a migration back now',
  usage: 'keyless rollback <pipeline> --reason <text> [--project <p>] [--by <who>]',
  example: 'keyless rollback nightly-summarizer --reason "latency doubled on Vertex"',
  options: { ...projectOption, ...byOption, reason: { type: 'string' } },
  positionals: [1, 1],
  async run(args, io) {
    const request = RollbackRequestSchema.safeParse({ by: operatorName(args, io.env), reason: stringFlag(args, 'reason') });
    if (!request.success) throw new UserError('rollback needs --reason "<why>"', ExitCode.Usage);
    await io.withTemporal(({ client }) => requestRollback(client, migrationRef(args), request.data));
    io.print(`rollback requested for ${args.positionals[0]}`);
    return ExitCode.Ok;
  },
};
