// The one setting that decides where every Google client points: Google's endpoints with
// Application Default Credentials, or, when KEYLESS_EMULATOR holds the emulator's base URL, the
// emulator for every client, with the emulator's own credentials (google/emulator-credentials.ts),
// never the user's. The emulator must be on this machine: a KEYLESS_EMULATOR elsewhere would send
// every client's tokens, prompts and key strings to whoever answers there.

import { z } from 'zod';

/** The OAuth scope every keyless client asks for. */
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/** Whether a URL host or `host:port` is this machine: localhost, 127.0.0.0/8 or [::1]. */
export function isLoopbackHostname(host: string): boolean {
  const name = (host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')).toLowerCase();
  if (name === 'localhost' || name === '::1') return true;
  const parts = name.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

const LOOPBACK_RULE = 'must be a loopback address such as http://127.0.0.1:7280 (localhost, 127.0.0.0/8 or [::1]): the emulator runs on this machine, and every client sends it tokens and key strings';

/** Where the clients send requests. */
export const EndpointConfigSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('google') }),
  z.object({
    mode: z.literal('emulator'),
    /** `http://127.0.0.1:<port>`: the emulator serves every surface on one origin. */
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .refine((url) => URL.canParse(url) && isLoopbackHostname(new URL(url).host), { message: `KEYLESS_EMULATOR ${LOOPBACK_RULE}` })
      .transform((url) => url.replace(/\/+$/, '')),
    /** `127.0.0.1:<port>` of the emulator's metadata server for this process's identity (GCE_METADATA_HOST). */
    metadataHost: z
      .string()
      .refine((host) => isLoopbackHostname(host), { message: `GCE_METADATA_HOST in emulator mode ${LOOPBACK_RULE}` })
      .optional(),
  }),
]);
export type EndpointConfig = z.output<typeof EndpointConfigSchema>;

/** Reads KEYLESS_EMULATOR once: set and non-empty means every client talks to the emulator; a bad value throws naming the variable. */
export function endpointConfigFromEnv(env: Record<string, string | undefined>): EndpointConfig {
  const emulator = env.KEYLESS_EMULATOR?.trim();
  const metadataHost = env.GCE_METADATA_HOST?.trim();
  const parsed = EndpointConfigSchema.safeParse(emulator ? { mode: 'emulator', baseUrl: emulator, ...(metadataHost ? { metadataHost } : {}) } : { mode: 'google' });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = issue.path[0] === 'metadataHost' ? 'GCE_METADATA_HOST' : 'KEYLESS_EMULATOR';
    throw new TypeError(issue.message.startsWith(variable) ? issue.message : `${variable} must be the emulator's base URL, e.g. http://127.0.0.1:7280 (${issue.message})`);
  }
  return parsed.data;
}
