import { providerLimits } from '../../config/limits.js';
import type { CompatibleTargetConfig, OpenAITargetConfig } from '../../config/schema.js';
import type { TargetDeps } from '../target.js';
import {
  chatCompletionBody,
  embeddingBody,
  isReasoningModel,
  OpenAIStreamReader,
  readChatCompletion,
  readEmbedding,
} from './openai-wire.js';
import { ProviderTarget } from './provider-target.js';
import { UpstreamClient } from './upstream-client.js';

/** An `openai` or `openai_compatible` target: Chat Completions and Embeddings with a bearer credential. */
export function createOpenAITarget(config: OpenAITargetConfig | CompatibleTargetConfig, deps: TargetDeps): ProviderTarget {
  const secret = deps.secret(config.type === 'openai' ? config.api_key_env : config.token_env);
  const client = new UpstreamClient({
    baseUrl: config.base_url,
    timeoutMs: config.timeout_seconds * 1000,
    headers: { authorization: `Bearer ${secret}` },
    credentialHeaders: ['authorization'],
    correlationHeader: config.correlation_header,
    targetName: config.name,
    ...providerLimits(config),
  });
  const { model, type } = config;
  return new ProviderTarget({
    name: config.name,
    type,
    model,
    baseUrl: config.base_url,
    client,
    dialect: {
      textPath: client.path('/chat/completions'),
      textBody: (req, stream) => chatCompletionBody(model, type, req, stream),
      readText: readChatCompletion,
      streamReader: () => new OpenAIStreamReader(),
      embed: { path: client.path('/embeddings'), body: (req) => embeddingBody(model, req), read: readEmbedding },
    },
    // `api = "responses"`: the provider's Responses API takes `/v1/responses` as sent (docs/api.md#native-responses-targets).
    native: {
      paths:
        config.api === 'responses'
          ? { openai_chat: '/chat/completions', openai_responses: '/responses' }
          : { openai_chat: '/chat/completions' },
      secrets: [secret],
    },
    capabilities: {
      temperature: { min: 0, max: 2 },
      // OpenAI takes at most 4 stop sequences; compatible servers vary, so only the gateway's own limit applies.
      maxStop: type === 'openai' ? 4 : null,
      seed: true,
      tools: true,
      images: true,
      systemImages: true,
      responseFormat: true,
      openaiExtras: true,
      embeddingDimensions: true,
      // reasoning_effort only means something to OpenAI's reasoning models; compatible servers vary.
      reasoning: type === 'openai' && isReasoningModel(model),
    },
  });
}
