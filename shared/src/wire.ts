/**
 * Public wire protocol of the gateway (docs/api.md): request bodies, responses,
 * SSE frames and error codes. One source of truth for server and dashboard.
 */
import { z } from 'zod';

export const OPERATIONS = ['query', 'chat', 'embed'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Public API surfaces: the Sipp protocol, OpenAI-compatible and Anthropic-compatible routes. */
export const APIS = ['sipp', 'openai', 'anthropic'] as const;
export type Api = (typeof APIS)[number];

export const ERROR_CODES = [
  'invalid_json',
  'invalid_request',
  'authentication',
  'authorization',
  'blocked',
  'resolution',
  'payload_too_large',
  'admission',
  'rate_limited',
  'budget_exceeded',
  'execution',
  'upstream',
  'upstream_rate_limited',
  'upstream_timeout',
  'upstream_protocol',
  'upstream_too_large',
  'unavailable',
  'shutting_down',
  'not_ready',
  'not_found',
  'method_not_allowed',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: { code: ErrorCode | string; message: string };
}

/**
 * Options shared by query and chat. Unknown top-level fields are tolerated
 * (loose objects), and `null` means "unset" for every optional field: the Sipp
 * Rust client serializes unset options as `null` (and `stop` as `[]`).
 * `temperature` is checked again per target type (Anthropic takes 0-1).
 */
const generationOptions = {
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z.array(z.string().min(1)).max(16).nullish(),
  stream: z.boolean().nullish(),
};

const targetName = z.string().min(1);

export const QueryRequestSchema = z.looseObject({
  model: targetName,
  prompt: z.string(),
  ...generationOptions,
});
export type QueryRequest = z.infer<typeof QueryRequestSchema>;

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export const ChatMessageSchema = z.looseObject({
  role: z.enum(CHAT_ROLES),
  content: z.string(),
});
export type ChatMessage = { role: ChatRole; content: string };

export const ChatRequestSchema = z.looseObject({
  model: targetName,
  messages: z.array(ChatMessageSchema).min(1),
  ...generationOptions,
});
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

export const EmbedRequestSchema = z.looseObject({
  model: targetName,
  input: z.string(),
});
/** The `/v1/embed` body (the Sipp wire format); the internal request a target gets is `EmbedRequest` in server/src/targets/target.ts. */
export type SippEmbedRequest = z.infer<typeof EmbedRequestSchema>;

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  /**
   * Gateway-internal (never rendered): of `input_tokens`, those read from and
   * written to the provider's prompt cache, priced apart (docs/budgets.md#cost).
   */
  cache_read_tokens?: number;
  cache_write_tokens?: number;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'error' | (string & {});

export interface TextResponse {
  id: string;
  model: string;
  text: string;
  finish_reason: FinishReason;
  usage?: Usage;
}

export interface EmbeddingResponse {
  id: string;
  model: string;
  embedding: number[];
  usage?: Usage;
}

/** SSE frames, `event: <name>` + `data: <json>`. */
export interface TokenFrame {
  text: string;
  sequence: number;
}
export interface DoneFrame {
  finish_reason: FinishReason;
}
export type StreamFrame =
  | { event: 'token'; data: TokenFrame }
  | { event: 'usage'; data: Usage }
  | { event: 'done'; data: DoneFrame }
  | { event: 'error'; data: ErrorBody };

/** Management index document (docs/operations.md#health-and-readiness). */
export interface IndexDocument {
  name: 'sipp-gateway';
  version: string;
  capabilities: Operation[];
  /** Public API surfaces served (Sipp, OpenAI-compatible, Anthropic-compatible). */
  apis: Api[];
  /** Route paths by configured key (`query`, …, `openai_chat`, …, `anthropic_messages`). */
  routes: { public: Record<string, string>; management: Record<string, string> };
  targets: Array<{
    name: string;
    type: string;
    operations: Operation[];
    backend?: { requested: string; selected: string | null };
  }>;
}
