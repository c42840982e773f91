// `keyless status <pipeline>`: where one migration stands, in the lines an operator reads first —
// what happens next, and anything that needs a person: approvals refused for who sent them, and
// what a rollback left as someone else had changed it.

import type { MigrationStatus } from '../../contracts/status';

/** The status query's answer as text. */
export function renderMigrationStatus(status: MigrationStatus): string {
  const lines = [
    `${status.pipeline} (${status.project}): ${status.stage}`,
    `next: ${status.next}`,
    `vertex: ${status.vertexPercent}%  mutations: ${status.mutations.length}`,
  ];
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
