/**
 * generate() on a real sequence of the generated demo model: the prompt is
 * evaluated in chunks, the abort signal is checked between chunks, and
 * chunking does not change what the model writes.
 */
import assert from 'node:assert/strict';
import type { LlamaContext, LlamaModel } from 'node-llama-cpp';
import { pino } from 'pino';
import { after, before, describe, it } from 'node:test';
import { generate, type GenerationSequence, type SamplingOptions } from '../../src/targets/local/generation.js';
import { acquireLlama, type LlamaLease } from '../../src/targets/local/llama-instance.js';
import { prepareQuery } from '../../src/targets/local/prompt.js';
import { ensureDemoModel } from './models.js';

const GREEDY: SamplingOptions = { maxTokens: 12, temperature: 0, topP: 1, stop: [] };
const LONG_PROMPT = 'Once upon a time there was a little fox who lived in the forest. '.repeat(28).slice(0, 1800);

/** A sequence that records every prompt evaluation call, optionally running `onChunk` after each chunk. */
function recording(context: LlamaContext, onChunk: (n: number) => void = () => {}) {
  const seq = context.getSequence();
  const chunks: number[] = [];
  const evaluated: number[] = [];
  const wrapped: GenerationSequence = {
    get contextSize() {
      return seq.contextSize;
    },
    async evaluateWithoutGeneratingNewTokens(tokens, options) {
      await seq.evaluateWithoutGeneratingNewTokens(tokens, options);
      chunks.push(tokens.length);
      onChunk(chunks.length);
    },
    evaluate(tokens, options) {
      evaluated.push(tokens.length);
      return seq.evaluate(tokens, options);
    },
  };
  return { seq, wrapped, chunks, evaluated };
}

async function textOf(gen: AsyncGenerator<{ text: string }, unknown>): Promise<string> {
  let text = '';
  for await (const piece of gen) text += piece.text;
  return text;
}

describe('generate: chunked prompt evaluation', () => {
  let lease: LlamaLease;
  let model: LlamaModel;
  let context: LlamaContext;

  before(async () => {
    lease = await acquireLlama('cpu', pino({ level: 'silent' }));
    model = await lease.llama.loadModel({ modelPath: ensureDemoModel(), gpuLayers: 0 });
    context = await model.createContext({ sequences: 3, contextSize: 2048, batchSize: 64, threads: 1 });
  });
  after(async () => {
    await context?.dispose();
    await model?.dispose();
    await lease?.release();
  });

  it('evaluates a long prompt in chunks of the given size, then samples from the last chunk, writing what an unchunked run writes', async () => {
    const prompt = prepareQuery(model, LONG_PROMPT);
    assert.ok(prompt.tokens.length > 4 * 64, `prompt has ${prompt.tokens.length} tokens`);
    const chunked = recording(context);
    const whole = recording(context);
    try {
      const a = await textOf(generate(chunked.wrapped, model, prompt, GREEDY, new AbortController().signal, 64));
      const b = await textOf(generate(whole.wrapped, model, prompt, GREEDY, new AbortController().signal, 1_000_000));
      const full = Math.ceil(prompt.tokens.length / 64) - 1;
      assert.deepEqual(chunked.chunks, Array(full).fill(64));
      assert.deepEqual(chunked.evaluated, [prompt.tokens.length - full * 64]);
      assert.deepEqual(whole.chunks, []);
      assert.deepEqual(whole.evaluated, [prompt.tokens.length]);
      assert.ok(a.length > 0);
      assert.equal(a, b, 'chunking does not change the greedy answer');
    } finally {
      await chunked.seq.dispose();
      await whole.seq.dispose();
    }
  });

  it('stops between chunks when the signal aborts during prompt evaluation, without sampling', async () => {
    const prompt = prepareQuery(model, LONG_PROMPT);
    const ac = new AbortController();
    const reason = new Error('client disconnected');
    // The client leaves while the first chunk is being evaluated.
    const r = recording(context, (n) => n === 1 && ac.abort(reason));
    try {
      const gen = generate(r.wrapped, model, prompt, GREEDY, ac.signal, 64);
      await assert.rejects(gen.next(), (err) => err === reason);
      assert.deepEqual(r.chunks, [64], 'no chunk after the abort');
      assert.deepEqual(r.evaluated, [], 'generation never started');
      assert.equal(r.seq.nextTokenIndex, 64, 'only the first chunk reached the context');
    } finally {
      await r.seq.dispose();
    }
  });

  it('does not evaluate anything when the signal is already aborted', async () => {
    const prompt = prepareQuery(model, LONG_PROMPT);
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    const r = recording(context);
    try {
      await assert.rejects(generate(r.wrapped, model, prompt, GREEDY, ac.signal, 64).next(), /gone/);
      assert.deepEqual([r.chunks, r.evaluated], [[], []]);
    } finally {
      await r.seq.dispose();
    }
  });

  it('evaluates a prompt no longer than one chunk in a single call', async () => {
    const prompt = prepareQuery(model, 'hello');
    const r = recording(context);
    try {
      await textOf(generate(r.wrapped, model, prompt, { ...GREEDY, maxTokens: 2 }, new AbortController().signal, 64));
      assert.deepEqual([r.chunks, r.evaluated], [[], [prompt.tokens.length]]);
    } finally {
      await r.seq.dispose();
    }
  });
});
