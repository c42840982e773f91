// `keyless status <pipeline>`: where one migration stands, in the lines an operator reads first —
// what happens next, and anything that needs a person: approvals refused for who sent them, and
// what a rollback left as someone else had changed it. `--fleet <name>`: a fleet at a glance.

import type { MigrationStatus } from '../../contracts/status';
import { projectOption, stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { fleetStatus, renderFleetStatus } from '../fleets';
import { migrationRef, migrationStatus } from '../migrations';

export const status: Command = {
  summary: 'Show where a migration (or a fleet) stands and what it waits for',
  usage: 'keyless status <pipeline> [--project <p>] [--json] | keyless status --fleet <name> [--json]',
  example: 'keyless status nightly-summarizer --project demo-project',
  options: { ...projectOption, json: { type: 'boolean' }, fleet: { type: 'string' } },
  positionals: [0, 1],
  async run(args, io) {
    const fleet = stringFlag(args, 'fleet');
    if (fleet) {
      const found = await io.withTemporal(({ client }) => fleetStatus(client, fleet));
      if (args.values.json) io.json(found);
      else io.print(renderFleetStatus(found));
      return ExitCode.Ok;
    }
    if (args.positionals.length !== 1) throw new UserError('status needs a pipeline name, or --fleet <name>', ExitCode.Usage);
    const found = await io.withTemporal(({ client }) => migrationStatus(client, migrationRef(args)));
    if (args.values.json) io.json(found);
    else io.print(renderMigrationStatus(found));
    return ExitCode.Ok;
  },
};

/** The status query's answer as text. */
export function renderMigrationStatus(status: MigrationStatus): string {
  const lines = [
    `${status.pipeline} (${status.project}): ${status.stage}`,
    `next: ${status.next}`,
    `vertex: ${status.vertexPercent}%  mutations: ${status.mutations.length}`,
  ];
  for (const step of status.canarySteps ?? []) {
    const how = step.advancedBy ? `advanced: ${step.advancedBy}${step.by ? ` by ${step.by}` : ''}` : step.evidenceWaitSince ? `waiting for evidence since ${step.evidenceWaitSince}` : 'in progress';
    lines.push(`canary step ${step.step} (${step.percent}%): ${step.vertexRequests} of ${step.minRequests} Vertex requests judged, ${step.verdict ?? 'not judged yet'}; ${how}`);
  }
  const last = status.lastAnalysis;
  if (last) {
    const classes = last.classes ? `, 429 ${last.classes.vertex.quota}, 401/403 ${last.classes.vertex.identity}` : '';
    const latency = last.latency?.ratio !== null && last.latency?.ratio !== undefined ? `, latency ${last.latency.ratio}× the baseline's` : '';
    lines.push(`last analysis (${last.phase ?? 'bake'}, ${last.at}): Vertex ${last.vertex.requests} requests, error rate ${(last.vertex.errorRate * 100).toFixed(1)}%${classes}${latency}: ${last.verdict}${last.breach ? ` (${last.breach})` : ''}`);
  }
  for (const left of status.leftAsFound ?? []) {
    lines.push(`left as found: ${left.target}${left.changedFields.length ? ` (${left.changedFields.join(', ')} differ from before the migration)` : ''}`);
    lines.push(`  what to do: ${left.advice}`);
  }
  const refusals = status.refusals;
  if (refusals && refusals.total > 0) {
    const dropped = refusals.total - refusals.recent.length;
    lines.push(`refused approvals: ${refusals.total}${dropped > 0 ? ` (the last ${refusals.recent.length} shown)` : ''}`);
    for (const r of refusals.recent) lines.push(`  ${r.at} ${r.action} ${r.stage} by ${r.by}: ${r.reason}`);
  }
  return lines.join('\n');
}
