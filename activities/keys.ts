// The API-key side of a migration as activities: inventory and inspection, the stopgap
// restriction, the live key check, the final restrict/delete, and their compensations. Keys are
// named by resource name everywhere; a key string exists only inside checkKeyWorks.

import type { GoogleClients } from './google-clients';
import { checkKeyWorks, type CheckKeyWorksInput, type CheckKeyWorksResult } from './keys/check';
import { inspectKey, inventoryProject, type InspectKeyInput, type InventoryProjectInput, type KeyInspection } from './keys/inventory';
import type { KeyAudit } from './keys/model';
import {
  finalizeKey,
  restoreKeySnapshot,
  restrictKeyToGemini,
  undeleteKey,
  type FinalizeKeyInput,
  type FinalizeKeyResult,
  type RestoreKeySnapshotInput,
  type RestoreKeySnapshotResult,
  type RestrictKeyInput,
  type RestrictKeyResult,
  type UndeleteKeyInput,
  type UndeleteKeyResult,
} from './keys/mutations';

export type { AppRestriction, KeyAudit, KeyRestrictions, KeySnapshot } from './keys/model';
export { GEMINI_API_SERVICE, PIPELINE_ANNOTATION, STOPGAP_ANNOTATION } from './keys/model';
export type * from './keys/check';
export type * from './keys/inventory';
export type * from './keys/mutations';

/** What the key activities need: the Google clients, acting as the orchestrator. */
export interface KeyActivityDeps {
  clients: GoogleClients;
}

export function createKeyActivities(deps: KeyActivityDeps) {
  const { clients } = deps;
  return {
    /** Every key of a project, classified as the seed's audit does. Read-only. */
    async inventoryProject(input: InventoryProjectInput): Promise<KeyAudit[]> {
      return inventoryProject(clients, input);
    },
    /** One key's audit, its snapshot for compensation, and the other pipelines sharing it. KeyNotFound. */
    async inspectKey(input: InspectKeyInput): Promise<KeyInspection> {
      return inspectKey(clients, input);
    },
    /** Stopgap: API target generativelanguage only (app restriction kept). KeyNotFound, ForeignChange. */
    async restrictKeyToGemini(input: RestrictKeyInput): Promise<RestrictKeyResult> {
      return restrictKeyToGemini(clients, input);
    },
    /** One live Gemini API call with the key; a rejection is `ok: false`, not a failure. */
    async checkKeyWorks(input: CheckKeyWorksInput): Promise<CheckKeyWorksResult> {
      return checkKeyWorks(clients, input);
    },
    /** Final state: restrict, restrict-ip or soft delete. KeyNotFound, ForeignChange, InvalidSpec. */
    async finalizeKey(input: FinalizeKeyInput): Promise<FinalizeKeyResult> {
      return finalizeKey(clients, input);
    },
    /** Compensation: put back the inspected snapshot unless someone else changed the key. ForeignChange. */
    async restoreKeySnapshot(input: RestoreKeySnapshotInput): Promise<RestoreKeySnapshotResult> {
      return restoreKeySnapshot(clients, input);
    },
    /** Compensation of a delete; no-op when the key is not deleted. KeyNotFound once purged. */
    async undeleteKey(input: UndeleteKeyInput): Promise<UndeleteKeyResult> {
      return undeleteKey(clients, input);
    },
  };
}

/** The key activities' interface, for `proxyActivities`. */
export type KeyActivities = ReturnType<typeof createKeyActivities>;
