// Google names keyless grants and restricts by: written once, used by the plan, the workflow's
// records and the Google library alike.

/** The role a pipeline's account needs on its project to call Vertex. */
export const VERTEX_ROLE = 'roles/aiplatform.user';

/** The role that lets the orchestrator mint an account's tokens (impersonation for the probe and dual-run). */
export const TOKEN_CREATOR_ROLE = 'roles/iam.serviceAccountTokenCreator';

/** The only API a pipeline's key keeps after the stopgap or the finalize step. */
export const GEMINI_API_SERVICE = 'generativelanguage.googleapis.com';

/** The email of account `accountId` in `project`. */
export function serviceAccountEmail(accountId: string, project: string): string {
  return `${accountId}@${project}.iam.gserviceaccount.com`;
}
