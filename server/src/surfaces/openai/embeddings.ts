/**
 * OpenAI Embeddings (`POST /v1/embeddings`): `input` a string or an array of
 * strings, `encoding_format` float (default) or base64 (little-endian float32,
 * what the official SDK asks for by default), `dimensions`, `user`.
 */
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import { bearerCredential, type ParsedRequest, type EmbedSurface } from '../surface.js';
import type { EmbedRequest, EmbedResult } from '../../targets/target.js';
import { failOn } from '../fields.js';

/** Most inputs in one request (OpenAI's own limit). */
export const MAX_EMBED_INPUTS = 2048;

const EmbeddingsSchema = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(MAX_EMBED_INPUTS)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});

export interface OpenAIEmbeddingsRequest extends ParsedRequest {
  base64: boolean;
}

function parse(body: Record<string, unknown>): OpenAIEmbeddingsRequest {
  const r = EmbeddingsSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new InvalidFieldError(issue.keys[0]!, 'unknown field');
    if (issue.path[0] === 'input' && issue.code === 'invalid_union') {
      throw new InvalidFieldError(
        'input',
        `expected a string or an array of 1 to ${MAX_EMBED_INPUTS} strings (token arrays are not supported)`,
      );
    }
    failOn(r.error, 'dots');
  }
  const b = r.data;
  const embed: EmbedRequest = { inputs: typeof b.input === 'string' ? [b.input] : b.input };
  if (b.dimensions != null) embed.dimensions = b.dimensions;
  if (b.user != null) embed.user = b.user;
  return { model: b.model, stream: false, base64: b.encoding_format === 'base64', call: { operation: 'embed', embed } };
}

function base64Vector(v: number[]): string {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

function renderEmbed(req: OpenAIEmbeddingsRequest, model: string, result: EmbedResult): unknown {
  const input = result.usage?.input_tokens ?? 0;
  return {
    object: 'list',
    data: result.embeddings.map((v, index) => ({ object: 'embedding', index, embedding: req.base64 ? base64Vector(v) : v })),
    model,
    usage: { prompt_tokens: input, total_tokens: result.usage?.total_tokens ?? input },
  };
}

export const openAIEmbeddingsSurface: EmbedSurface<OpenAIEmbeddingsRequest> = {
  api: 'openai',
  operation: 'embed',
  credential: bearerCredential,
  parse,
  field: (neutral) => neutral,
  renderEmbed,
};
