// The one setting that decides where every Google client points: Google's endpoints with
// Application Default Credentials, or, when KEYLESS_EMULATOR holds the emulator's base URL, the
// emulator for every client. Nothing else in keyless special-cases the emulator; with the
// emulator, ADC itself resolves through its metadata server (GCE_METADATA_HOST), exactly as on a
// GCE VM.

import { z } from 'zod';

/** The OAuth scope every keyless client asks for. */
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/** Where the clients send requests. */
export const EndpointConfigSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('google') }),
  z.object({
    mode: z.literal('emulator'),
    /** `http://127.0.0.1:<port>`: the emulator serves every surface on one origin. */
    baseUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  }),
]);
export type EndpointConfig = z.output<typeof EndpointConfigSchema>;

/** Reads KEYLESS_EMULATOR once: set and non-empty means every client talks to the emulator. */
export function endpointConfigFromEnv(env: Record<string, string | undefined>): EndpointConfig {
  const emulator = env.KEYLESS_EMULATOR?.trim();
  return EndpointConfigSchema.parse(emulator ? { mode: 'emulator', baseUrl: emulator } : { mode: 'google' });
}
