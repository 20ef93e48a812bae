/**
 * `[targets.runtime]` for local targets: advanced llama.cpp settings.
 * Unknown keys are rejected like everywhere else.
 */
import { z } from 'zod';

export const LocalRuntimeSchema = z.strictObject({
  /** Context size in tokens for each sequence. */
  context_size: z.number().int().min(16).max(1_048_576).default(2048),
  /** Parallel sequences in the one shared context (concurrent requests decoded in one batch). */
  parallel: z.number().int().min(1).max(64).default(4),
  /** CPU threads for llama.cpp. Default 1: tiny models thrash with more on small machines. */
  threads: z.number().int().min(1).max(256).default(1),
  /** Layers to offload to the GPU: "auto", "max" or a count (0 = none). Ignored with backend = "cpu". */
  gpu_layers: z.union([z.literal('auto'), z.literal('max'), z.number().int().min(0)]).default('auto'),
  /** Logical batch size for prompt processing. */
  batch_size: z.number().int().min(1).max(65_536).default(512),
  /** Requests allowed to wait for a free sequence; beyond that: 429 admission. */
  queue_size: z.number().int().min(0).max(100_000).default(64),
  /** Default max_tokens when a request gives none. */
  default_max_tokens: z.number().int().min(1).max(1_000_000).default(256),
});
export type LocalRuntime = z.infer<typeof LocalRuntimeSchema>;
