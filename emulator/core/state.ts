// The emulator's mutable estate and its persistence. Everything a restart must keep (keys,
// accounts, policies, tokens, operations, audit, traffic) lives in one JSON document written
// atomically (temp file + rename), so a crash mid-write never leaves a torn state file.

import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { emptyGenerativeState, type GenerativeState } from '../surfaces/generative-context';
import type { Restrictions } from './fixture';

export interface Binding {
  role: string;
  members: string[];
  condition?: { title: string; description?: string; expression: string; location?: string };
}

/** An IAM policy plus when each member was bound to each role (for propagation). */
export interface PolicyRecord {
  version: number;
  bindings: Binding[];
  auditConfigs?: unknown[];
  etag: string;
  /** `role member` → ISO time the member was first bound to the role. */
  grantedAt: Record<string, string>;
}

export interface ProjectRecord {
  projectId: string;
  projectNumber: string;
  policy: PolicyRecord;
}

export interface ApiKeyRecord {
  name: string;
  uid: string;
  keyId: string;
  projectId: string;
  projectNumber: string;
  displayName?: string;
  keyString: string;
  createTime: string;
  updateTime: string;
  deleteTime?: string;
  annotations: Record<string, string>;
  restrictions?: Restrictions;
  etag: string;
  serviceAccountEmail?: string;
}

/** A key pair the emulator issued for an account; it verifies JWTs signed with it. */
export interface AccountKeyRecord {
  keyId: string;
  publicKeyPem: string;
  privateKeyPem: string;
  validAfterTime: string;
}

export interface ServiceAccountRecord {
  projectId: string;
  accountId: string;
  email: string;
  uniqueId: string;
  displayName?: string;
  description?: string;
  disabled: boolean;
  deleteTime?: string;
  etag: string;
  policy: PolicyRecord;
  keys: AccountKeyRecord[];
  attachable: boolean;
  downloadableKey: boolean;
}

export interface AccessTokenRecord {
  /** `serviceAccount` tokens act as the account; `user` tokens as a human principal. */
  kind: 'serviceAccount' | 'user';
  email: string;
  expiresAt: number;
  scopes: string[];
}

export interface OperationRecord {
  name: string;
  done: boolean;
  /** operations.get calls left before the operation reports done. */
  pendingPolls: number;
  response?: unknown;
  error?: { code: number; message: string };
  createdAt: number;
}

/** One mutating request, with who made it. */
export interface AuditEntry {
  time: string;
  surface: string;
  method: string;
  path: string;
  /** `serviceAccount:…`, `user:…`, `apiKey:<key name>` or `anonymous`. */
  principal: string;
  status: number;
}

export interface EmulatorState {
  version: 1;
  projects: Record<string, ProjectRecord>;
  keys: Record<string, ApiKeyRecord>;
  serviceAccounts: Record<string, ServiceAccountRecord>;
  tokens: Record<string, AccessTokenRecord>;
  operations: Record<string, OperationRecord>;
  audit: AuditEntry[];
  generative: GenerativeState;
  /** Added to the start clock; moved through the admin endpoint. */
  clockOffsetMs: number;
  /** Metadata server port per attached account, reused after a restart when free. */
  metadataPorts?: Record<string, number>;
}

export function emptyState(): EmulatorState {
  return {
    version: 1,
    projects: {},
    keys: {},
    serviceAccounts: {},
    tokens: {},
    operations: {},
    audit: [],
    generative: emptyGenerativeState(),
    clockOffsetMs: 0,
  };
}

/** Reads a state file; undefined when it does not exist yet. */
export async function readStateFile(path: string): Promise<EmulatorState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`state file ${path} is not valid JSON; move it away to start from the fixture`);
  }
  const state = parsed as Partial<EmulatorState>;
  if (state.version !== 1 || typeof state.keys !== 'object' || typeof state.projects !== 'object') {
    throw new Error(`state file ${path} is not a keyless emulator state (version 1)`);
  }
  return { ...emptyState(), ...state, generative: { ...emptyGenerativeState(), ...(state.generative ?? {}) } } as EmulatorState;
}

/** Writes the state atomically. */
export async function writeStateFile(path: string, state: EmulatorState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, path);
}

/** The synchronous variant, for the last write at shutdown. */
export function writeStateFileSync(path: string, state: EmulatorState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, path);
}
