// `keyless list`: migrations from Temporal visibility, optionally at one stage or still running.

import { OFF_PATH_STAGES, STAGES } from '../../contracts/stages';
import { EVIDENCE_WAIT_STAGES } from '../../contracts/waits';
import { stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { listMigrations } from '../migrations';

export const list: Command = {
  summary: 'List migrations from Temporal visibility, optionally at one stage',
  usage: 'keyless list [--stage <stage>] [--running] [--json]',
  example: 'keyless list --stage approve-cutover',
  options: { stage: { type: 'string' }, running: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: [0, 0],
  async run(args, io) {
    const stage = stringFlag(args, 'stage');
    const stages: readonly string[] = [...STAGES, ...OFF_PATH_STAGES, ...Object.values(EVIDENCE_WAIT_STAGES)];
    if (stage && !stages.includes(stage)) throw new UserError(`--stage must be one of: ${stages.join(', ')}`, ExitCode.Usage);
    const listings = await io.withTemporal(({ client }) => listMigrations(client, { stage, running: Boolean(args.values.running) }));
    if (args.values.json) io.json(listings);
    else if (listings.length === 0) io.print('no migrations');
    else for (const l of listings) io.print(`${(l.pipeline ?? l.workflowId).padEnd(28)} ${(l.project ?? '').padEnd(20)} ${(l.stage ?? '').padEnd(18)} ${l.status.padEnd(11)} ${l.startTime}`);
    return ExitCode.Ok;
  },
};
