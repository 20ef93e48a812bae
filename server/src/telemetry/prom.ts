/**
 * prom-client's registry, metric classes and default process metrics without
 * the rest of the package (docs/operations.md#memory). Its entry point also
 * loads the Pushgateway client (node:https, TLS), the cluster aggregator
 * (node:cluster), Summary, and for its CPU counters' exemplars the
 * OpenTelemetry API: ~1 MB of an idle gateway's heap that nothing here uses.
 * The modules a provider-only gateway loads import the metric classes from this
 * file, never from 'prom-client' (types excepted); they are the package's own
 * classes. (The local runtime's metrics, loaded only with a local target, use
 * the package itself.)
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry.js') as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = require('prom-client/lib/counter.js') as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
// eslint-disable-next-line @typescript-eslint/no-namespace -- prom-client's own type namespaces (Counter.Internal …)
export declare namespace Counter {
  type Internal = Prom.Counter.Internal;
}
export const Gauge = require('prom-client/lib/gauge.js') as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = require('prom-client/lib/histogram.js') as typeof Prom.Histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
// eslint-disable-next-line @typescript-eslint/no-namespace -- as Counter's
export declare namespace Histogram {
  type Internal<T extends string = string> = Prom.Histogram.Internal<T>;
}

type DefaultMetric = (registry: Registry, config: { prefix: string; eventLoopMonitoringPrecision: number }) => void;

/**
 * The process CPU counters of prom-client's default metrics (same names, help
 * and values), without exemplars, so the OpenTelemetry API is not loaded for
 * them. One collect() reads process.cpuUsage() once for all three.
 */
function processCpuTotal(registry: Registry, config: { prefix: string }): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${config.prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({
    name: `${config.prefix}process_cpu_system_seconds_total`,
    help: 'Total system CPU time spent in seconds.',
    registers: [registry],
  });
  const total = new Counter({
    name: `${config.prefix}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers: [registry],
  });
}

/** prom-client's default metric modules after its CPU counters, in its collectDefaultMetrics() order. */
const DEFAULT_METRICS = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
];

/** prom-client's collectDefaultMetrics({ register, prefix }): the same metrics, in the same order. */
export function collectDefaultMetrics(options: { register: Registry; prefix: string }): void {
  const config = { prefix: options.prefix, eventLoopMonitoringPrecision: 10 };
  processCpuTotal(options.register, config);
  for (const name of DEFAULT_METRICS) {
    // prom-client registers processResources only where Node has process.getActiveResourcesInfo (it has since 17).
    if (name === 'processResources' && typeof process.getActiveResourcesInfo !== 'function') continue;
    (require(`prom-client/lib/metrics/${name}.js`) as DefaultMetric)(options.register, config);
  }
}
