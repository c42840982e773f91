// The verbs that act on a waiting or running migration share a shape: approve/reject/promote send
// an update with the operator's Google ID token and print its receipt (or, with --print-payload,
// print the JSON to paste into the Temporal UI's update dialog); pause/resume send a signal.

import { WaveApprovalSchema } from '../contracts/fleet';
import { ApprovalSchema } from '../contracts/messages';
import type { EndpointConfig } from '../google/endpoints';
import { approverIdToken } from './approver-token';
import { byOption, operatorName, projectOption, stringFlag, type CliIo, type Command, type Options, type ParsedArgs } from './command';
import { runningDevStack } from './commands/dev';
import { ExitCode, UserError } from './errors';
import { approveWave } from './fleets';
import { migrationRef, migrationStatus, sendDecision, sendOperatorSignal, sendPromote, type OperatorSignal } from './migrations';

/** Where approver tokens come from: KEYLESS_EMULATOR, else the embedded default running here (keyless dev), else Google. */
async function approverEndpoint(io: CliIo): Promise<EndpointConfig> {
  if (io.env.KEYLESS_EMULATOR) return io.google().config;
  const stack = await runningDevStack();
  // Only the stack whose Temporal this shell talks to: another server means another world.
  const sameTemporal = stack && (!io.env.TEMPORAL_ADDRESS || io.env.TEMPORAL_ADDRESS === stack.address);
  return sameTemporal && stack.emulatorUrl ? { mode: 'emulator', baseUrl: stack.emulatorUrl } : io.google().config;
}

const identityOptions: Options = {
  'print-payload': { type: 'boolean' },
  'impersonate-service-account': { type: 'string' },
  audience: { type: 'string' },
};

/**
 * Who acts, as the payload carries it: `--by` as typed (unverified), else a Google ID token of the
 * operator. Without a token, a migration whose approvals are not verified still takes the login
 * name; one whose approvals are verified cannot be acted on.
 */
async function identityPayload(args: ParsedArgs, io: CliIo, verb: string): Promise<{ by: string } | { idToken: string; email?: string }> {
  const by = stringFlag(args, 'by');
  if (by !== undefined) return { by };
  try {
    const token = await approverIdToken({
      config: await approverEndpoint(io),
      env: io.env,
      ...(stringFlag(args, 'impersonate-service-account') ? { impersonate: stringFlag(args, 'impersonate-service-account')! } : {}),
      ...(stringFlag(args, 'audience') ? { audience: stringFlag(args, 'audience')! } : {}),
    });
    return { idToken: token.idToken, ...(token.email ? { email: token.email } : {}) };
  } catch (err) {
    if (args.values['print-payload'] || stringFlag(args, 'fleet')) throw err;
    const status = await io.withTemporal(({ client }) => migrationStatus(client, migrationRef(args))).catch(() => undefined);
    if (status?.approvals?.verify !== 'none') throw err;
    io.print(`${verb}: no Google ID token (${(err as UserError).message}); approvals of ${status.pipeline} are unverified, so acting as ${operatorName(args, io.env)}`);
    return { by: operatorName(args, io.env) };
  }
}

export function decisionCommand(decision: 'approve' | 'reject'): Command {
  return {
    summary: decision === 'approve' ? 'Approve the stage a migration waits on (cutover or finalize), proved by your Google ID token' : 'Reject the waiting stage (a rejected cutover rolls back), proved by your Google ID token',
    usage:
      `keyless ${decision} <pipeline> --stage <cutover|finalize> [--note <text>] [--project <p>] [--print-payload] [--impersonate-service-account <email>] [--audience <aud>] [--by <who> (unverified)]` +
      (decision === 'approve' ? ' | keyless approve --fleet <name> --wave <n> [same identity options]' : ''),
    example: `keyless ${decision} nightly-summarizer --stage cutover`,
    options: { ...projectOption, ...byOption, ...identityOptions, stage: { type: 'string' }, ...(decision === 'approve' ? { fleet: { type: 'string' }, wave: { type: 'string' } } : {}) },
    positionals: [decision === 'approve' ? 0 : 1, 1],
    async run(args, io) {
      const fleet = stringFlag(args, 'fleet');
      if (fleet) return approveFleetWave(args, io, fleet);
      if (args.positionals.length !== 1) throw new UserError(`${decision} needs a pipeline name${decision === 'approve' ? ', or --fleet <name> --wave <n>' : ''}`, ExitCode.Usage);
      const stage = ApprovalSchema.safeParse({ stage: stringFlag(args, 'stage'), by: 'x' });
      if (!stage.success) throw new UserError(`${decision} needs --stage cutover or --stage finalize`, ExitCode.Usage);
      const who = await identityPayload(args, io, decision);
      const note = stringFlag(args, 'note');
      const approval = ApprovalSchema.safeParse({ stage: stage.data.stage, ...('idToken' in who ? { idToken: who.idToken } : { by: who.by }), ...(note !== undefined ? { note } : {}) });
      if (!approval.success) throw new UserError(`${decision}: ${approval.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, ExitCode.Usage);
      if (args.values['print-payload']) {
        // What the Temporal UI's update dialog takes: it sends no identity of its own.
        io.print(JSON.stringify(approval.data));
        return ExitCode.Ok;
      }
      const receipt = await io.withTemporal(({ client }) => sendDecision(client, migrationRef(args), decision, approval.data));
      io.print(`${receipt.stage} ${receipt.decision} by ${receipt.by} ${receipt.verified ? '(verified by Google ID token)' : '(unverified)'} at ${receipt.at}`);
      return ExitCode.Ok;
    },
  };
}

/** `keyless approve --fleet <name> --wave <n>`: the fleet's approveWave update, with the same token. */
async function approveFleetWave(args: ParsedArgs, io: CliIo, fleet: string): Promise<number> {
  const who = await identityPayload(args, io, 'approve');
  const note = stringFlag(args, 'note');
  const approval = WaveApprovalSchema.safeParse({ wave: Number(stringFlag(args, 'wave')), ...('idToken' in who ? { idToken: who.idToken } : { by: who.by }), ...(note !== undefined ? { note } : {}) });
  if (!approval.success) throw new UserError(`approve --fleet: ${approval.error.issues.map((i) => `${i.path.join('.') || 'wave'}: ${i.message}`).join('; ')} (--wave takes the wave's number, from 1)`, ExitCode.Usage);
  if (args.values['print-payload']) {
    io.print(JSON.stringify(approval.data));
    return ExitCode.Ok;
  }
  const receipt = await io.withTemporal(({ client }) => approveWave(client, fleet, approval.data));
  io.print(`wave ${receipt.wave} of ${fleet} approved by ${receipt.by} ${receipt.verified ? '(verified by Google ID token)' : '(unverified)'} at ${receipt.at}`);
  if (receipt.refusedFor?.length) io.print(`not for ${receipt.refusedFor.join(', ')}: their own approvers do not include ${receipt.by}, so they keep their own approvals`);
  return ExitCode.Ok;
}

/** `keyless promote`: the promote update with the operator's token (the signal for workers from before it). */
export function promoteCommand(): Command {
  return {
    summary: 'End the current bake, a held soak or the shared-key wait now (recorded; checked like approve)',
    usage: 'keyless promote <pipeline> [--note <text>] [--project <p>] [--print-payload] [--impersonate-service-account <email>] [--audience <aud>] [--by <who> (unverified)]',
    example: 'keyless promote nightly-summarizer',
    options: { ...projectOption, ...byOption, ...identityOptions },
    positionals: [1, 1],
    async run(args, io) {
      const who = await identityPayload(args, io, 'promote');
      const note = stringFlag(args, 'note');
      const action = { ...('idToken' in who ? { idToken: who.idToken } : { by: who.by }), ...(note !== undefined ? { note } : {}) };
      if (args.values['print-payload']) {
        io.print(JSON.stringify(action));
        return ExitCode.Ok;
      }
      const receipt = await io.withTemporal(({ client }) => sendPromote(client, migrationRef(args), action));
      io.print(receipt === 'signal' ? `promote sent to ${args.positionals[0]} (as a signal: its worker predates the promote update)` : `promoted at ${receipt.stage} by ${receipt.by} ${receipt.verified ? '(verified by Google ID token)' : '(unverified)'} at ${receipt.at}`);
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
