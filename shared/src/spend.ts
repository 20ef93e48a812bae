/**
 * Spend and usage history (docs/usage.md#spend): the shapes of
 * `GET <admin>/api/spend` and `GET <admin>/api/usage`, shared by the server
 * and the dashboard. Only labels, ids and numbers: never a secret.
 */

/** What `GET spend?group_by=` sums by. `day` groups by UTC calendar day (YYYY-MM-DD). */
export const SPEND_GROUPS = ['key', 'caller', 'target', 'model', 'day'] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];

/** Optional time series per group (`GET spend?interval=`): one row per group and UTC hour or day. */
export const SPEND_INTERVALS = ['hour', 'day'] as const;
export type SpendInterval = (typeof SPEND_INTERVALS)[number];

export interface SpendRow {
  /** The key id, caller label, target, model or day; '' for none (e.g. requests refused before a target was known). */
  group: string;
  /** With `interval`: the start of the row's UTC hour or day (epoch ms). */
  time?: number;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

/** `GET <admin>/api/spend?group_by=…&from&to[&interval&key&caller&target&model]`. */
export interface SpendResponse {
  group_by: SpendGroup;
  /** The range actually summed (epoch ms): whole UTC hours covering the asked range. */
  from: number;
  to: number;
  /** Largest cost first (then requests, then group); with `interval`, ordered by time then cost. */
  rows: SpendRow[];
}

/** Export formats of `GET <admin>/api/usage`. */
export const USAGE_FORMATS = ['csv', 'json'] as const;
export type UsageFormat = (typeof USAGE_FORMATS)[number];

/** One usage row as exported (docs/usage.md#rows); `time` is ISO 8601 UTC. */
export interface UsageExportRow {
  time: string;
  request_id: string;
  key_id: string | null;
  caller: string | null;
  api: string;
  operation: string | null;
  model: string | null;
  target: string | null;
  status: number;
  code: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  latency_ms: number;
  ttft_ms: number | null;
  stream: boolean;
}

/** The export's columns, in order (the CSV header). */
export const USAGE_EXPORT_COLUMNS: ReadonlyArray<keyof UsageExportRow> = [
  'time',
  'request_id',
  'key_id',
  'caller',
  'api',
  'operation',
  'model',
  'target',
  'status',
  'code',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cost_usd',
  'latency_ms',
  'ttft_ms',
  'stream',
];
