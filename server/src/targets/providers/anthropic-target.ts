import { providerLimits } from '../../config/limits.js';
import type { AnthropicTargetConfig } from '../../config/schema.js';
import type { TargetDeps } from '../target.js';
import { AnthropicStreamReader, messagesBody, readMessage } from './anthropic-wire.js';
import { ProviderTarget } from './provider-target.js';
import { UpstreamClient } from './upstream-client.js';

/** An `anthropic` target: the Messages API with `x-api-key` and `anthropic-version`; no embeddings. */
export function createAnthropicTarget(config: AnthropicTargetConfig, deps: TargetDeps): ProviderTarget {
  const key = deps.secret(config.api_key_env);
  const client = new UpstreamClient({
    baseUrl: config.base_url,
    timeoutMs: config.timeout_seconds * 1000,
    headers: { 'x-api-key': key, 'anthropic-version': config.version },
    credentialHeaders: ['x-api-key'],
    correlationHeader: config.correlation_header,
    targetName: config.name,
    ...providerLimits(config),
  });
  const { model } = config;
  return new ProviderTarget({
    name: config.name,
    type: 'anthropic',
    model,
    baseUrl: config.base_url,
    client,
    dialect: {
      textPath: client.path('/v1/messages'),
      textBody: (req, stream, ctx) => messagesBody(model, req, stream, ctx?.ignore),
      readText: readMessage,
      streamReader: () => new AnthropicStreamReader(),
    },
    native: { paths: { anthropic_messages: '/v1/messages' }, secrets: [key] },
    capabilities: {
      temperature: { min: 0, max: 1 },
      maxStop: null,
      seed: false,
      tools: true,
      images: true,
      systemImages: false,
      responseFormat: false,
      openaiExtras: false,
      embeddingDimensions: false,
      reasoning: true,
    },
  });
}
