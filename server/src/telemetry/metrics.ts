/**
 * Gateway Prometheus metrics (SPEC §6) on a registry of its own. Labels come
 * only from fixed sets: operation, target name, status class. Children for each
 * label value are bound once so the hot path does no label hashing.
 */
import { OPERATIONS, type Operation, type RequestRecord } from '@sipp/shared';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestObserver } from './observer.js';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface GatewayMetrics extends RequestObserver {
  registry: Registry;
}

export function createMetrics(options: {
  targetNames: readonly string[];
  activeRequests: () => number;
  processMetrics?: boolean;
}): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sipp_gateway_' });

  const requests = new Counter({
    name: 'sipp_gateway_requests_total',
    help: 'Public inference requests received, by operation.',
    labelNames: ['operation'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'sipp_gateway_errors_total',
    help: 'Public inference requests that ended in an error (HTTP >= 400 or a stream error frame), by operation.',
    labelNames: ['operation'],
    registers: [registry],
  });
  const responses = new Counter({
    name: 'sipp_gateway_responses_total',
    help: 'Public listener responses by status class.',
    labelNames: ['status_class'],
    registers: [registry],
  });
  new Gauge({
    name: 'sipp_gateway_active_requests',
    help: 'Inference requests admitted and still running.',
    registers: [registry],
    collect() {
      this.set(options.activeRequests());
    },
  });
  const rateLimitHits = new Counter({
    name: 'sipp_gateway_rate_limit_hits_total',
    help: 'Requests refused by the per-client rate limit.',
    registers: [registry],
  });
  const blocklistHits = new Counter({
    name: 'sipp_gateway_blocklist_hits_total',
    help: 'Requests refused because the client IP is blocklisted.',
    registers: [registry],
  });
  const inputTokens = new Counter({
    name: 'sipp_gateway_input_tokens_total',
    help: 'Input (prompt) tokens reported by targets.',
    labelNames: ['target'],
    registers: [registry],
  });
  const outputTokens = new Counter({
    name: 'sipp_gateway_output_tokens_total',
    help: 'Output (generated) tokens reported by targets.',
    labelNames: ['target'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sipp_gateway_request_duration_seconds',
    help: 'Public inference request duration (for streams: until the last frame), by operation.',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });

  const byOp = new Map<Operation, { requests: Counter.Internal; errors: Counter.Internal; duration: Histogram.Internal<string> }>();
  for (const op of OPERATIONS) {
    requests.labels(op).inc(0);
    errors.labels(op).inc(0);
    byOp.set(op, { requests: requests.labels(op), errors: errors.labels(op), duration: duration.labels(op) });
  }
  const byClass = STATUS_CLASSES.map((c) => responses.labels(c));
  const byTarget = new Map(
    options.targetNames.map((t) => [t, { input: inputTokens.labels(t), output: outputTokens.labels(t) }] as const),
  );
  for (const t of byTarget.values()) {
    t.input.inc(0);
    t.output.inc(0);
  }

  return {
    registry,
    onRequest(r: RequestRecord) {
      const cls = byClass[Math.floor(r.status / 100) - 1];
      cls?.inc();
      if (r.code === 'rate_limited') rateLimitHits.inc();
      else if (r.code === 'blocked') blocklistHits.inc();
      if (r.operation) {
        const m = byOp.get(r.operation)!;
        m.requests.inc();
        if (r.code !== null) m.errors.inc();
        m.duration.observe(r.durationMs / 1000);
      }
      if (r.target) {
        const t = byTarget.get(r.target);
        if (t) {
          if (r.inputTokens) t.input.inc(r.inputTokens);
          if (r.outputTokens) t.output.inc(r.outputTokens);
        }
      }
    },
  };
}
