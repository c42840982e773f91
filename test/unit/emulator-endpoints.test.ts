// KEYLESS_EMULATOR must be this machine, and emulator-mode credentials are explicit: a
// configuration that would send its secret anywhere but the emulator is refused, and with none
// set up the error says what to set instead of falling back to the user's own ADC.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emulatorCredentials } from '../../google/emulator-credentials';
import { endpointConfigFromEnv, isLoopbackHostname } from '../../google/endpoints';

describe('KEYLESS_EMULATOR', () => {
  it.each(['http://127.0.0.1:7280', 'http://localhost:7280', 'http://[::1]:7280', 'http://127.0.0.2:1/'])('accepts %s', (url) => {
    expect(endpointConfigFromEnv({ KEYLESS_EMULATOR: url })).toMatchObject({ mode: 'emulator' });
  });

  it.each(['http://emulator:7280', 'http://10.0.0.5:7280', 'https://evil.example', 'http://127.0.0.1.evil.example:7280', 'not a url'])('refuses %s, naming the variable', (url) => {
    expect(() => endpointConfigFromEnv({ KEYLESS_EMULATOR: url })).toThrow(/KEYLESS_EMULATOR/);
  });

  it('refuses a GCE_METADATA_HOST elsewhere in emulator mode', () => {
    expect(() => endpointConfigFromEnv({ KEYLESS_EMULATOR: 'http://127.0.0.1:7280', GCE_METADATA_HOST: '169.254.169.254' })).toThrow(/GCE_METADATA_HOST/);
    expect(isLoopbackHostname('127.0.0.1:9999')).toBe(true);
  });
});

describe('emulator credentials', () => {
  const config = { mode: 'emulator' as const, baseUrl: 'http://127.0.0.1:7280' };

  it('never falls back to ADC: without a metadata host or KEYLESS_CREDENTIAL_CONFIG it says what to set', () => {
    expect(() => emulatorCredentials(config, { GOOGLE_APPLICATION_CREDENTIALS: '/home/me/creds.json' })).toThrow(/GCE_METADATA_HOST.*KEYLESS_CREDENTIAL_CONFIG.*never used/);
  });

  it('refuses a credential configuration whose token endpoint is not the emulator', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyless-emucreds-'));
    const file = join(dir, 'wif.json');
    await writeFile(file, JSON.stringify({ type: 'external_account', token_url: 'https://sts.googleapis.com/v1/token', audience: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', credential_source: { file: '/dev/null' } }));
    expect(() => emulatorCredentials(config, { KEYLESS_CREDENTIAL_CONFIG: file })).toThrow(/sts\.googleapis\.com/);
    const user = join(dir, 'user.json');
    await writeFile(user, JSON.stringify({ type: 'authorized_user', client_id: 'c', client_secret: 's', refresh_token: 'r' }));
    expect(() => emulatorCredentials(config, { KEYLESS_CREDENTIAL_CONFIG: user })).toThrow(/oauth2\.googleapis\.com/);
    const ours = join(dir, 'ours.json');
    await writeFile(ours, JSON.stringify({ type: 'external_account', token_url: 'http://127.0.0.1:7280/v1/token', audience: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', credential_source: { file: '/dev/null' } }));
    expect(emulatorCredentials(config, { KEYLESS_CREDENTIAL_CONFIG: ours })).toBeTruthy();
  });
});
