/**
 * OpenTelemetry traces (docs/operations.md#traces): a tracer provider that
 * exports finished spans over OTLP/HTTP (protobuf by default, or JSON), set
 * up only when tracing is on — a gateway with tracing off never loads the SDK.
 * The standard variables win over [telemetry.traces]:
 * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (setting
 * either turns tracing on), OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, OTEL_SERVICE_NAME,
 * OTEL_SDK_DISABLED.
 */
import { randomFillSync } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import type { TracesConfig } from '../config/telemetry.js';

export interface Tracing {
  tracer: Tracer;
  captureContent: boolean;
  clientContext: 'honour' | 'link';
  /** Where spans go (for the start-up log line; no credentials). */
  endpoint: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Exports what is pending, then stops. */
  shutdown(): Promise<void>;
}

export interface TracingSettings {
  endpoint: string;
  protocol: 'http/protobuf' | 'http/json';
  headers: Record<string, string>;
  serviceName: string;
  sampler: { kind: 'always_on' | 'always_off' | 'ratio'; ratio: number; parentBased: boolean };
}

/** What tracing would do under this config and environment; null when it is off. */
export function tracingSettings(cfg: TracesConfig, env: NodeJS.ProcessEnv): TracingSettings | null {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return null;
  const envTraces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const envBase = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!cfg.enabled && !envTraces && !envBase) return null;
  const endpoint = envTraces || `${(envBase || cfg.endpoint).replace(/\/+$/, '')}/v1/traces`;
  const p = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim();
  const protocol = p === 'http/json' || p === 'http/protobuf' ? p : cfg.protocol;
  const headers = cfg.headers_env ? parseHeaders(env[cfg.headers_env] ?? '') : {};
  return {
    endpoint,
    protocol,
    headers,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'sipp-gateway',
    sampler: samplerFrom(cfg.sampling_ratio, env),
  };
}

function samplerFrom(ratio: number, env: NodeJS.ProcessEnv): TracingSettings['sampler'] {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const argRatio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on':
      return { kind: 'always_on', ratio: 1, parentBased: false };
    case 'always_off':
      return { kind: 'always_off', ratio: 0, parentBased: false };
    case 'traceidratio':
      return { kind: 'ratio', ratio: argRatio, parentBased: false };
    case 'parentbased_always_on':
      return { kind: 'always_on', ratio: 1, parentBased: true };
    case 'parentbased_always_off':
      return { kind: 'always_off', ratio: 0, parentBased: true };
    case 'parentbased_traceidratio':
      return { kind: 'ratio', ratio: argRatio, parentBased: true };
    default:
      return { kind: 'ratio', ratio, parentBased: true };
  }
}

/** `key=value,key=value` (values URL-decoded), as OTEL_EXPORTER_OTLP_HEADERS. */
export function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/**
 * Trace and span ids from a 4 KiB pool of the CSPRNG, refilled when spent
 * (the SDK's default draws Math.random() per id: several calls and a buffer
 * write each). An all-zero id, invalid in W3C trace context, is never
 * returned.
 */
export class PooledIdGenerator {
  private readonly pool = Buffer.allocUnsafe(4096);
  private at = this.pool.length;

  private next(bytes: number): string {
    if (this.at + bytes > this.pool.length) {
      randomFillSync(this.pool);
      this.at = 0;
    }
    const id = this.pool.toString('hex', this.at, (this.at += bytes));
    return /^0+$/.test(id) ? `${id.slice(0, -1)}1` : id;
  }

  generateTraceId(): string {
    return this.next(16);
  }

  generateSpanId(): string {
    return this.next(8);
  }
}

/** The one id generator of the tracer provider and of the unsampled attempts' traceparent (public/modules/tracing.ts). */
export const spanIds = new PooledIdGenerator();

export async function startTracing(cfg: TracesConfig, settings: TracingSettings, version: string): Promise<Tracing> {
  const [
    { TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, AlwaysOnSampler, AlwaysOffSampler },
    { resourceFromAttributes },
  ] = await Promise.all([import('@opentelemetry/sdk-trace'), import('@opentelemetry/resources')]);
  const exporterOptions = { url: settings.endpoint, headers: settings.headers };
  const exporter =
    settings.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(exporterOptions)
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter(exporterOptions);
  const s = settings.sampler;
  const root =
    s.kind === 'always_on'
      ? new AlwaysOnSampler()
      : s.kind === 'always_off'
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(s.ratio);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName, 'service.version': version }),
    sampler: s.parentBased ? new ParentBasedSampler({ root }) : root,
    idGenerator: spanIds,
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: cfg.export_delay_ms,
        maxQueueSize: 8192,
        maxExportBatchSize: 512,
      }),
    ],
  });
  return {
    tracer: provider.getTracer('sipp-gateway', version),
    captureContent: cfg.capture_content,
    clientContext: cfg.client_context,
    endpoint: settings.endpoint,
    protocol: settings.protocol,
    shutdown: () => provider.shutdown(),
  };
}
