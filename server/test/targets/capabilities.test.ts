/**
 * checkTextCapabilities / checkEmbedCapabilities against the capabilities the
 * real targets declare (providers built from config, no network; the local
 * target's declared set): every refusal names
 * its field with an actionable sentence; what a target honours passes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { checkEmbedCapabilities, checkTextCapabilities } from '../../src/targets/capabilities.js';
import { createProviderTarget } from '../../src/targets/providers/index.js';
import { CAPABILITIES as LOCAL_CAPABILITIES } from '../../src/targets/local/local-target.js';
import type { GenerationOptions, Message, TextRequest } from '../../src/targets/target.js';
import { makeDeps } from '../providers/harness.js';

const deps = makeDeps({ K: 'sk-capabilities-test' });
const common = { model: 'm', base_url: 'http://127.0.0.1:9', timeout_seconds: 5 };
const providerTargets = {
  openai: createProviderTarget({ ...common, name: 'gpt', type: 'openai', api_key_env: 'K' }, deps),
  openai_compatible: createProviderTarget({ ...common, name: 'vllm', type: 'openai_compatible', token_env: 'K' }, deps),
  anthropic: createProviderTarget(
    { ...common, name: 'claude', type: 'anthropic', api_key_env: 'K', version: '2023-06-01' },
    deps,
  ),
};
after(() => Promise.all(Object.values(providerTargets).map((t) => t.close())));

const LOCAL_CAPS = LOCAL_CAPABILITIES;

type Kind = keyof typeof providerTargets | 'local';
const NAMES: Record<Kind, string> = { openai: 'gpt', openai_compatible: 'vllm', anthropic: 'claude', local: 'local' };

function check(kind: Kind, req: TextRequest) {
  const caps = kind === 'local' ? LOCAL_CAPS : providerTargets[kind].capabilities;
  return checkTextCapabilities(req, caps, { name: NAMES[kind], type: kind });
}
const query = (options: GenerationOptions): TextRequest => ({ operation: 'query', prompt: 'x', options });
const chat = (messages: Message[], options: GenerationOptions = {}): TextRequest => ({ operation: 'chat', messages, options });

const IMAGE = { type: 'image', source: { kind: 'url', url: 'https://img.example/a.png' } } as const;

describe('checkTextCapabilities', () => {
  it('passes a plain request on every target type', () => {
    for (const kind of ['openai', 'openai_compatible', 'anthropic', 'local'] as const) {
      assert.equal(
        check(kind, chat([{ role: 'user', content: 'hi' }], { temperature: 1, topP: 0.5, stop: ['a'], maxTokens: 5, user: 'u' })),
        null,
        kind,
      );
    }
  });

  it('bounds temperature per target type, naming the type’s range', () => {
    assert.deepEqual(check('anthropic', query({ temperature: 1.5 })), {
      field: 'temperature',
      message: 'temperature must be between 0 and 1 for anthropic targets',
    });
    assert.equal(check('anthropic', query({ temperature: 1 })), null);
    assert.deepEqual(check('openai', query({ temperature: 2.1 })), {
      field: 'temperature',
      message: 'temperature must be between 0 and 2 for openai targets',
    });
    assert.equal(check('openai', query({ temperature: 2 })), null);
    assert.deepEqual(check('local', query({ temperature: -0.1 })), {
      field: 'temperature',
      message: 'temperature must be between 0 and 2 for local targets',
    });
  });

  it('bounds top_p to 0..1', () => {
    assert.deepEqual(check('openai', query({ topP: 1.01 })), { field: 'top_p', message: 'top_p must be between 0 and 1' });
    assert.equal(check('openai', query({ topP: 1 })), null);
  });

  it('allows at most 4 stop sequences on openai targets, no such limit elsewhere', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(check('openai', query({ stop: five })), {
      field: 'stop',
      message: 'at most 4 stop sequences on openai targets',
    });
    assert.equal(check('openai', query({ stop: five.slice(0, 4) })), null);
    for (const kind of ['openai_compatible', 'anthropic', 'local'] as const)
      assert.equal(check(kind, query({ stop: five })), null, kind);
  });

  it('capability flags decide, not the target type (a compatible server without seed; an anthropic-typed target with it)', () => {
    const openaiCaps = providerTargets.openai.capabilities;
    const systemImage: Message[] = [
      { role: 'system', content: [IMAGE] },
      { role: 'user', content: 'x' },
    ];
    const strict = { ...openaiCaps, seed: false, systemImages: false };
    const compat = { name: 'vllm', type: 'openai_compatible' };
    assert.equal(checkTextCapabilities(query({ seed: 1 }), strict, compat)?.field, 'seed');
    assert.equal(checkTextCapabilities(chat(systemImage), strict, compat)?.field, 'messages.0.content.0');
    const lenient = { ...providerTargets.anthropic.capabilities, seed: true, systemImages: true };
    const claude = { name: 'claude', type: 'anthropic' };
    assert.equal(checkTextCapabilities(query({ seed: 1 }), lenient, claude), null);
    assert.equal(checkTextCapabilities(chat(systemImage), lenient, claude), null);
  });

  it('refuses seed on anthropic targets only', () => {
    assert.deepEqual(check('anthropic', query({ seed: 1 })), {
      field: 'seed',
      message: 'anthropic targets do not support seed; leave it out',
    });
    for (const kind of ['openai', 'openai_compatible', 'local'] as const)
      assert.equal(check(kind, query({ seed: 1 })), null, kind);
  });

  it('every target type takes tools and every tool_choice; a target without tools refuses them (not none)', () => {
    const tools = [{ name: 'f' }];
    for (const kind of ['openai', 'openai_compatible', 'anthropic', 'local'] as const) {
      assert.equal(check(kind, query({ tools, toolChoice: { type: 'tool', name: 'f' }, parallelToolCalls: false })), null, kind);
      assert.equal(check(kind, query({ tools, toolChoice: { type: 'required' } })), null, kind);
      assert.equal(check(kind, query({ tools, toolChoice: { type: 'auto' } })), null, kind);
    }
    const noTools = { ...LOCAL_CAPS, tools: false };
    const target = { name: 'plain', type: 'local' };
    assert.deepEqual(checkTextCapabilities(query({ tools }), noTools, target), {
      field: 'tools',
      message: 'target "plain" (local) does not support tools',
    });
    assert.deepEqual(checkTextCapabilities(query({ toolChoice: { type: 'required' } }), noTools, target), {
      field: 'tool_choice',
      message: 'target "plain" (local) does not support tools',
    });
    assert.equal(checkTextCapabilities(query({ toolChoice: { type: 'none' }, tools: [] }), noTools, target), null);
  });

  it('takes tool calls and tool results in the conversation on every target type; a target without tools refuses them', () => {
    const withCall: Message[] = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: '{}' }] },
    ];
    const withResult: Message[] = [...withCall, { role: 'tool', toolCallId: 'c', content: 'r' }];
    for (const kind of ['openai', 'openai_compatible', 'anthropic', 'local'] as const)
      assert.equal(check(kind, chat(withResult)), null, kind);
    const noTools = { ...LOCAL_CAPS, tools: false };
    const target = { name: 'plain', type: 'local' };
    assert.deepEqual(checkTextCapabilities(chat(withCall), noTools, target), {
      field: 'messages.1',
      message: 'target "plain" (local) does not support tools (tool calls and tool results)',
    });
    assert.equal(checkTextCapabilities(chat([{ role: 'assistant', content: 'plain', toolCalls: [] }]), noTools, target), null);
    const onlyResult: Message[] = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'y' },
      { role: 'tool', toolCallId: 'c', content: 'r' },
    ];
    assert.equal(checkTextCapabilities(chat(onlyResult), noTools, target)?.field, 'messages.2');
  });

  it('refuses image parts on local targets naming messages.<i>.content.<j>; providers take them (anthropic not in system)', () => {
    const msgs: Message[] = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, IMAGE] },
    ];
    assert.deepEqual(check('local', chat(msgs)), {
      field: 'messages.1.content.1',
      message: 'target "local" (local) does not support images',
    });
    assert.equal(check('local', chat([{ role: 'user', content: [{ type: 'text', text: 'only text parts' }] }])), null);
    for (const kind of ['openai', 'openai_compatible', 'anthropic'] as const) assert.equal(check(kind, chat(msgs)), null, kind);
    const systemImage: Message[] = [
      { role: 'system', content: [IMAGE] },
      { role: 'user', content: 'x' },
    ];
    assert.deepEqual(check('anthropic', chat(systemImage)), {
      field: 'messages.0.content.0',
      message: 'anthropic targets take text only in system messages',
    });
    assert.equal(check('openai', chat(systemImage)), null);
  });

  it('refuses response_format except {type: text} where unsupported', () => {
    const json = { type: 'json_object' };
    assert.deepEqual(check('anthropic', query({ responseFormat: json })), {
      field: 'response_format',
      message: 'target "claude" (anthropic) does not support response_format',
    });
    assert.equal(check('local', query({ responseFormat: json }))?.field, 'response_format');
    assert.equal(check('anthropic', query({ responseFormat: { type: 'text' } })), null);
    assert.equal(check('openai', query({ responseFormat: json })), null);
    assert.equal(check('openai_compatible', query({ responseFormat: json })), null);
  });

  it('accepts OpenAI extras at their harmless defaults (or null) on targets without extras, refuses the rest naming the key', () => {
    const harmless = {
      n: 1,
      logprobs: false,
      top_logprobs: 0,
      frequency_penalty: 0,
      presence_penalty: 0,
      store: false,
      logit_bias: {},
      modalities: ['text'],
      service_tier: 'auto',
      metadata: null,
    };
    for (const kind of ['anthropic', 'local'] as const) assert.equal(check(kind, query({ openaiExtras: harmless })), null, kind);
    assert.deepEqual(check('anthropic', query({ openaiExtras: { n: 1, logprobs: true } })), {
      field: 'logprobs',
      message: 'target "claude" (anthropic) does not support logprobs at this value',
    });
    assert.deepEqual(check('local', query({ openaiExtras: { n: 2 } })), {
      field: 'n',
      message: 'target "local" (local) does not support n at this value',
    });
    assert.deepEqual(check('local', query({ openaiExtras: { frequency_penalty: 0.5 } }))?.field, 'frequency_penalty');
    assert.deepEqual(check('local', query({ openaiExtras: { logit_bias: { '50256': -100 } } }))?.field, 'logit_bias');
    // Hint-only fields are ignored (named in x-sipp-ignored by the call), never refused (docs/api.md#ignored-fields).
    for (const kind of ['anthropic', 'local'] as const) {
      assert.equal(
        check(
          kind,
          query({
            openaiExtras: {
              reasoning_effort: 'low',
              prompt_cache_key: 'k',
              store: true,
              service_tier: 'flex',
              metadata: { a: '1' },
            },
          }),
        ),
        null,
        kind,
      );
    }
    // Not mistaken for a harmless default through the prototype chain.
    assert.equal(check('local', query({ openaiExtras: { toString: 1 } }))?.field, 'toString');
    for (const kind of ['openai', 'openai_compatible'] as const)
      assert.equal(check(kind, query({ openaiExtras: { n: 3, logprobs: true, reasoning_effort: 'low' } })), null, kind);
  });
});

describe('checkEmbedCapabilities', () => {
  it('refuses dimensions where unsupported, accepts it on openai-type targets', () => {
    assert.deepEqual(checkEmbedCapabilities({ inputs: ['a'], dimensions: 8 }, LOCAL_CAPS, { name: 'local', type: 'local' }), {
      field: 'dimensions',
      message: 'target "local" (local) does not support dimensions; leave it out to get the model\'s own size',
    });
    assert.equal(checkEmbedCapabilities({ inputs: ['a', 'b'], user: 'u' }, LOCAL_CAPS, { name: 'local', type: 'local' }), null);
    for (const kind of ['openai', 'openai_compatible'] as const) {
      assert.equal(
        checkEmbedCapabilities({ inputs: ['a'], dimensions: 8 }, providerTargets[kind].capabilities, {
          name: NAMES[kind],
          type: kind,
        }),
        null,
      );
    }
  });
});
