// The worker's Prometheus endpoint (KEYLESS_METRICS_ADDRESS). The Temporal SDK's runtime serves it:
// its own families (temporal_workflow_task_*, temporal_activity_*, temporal_request*, …) and any
// metric created through the runtime's metric meter. The exporter is a property of the process-wide
// runtime, so it is installed once, before the worker's first connection.
//
// keyless's own families (migrations by stage, rollbacks, mutations, approvals, canary verdicts)
// belong on this same endpoint: create them with the SDK's metric meter, which this runtime
// exports: `metricMeter` from '@temporalio/workflow' in workflow code (replay-safe: nothing is
// emitted while replaying), `Context.current().metricMeter` in activities, and
// `Runtime.instance().metricMeter` in the worker process. Nothing else needs to bind a port.

import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { ConfigError, type TemporalConfig } from './config';

/** The address the worker's Prometheus endpoint binds (ip:port), or undefined when metrics are off. */
export function metricsBindAddress(config: Pick<TemporalConfig, 'metricsAddress'>): string | undefined {
  return config.metricsAddress;
}

/** The runtime options that serve Prometheus metrics on `bindAddress`. */
export function prometheusRuntimeOptions(bindAddress: string, base: RuntimeOptions = {}): RuntimeOptions {
  return {
    ...base,
    telemetryOptions: {
      ...base.telemetryOptions,
      metrics: {
        ...base.telemetryOptions?.metrics,
        // Durations in seconds, as Prometheus' naming conventions (and most dashboards) expect.
        prometheus: { bindAddress, useSecondsForDurations: true },
      },
    },
  };
}

/**
 * Installs the Temporal runtime with the Prometheus exporter when the config asks for metrics;
 * returns the bound address, or undefined when metrics are off. Must run before any connection or
 * worker exists in the process: the runtime, and so the exporter, is created once.
 */
export function installMetricsRuntime(config: Pick<TemporalConfig, 'metricsAddress'>): string | undefined {
  const bindAddress = metricsBindAddress(config);
  if (!bindAddress) return undefined;
  try {
    Runtime.install(prometheusRuntimeOptions(bindAddress));
  } catch (err) {
    const message = (err as Error).message;
    // A runtime made earlier (by a connection, or an install without metrics) cannot gain an exporter.
    if (/already been (installed|instantiated)/.test(message)) {
      throw new ConfigError([
        {
          variable: 'KEYLESS_METRICS_ADDRESS',
          message: `cannot serve metrics on ${bindAddress}: the Temporal runtime of this process was created before the worker (${message}); run \`keyless worker\` as a process of its own, or unset KEYLESS_METRICS_ADDRESS`,
        },
      ]);
    }
    // The exporter binds at install: a port in use fails here, before the worker polls.
    throw new ConfigError([{ variable: 'KEYLESS_METRICS_ADDRESS', message: `cannot serve metrics on ${bindAddress}: ${message}; pick a free port` }]);
  }
  return bindAddress;
}
