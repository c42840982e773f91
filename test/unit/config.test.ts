// Temporal settings from the environment: good values connect, bad ones name the variable.

import { describe, expect, it } from 'vitest';
import { DEFAULT_APPROVAL_AUDIENCES } from '../../contracts/identity';
import { ConfigError, idTokenPolicyFromEnv, temporalConfigFromEnv } from '../../worker/config';

function problems(env: Record<string, string>): string[] {
  try {
    temporalConfigFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.variable);
    throw err;
  }
  return [];
}

describe('temporalConfigFromEnv', () => {
  it('defaults to a local server, namespace default, task queue keyless', () => {
    const config = temporalConfigFromEnv({ TEMPORAL_CONFIG_FILE: undefined, HOME: '/nonexistent' });
    expect(config).toMatchObject({ namespace: 'default', taskQueue: 'keyless', connection: { address: '127.0.0.1:7233' } });
  });

  it('reads address, namespace, API key and task queue', () => {
    const config = temporalConfigFromEnv({
      HOME: '/nonexistent',
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'secret',
      KEYLESS_TASK_QUEUE: 'keyless-eu',
    });
    expect(config.connection.address).toBe('my-ns.a1b2c.tmprl.cloud:7233');
    expect(config.connection.apiKey).toBe('secret');
    // An API key implies TLS, as Temporal Cloud requires.
    expect(config.connection.tls).toBeTruthy();
    expect(config.namespace).toBe('my-ns.a1b2c');
    expect(config.taskQueue).toBe('keyless-eu');
  });

  it.each([
    [{ TEMPORAL_ADDRESS: 'localhost' }, 'TEMPORAL_ADDRESS'],
    [{ TEMPORAL_ADDRESS: 'http://localhost:7233' }, 'TEMPORAL_ADDRESS'],
    [{ TEMPORAL_NAMESPACE: 'has spaces' }, 'TEMPORAL_NAMESPACE'],
    [{ TEMPORAL_TLS: 'yes' }, 'TEMPORAL_TLS'],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/cert.pem' }, 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/hostname' }, 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
    [{ KEYLESS_TASK_QUEUE: 'bad queue!' }, 'KEYLESS_TASK_QUEUE'],
  ])('refuses %j naming %s', (env, variable) => {
    expect(problems({ HOME: '/nonexistent', ...env })).toContain(variable);
  });

  it('reads the metrics address, and leaves metrics off without it', () => {
    expect(temporalConfigFromEnv({ HOME: '/nonexistent', KEYLESS_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toBe('0.0.0.0:9464');
    expect(temporalConfigFromEnv({ HOME: '/nonexistent', KEYLESS_METRICS_ADDRESS: '[::1]:9464' }).metricsAddress).toBe('[::1]:9464');
    expect(temporalConfigFromEnv({ HOME: '/nonexistent', KEYLESS_METRICS_ADDRESS: '' }).metricsAddress).toBeUndefined();
    expect(temporalConfigFromEnv({ HOME: '/nonexistent' }).metricsAddress).toBeUndefined();
  });

  it.each(['localhost:9464', '9464', '127.0.0.1', 'http://127.0.0.1:9464', '300.0.0.1:9464', '127.0.0.1:0', '127.0.0.1:70000'])('refuses KEYLESS_METRICS_ADDRESS=%s', (value) => {
    expect(problems({ HOME: '/nonexistent', KEYLESS_METRICS_ADDRESS: value })).toEqual(['KEYLESS_METRICS_ADDRESS']);
  });

  it('says a host name is not an address the exporter can bind', () => {
    expect(() => temporalConfigFromEnv({ HOME: '/nonexistent', KEYLESS_METRICS_ADDRESS: 'localhost:9464' })).toThrow(/KEYLESS_METRICS_ADDRESS must be ip:port, for example 0\.0\.0\.0:9464.*localhost is not accepted/);
  });

  it('explains what is expected', () => {
    expect(() => temporalConfigFromEnv({ HOME: '/nonexistent', TEMPORAL_TLS: 'yes' })).toThrow('TEMPORAL_TLS: TEMPORAL_TLS must be true or false');
  });
});

describe('idTokenPolicyFromEnv', () => {
  it('defaults to keyless-approvals and gcloud\'s two client ids, tokens at most ten minutes old', () => {
    expect(idTokenPolicyFromEnv({})).toEqual({ audiences: [...DEFAULT_APPROVAL_AUDIENCES], maxAgeSeconds: 600 });
    expect(DEFAULT_APPROVAL_AUDIENCES).toEqual(['keyless-approvals', '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com', '32555940559.apps.googleusercontent.com']);
  });

  it('reads a comma-separated audience list and a duration', () => {
    expect(idTokenPolicyFromEnv({ KEYLESS_APPROVAL_AUDIENCE: 'keyless:acme-prod, 764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com', KEYLESS_APPROVAL_MAX_TOKEN_AGE: '5m' })).toEqual({
      audiences: ['keyless:acme-prod', '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com'],
      maxAgeSeconds: 300,
    });
  });

  it('names the variable and what is expected', () => {
    const bad = (env: Record<string, string>) => {
      try {
        idTokenPolicyFromEnv(env);
      } catch (err) {
        return (err as ConfigError).message;
      }
      return '';
    };
    expect(bad({ KEYLESS_APPROVAL_AUDIENCE: ' , ' })).toMatch(/^KEYLESS_APPROVAL_AUDIENCE: KEYLESS_APPROVAL_AUDIENCE must be a comma-separated list/);
    expect(bad({ KEYLESS_APPROVAL_MAX_TOKEN_AGE: '2h' })).toMatch(/between 30s and 1h/);
    expect(bad({ KEYLESS_APPROVAL_MAX_TOKEN_AGE: 'soon' })).toMatch(/must be a duration such as 10m/);
  });
});
