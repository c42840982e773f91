// Environments that make @google/genai pick a backend on its own. The SDK reads these variables
// from process.env whatever its caller says, and with an API key next to
// GOOGLE_GENAI_USE_VERTEXAI=true it silently prefers one over the other, which is exactly the
// "both configured, the SDK picked the wrong one" failure a migration must not have.

/** One conflicting setting, with the variable to remove. */
export interface EnvironmentConflict {
  /** The variable the operator should remove. */
  remove: string;
  message: string;
}

const KEY_VARIABLES = ['GEMINI_API_KEY', 'GOOGLE_API_KEY'] as const;
const BACKEND_SWITCHES = ['GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_GENAI_USE_ENTERPRISE'] as const;

/** Conflicts in `env`; never includes a variable's value (it may be a key string). */
export function environmentConflicts(env: Record<string, string | undefined>): EnvironmentConflict[] {
  const conflicts: EnvironmentConflict[] = [];
  const keys = KEY_VARIABLES.filter((name) => isSet(env[name]));
  for (const backendSwitch of BACKEND_SWITCHES) {
    if (env[backendSwitch]?.trim().toLowerCase() !== 'true' || keys.length === 0) continue;
    conflicts.push({
      remove: backendSwitch,
      message:
        `${keys.join(' and ')} and ${backendSwitch}=true are both set, so @google/genai would choose between the API key and Vertex by itself; ` +
        `remove ${backendSwitch}: the keyless Gemini client chooses Vertex per run from the route`,
    });
  }
  if (keys.length === 2 && env.GEMINI_API_KEY!.trim() !== env.GOOGLE_API_KEY!.trim()) {
    conflicts.push({
      remove: 'GOOGLE_API_KEY',
      message: 'GEMINI_API_KEY and GOOGLE_API_KEY hold different keys and @google/genai silently prefers GOOGLE_API_KEY; remove GOOGLE_API_KEY and keep the pipeline\'s key in GEMINI_API_KEY',
    });
  }
  return conflicts;
}

/** Thrown by createGeminiClient when the environment would confuse the SDK. */
export class ConflictingCredentialsError extends Error {
  override readonly name = 'ConflictingCredentialsError';
  constructor(readonly conflicts: EnvironmentConflict[]) {
    super(`refusing to start: ${conflicts.map((c) => c.message).join('; ')}`);
  }
}

export function assertNoConflictingCredentials(env: Record<string, string | undefined>): void {
  const conflicts = environmentConflicts(env);
  if (conflicts.length > 0) throw new ConflictingCredentialsError(conflicts);
}

/** The API key from the environment, the way @google/genai would pick it. */
export function apiKeyFromEnv(env: Record<string, string | undefined>): string | undefined {
  return [env.GOOGLE_API_KEY, env.GEMINI_API_KEY].find(isSet)?.trim();
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}
