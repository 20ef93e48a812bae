/**
 * [telemetry.traces]: OpenTelemetry traces over OTLP/HTTP (docs/operations.md#traces).
 * Off by default; the standard OTEL_* environment variables override these
 * keys and turn tracing on when an OTLP endpoint is set there.
 */
import { z } from 'zod';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');

export const TracesSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** OTLP base URL, as OTEL_EXPORTER_OTLP_ENDPOINT: the gateway appends /v1/traces. */
  endpoint: z
    .string()
    .refine((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
      } catch {
        return false;
      }
    }, 'must be an http(s) URL without credentials (put credentials in headers_env)')
    .default('http://127.0.0.1:4318'),
  protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  /** Names the variable holding exporter headers as `key=value,key=value` (OTEL_EXPORTER_OTLP_HEADERS form); values are secrets. */
  headers_env: envName.optional(),
  /** Share of new traces kept (parent-based: a client's sampled flag wins). */
  sampling_ratio: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').default(1),
  /** Record prompts and completions as span attributes. Secrets never are. */
  capture_content: z.boolean().default(false),
  /** A client's `traceparent`: continue its trace (`honour`) or start a new one linked to it (`link`). */
  client_context: z.enum(['honour', 'link']).default('honour'),
  /** Longest wait before a batch of finished spans is exported. */
  export_delay_ms: z.number().int().min(10).max(60_000).default(1000),
});

export const TelemetrySchema = z.strictObject({
  traces: TracesSchema.default(() => TracesSchema.parse({})),
});

export type TracesConfig = z.infer<typeof TracesSchema>;
