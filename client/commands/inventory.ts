// `keyless inventory --project <p> [--json]`: every API key of a project, what it may do and who
// uses it; unrestricted keys (block candidates) marked. Read-only; never reads a key string.

import { ErrorType, isKeylessError } from '../../contracts/errors';
import type { KeyAudit } from '../../contracts/reports';
import type { GoogleClients } from '../../google/clients';
import { inventoryProject } from '../../google/keys/inventory';
import { projectOption, stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';

export const inventory: Command = {
  summary: "Audit a project's API keys: restrictions, block candidates, the pipelines using each",
  usage: 'keyless inventory --project <p> [--json]',
  example: 'KEYLESS_EMULATOR=http://127.0.0.1:7280 keyless inventory --project demo-project',
  options: { ...projectOption, json: { type: 'boolean' } },
  positionals: [0, 0],
  async run(args, io) {
    const project = stringFlag(args, 'project') ?? io.env.GOOGLE_CLOUD_PROJECT;
    if (!project) throw new UserError('inventory needs --project <project id> (or GOOGLE_CLOUD_PROJECT)', ExitCode.Usage);
    await runInventory({ project, json: Boolean(args.values.json), clients: io.google(), print: io.print });
    return ExitCode.Ok;
  },
};

/** One line of the inventory, as printed and as `--json` emits it. */
export interface InventoryRow {
  displayName: string;
  keyId: string;
  name: string;
  type: 'standard' | 'auth';
  appRestriction: KeyAudit['appRestriction'];
  /** `all`, or `restricted: <services>`. */
  apiRestriction: string;
  blockCandidate: boolean;
  pipelines: string[];
}

export function inventoryRows(audits: KeyAudit[]): InventoryRow[] {
  return audits.map((a) => ({
    displayName: a.displayName,
    keyId: a.keyId,
    name: a.name,
    type: a.keyType,
    appRestriction: a.appRestriction,
    apiRestriction: a.apiRestriction === 'all' ? 'all' : `restricted: ${a.services.join(', ')}`,
    blockCandidate: a.blockCandidate,
    pipelines: a.pipelines,
  }));
}

const BLOCK_MARK = '!! BLOCK CANDIDATE';

/** A fixed-width table, block candidates first so they cannot be missed, and a one-line summary. */
export function renderInventoryTable(rows: InventoryRow[]): string {
  const ordered = [...rows.filter((r) => r.blockCandidate), ...rows.filter((r) => !r.blockCandidate)];
  const header = ['KEY', 'KEY ID', 'TYPE', 'APP', 'APIS', 'BLOCK', 'PIPELINES'];
  const cells = ordered.map((r) => [
    r.displayName || '(no name)',
    r.keyId,
    r.type,
    r.appRestriction,
    r.apiRestriction,
    r.blockCandidate ? BLOCK_MARK : '-',
    r.pipelines.join(',') || '-',
  ]);
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const line = (c: string[]) =>
    c
      .map((cell, i) => (cell.length > widths[i]! ? `${cell.slice(0, widths[i]! - 1)}…` : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const blocked = rows.filter((r) => r.blockCandidate).length;
  const summary =
    blocked > 0
      ? `${blocked} of ${rows.length} keys are block candidates (no application restriction, all APIs): Google rejects them since 2026-06-19.`
      : `${rows.length} keys; none is a block candidate.`;
  return [line(header), ...cells.map(line), '', summary].join('\n');
}

export interface RunInventoryOptions {
  project: string;
  json: boolean;
  /** Clients acting as the operator or orchestrator. */
  clients: GoogleClients;
  print?: (text: string) => void;
}

/** Lists and prints the inventory (table or JSON); returns the rows. */
export async function runInventory(options: RunInventoryOptions): Promise<InventoryRow[]> {
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  let audits: KeyAudit[];
  try {
    audits = await inventoryProject(options.clients, { project: options.project });
  } catch (err) {
    throw inventoryError(err, options.project);
  }
  const rows = inventoryRows(audits);
  print(options.json ? JSON.stringify(rows, null, 2) : renderInventoryTable(rows));
  return rows;
}

function inventoryError(err: unknown, project: string): unknown {
  if (!isKeylessError(err)) return err;
  switch (err.type) {
    case ErrorType.PermissionDenied:
      return new UserError(`cannot list the API keys of ${project}: ${err.message}`, ExitCode.Failed, 'the caller needs apikeys.keys.list (roles/serviceusage.apiKeysViewer or roles/viewer)');
    case ErrorType.InvalidSpec:
      return new UserError(`project ${project} not found: ${err.message}`, ExitCode.Usage, 'pass the project id or number with --project');
    case ErrorType.Transient:
    case ErrorType.Quota:
      return new UserError(`the API Keys API is not answering: ${err.message}`, ExitCode.Unavailable, 'retry in a minute');
    default:
      return new UserError(err.message, ExitCode.Failed);
  }
}
