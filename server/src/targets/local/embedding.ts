/**
 * Embeddings for local targets: an embedding context created lazily on the
 * first embed request. llama.cpp pools the hidden states with the pooling type
 * the model declares (mean for llama-architecture models without one); the
 * gateway then L2-normalizes the vector (llama.cpp's pooled vector is not
 * normalized — its norm was ~8 on the 64-dim demo model), so cosine similarity
 * is a dot product.
 */
import type { LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import { GatewayError } from '../../errors.js';
import type { LocalRuntime } from '../../config/local-runtime.js';

export class Embedder {
  private context: Promise<LlamaEmbeddingContext> | null = null;

  constructor(
    private readonly model: LlamaModel,
    private readonly runtime: LocalRuntime,
  ) {}

  async embed(input: string): Promise<{ vector: number[]; inputTokens: number }> {
    const tokens = this.model.tokenize(input, false);
    if (tokens.length === 0) throw new GatewayError('invalid_request', 'input: must contain at least one token');
    const ctx = await this.getContext();
    const inputTokens = ctx.calculateInputLength(tokens);
    if (inputTokens >= this.runtime.context_size) {
      throw new GatewayError(
        'invalid_request',
        `input: ${inputTokens} tokens do not fit the target's context of ${this.runtime.context_size} tokens`,
      );
    }
    const embedding = await ctx.getEmbeddingFor(tokens);
    return { vector: l2normalize(embedding.vector), inputTokens };
  }

  private getContext(): Promise<LlamaEmbeddingContext> {
    if (!this.context) {
      this.context = this.model.createEmbeddingContext({
        contextSize: this.runtime.context_size,
        // Pooling needs the whole input in one batch.
        batchSize: this.runtime.context_size,
        threads: this.runtime.threads,
      });
      this.context.catch(() => (this.context = null));
    }
    return this.context;
  }

  async close(): Promise<void> {
    const ctx = this.context;
    this.context = null;
    if (ctx) await (await ctx.catch(() => null))?.dispose();
  }
}

export function l2normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  return norm > 0 ? vector.map((v) => v / norm) : [...vector];
}
