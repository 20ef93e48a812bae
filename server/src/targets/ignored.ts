/**
 * Fields that only tune how a provider works (prompt caching, thinking,
 * context management, beta headers …). Across APIs they are translated where
 * the target has an equivalent and otherwise ignored, never refused; every
 * ignored field is named in the `x-sipp-ignored` response header and counted
 * in `sipp_gateway_ignored_fields_total{api,field}` (docs/api.md#ignored-fields).
 *
 * The names form a fixed list so that a metric label or a header never carries
 * a client-chosen string. Fields that change what a correct answer is (images
 * to a text-only target, `n` > 1, `logprobs`, …) are not here: those are still
 * refused with a 400 naming the field.
 */
export const IGNORABLE_FIELDS = [
  'anthropic-beta',
  'cache_control',
  'client_metadata',
  'context_management',
  'include',
  'output_config',
  'parallel_tool_calls',
  'prompt_cache_key',
  'reasoning',
  'reasoning_effort',
  'service_tier',
  'store',
  'thinking',
  'truncation',
  'eager_input_streaming',
  'metadata',
  'prompt_cache_retention',
  'verbosity',
  // Server-side Responses tools, run only by native Responses targets (docs/api.md#server-side-tools).
  'web_search',
  'file_search',
  'code_interpreter',
  'computer_use',
  'image_generation',
  'mcp',
  'namespace',
] as const;

export type IgnorableField = (typeof IGNORABLE_FIELDS)[number];

/** Response header naming the fields ignored for this request (comma-separated, sorted). */
export const IGNORED_HEADER = 'x-sipp-ignored';

/** The header's value for a set of ignored fields, or null when none was ignored. */
export function ignoredHeaderValue(fields: ReadonlySet<IgnorableField> | null): string | null {
  return fields && fields.size > 0 ? [...fields].sort().join(',') : null;
}
