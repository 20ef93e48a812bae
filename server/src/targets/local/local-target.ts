/**
 * A `type = "local"` target: one GGUF model served in-process by llama.cpp
 * (node-llama-cpp), one shared context with `parallel` sequences, a bounded
 * FIFO queue for requests waiting for a sequence, and an embedding context
 * created on first use.
 */
import type { Operation } from '@sipp/shared';
import type { LlamaContextSequence } from 'node-llama-cpp';
import type { LocalTargetConfig } from '../../config/schema.js';
import { BackendUnavailableError, GatewayError, LocalModelLoadError } from '../../errors.js';
import type {
  CallContext,
  EmbedRequest,
  EmbedResult,
  StreamChunk,
  Target,
  TargetCapabilities,
  TargetDeps,
  TargetDescription,
  TextRequest,
  TextResult,
  ToolCall,
} from '../target.js';
import { detectGpuAvailability, selectBackend, type GpuAvailability, type SelectedBackend } from './backend.js';
import { Embedder } from './embedding.js';
import {
  generateWithTools,
  planToolChat,
  usesFunctionCalling,
  type ToolChatPlan,
  type ToolGenerationSummary,
} from './function-calling.js';
import { generate, type GenerationSummary } from './generation.js';
import { probeBackendOnce, type ProbeResult } from './gpu-probe.js';
import { acquireLlama, type LlamaLease } from './llama-instance.js';
import { loadModel, checkModelFile, type LoadedModel } from './model-loader.js';
import { prepareChat, prepareQuery, resolveChatTemplate, type ChatTemplateInfo, type PreparedPrompt } from './prompt.js';
import { SequencePool, type PoolLease } from './sequence-pool.js';
import { LocalStats } from './stats.js';

/** Sampling defaults when a request gives none (llama.cpp's usual values). */
export const DEFAULT_TEMPERATURE = 0.8;
export const DEFAULT_TOP_P = 0.95;

/**
 * Context tokens a request with tools keeps free beyond its prompt and answer:
 * the call syntax the wrapper writes itself (not counted as generated), so that
 * node-llama-cpp never has to shift the context (drop early messages) to go on.
 */
const TOOL_CALL_HEADROOM = 16;

const OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(['query', 'chat', 'embed']);

/** Text and function tools (docs/local-models.md#tools); no images, response formats or OpenAI-only fields. */
export const CAPABILITIES: TargetCapabilities = {
  temperature: { min: 0, max: 2 },
  maxStop: null,
  seed: true,
  tools: true,
  images: false,
  systemImages: false,
  responseFormat: false,
  openaiExtras: false,
  embeddingDimensions: false,
};

export interface LocalTargetOptions {
  /** Overrides GPU detection (tests). */
  detectGpus?: () => Promise<GpuAvailability>;
  /** Overrides the GPU startup check (tests); see gpu-probe.ts. */
  probeGpu?: (backend: SelectedBackend, modelPath: string) => Promise<ProbeResult>;
}

interface Ready {
  lease: LlamaLease;
  selected: SelectedBackend;
  devices: string[];
  vram: { total: number; used: number } | null;
  loaded: LoadedModel;
  pool: SequencePool<LlamaContextSequence>;
  chat: ChatTemplateInfo;
  embedder: Embedder;
  embedPool: SequencePool<Embedder>;
}

export class LocalTarget implements Target {
  readonly type = 'local' as const;
  readonly operations = OPERATIONS;
  readonly capabilities = CAPABILITIES;
  readonly name: string;
  private ready: Ready | null = null;
  private readonly stats: LocalStats;
  private closed = false;

  constructor(
    private readonly config: LocalTargetConfig,
    private readonly deps: TargetDeps,
    private readonly options: LocalTargetOptions = {},
  ) {
    this.name = config.name;
    this.stats = new LocalStats(config.stats, config.name, deps.registry, {
      busy: () => this.ready?.pool.busy ?? 0,
      queued: () => this.ready?.pool.queued ?? 0,
    });
  }

  async load(): Promise<void> {
    if (this.ready) return;
    const { name, model: path, backend: requested, runtime } = this.config;
    const log = this.deps.log; // already carries { target } (gateway.ts)
    const startedAt = performance.now();
    await checkModelFile(name, path);

    const available = await (this.options.detectGpus ?? detectGpuAvailability)();
    let selected: SelectedBackend;
    try {
      selected = selectBackend(requested, available);
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw new LocalModelLoadError(`local target "${name}": ${err.message}`);
      throw err;
    }
    if (selected !== 'cpu') {
      // A GPU build can load and still abort the process at its first kernel: check it in a child first.
      const failed = await (this.options.probeGpu ?? probeBackendOnce)(selected, path);
      if (failed) {
        if (requested !== 'auto') {
          throw new LocalModelLoadError(`local target "${name}": backend "${selected}" failed its startup check (${failed})`);
        }
        log.warn({ backend: selected, reason: failed }, 'GPU backend failed its startup check; falling back to cpu');
        selected = 'cpu';
      }
    }
    let lease: LlamaLease;
    try {
      lease = await acquireLlama(selected, log);
    } catch (err) {
      if (requested !== 'auto' || selected === 'cpu') {
        throw new LocalModelLoadError(`local target "${name}": ${err instanceof Error ? err.message : String(err)}`);
      }
      log.warn({ backend: selected }, 'GPU backend failed to start; falling back to cpu');
      selected = 'cpu';
      lease = await acquireLlama(selected, log);
    }

    try {
      const loaded = await loadModel(lease.llama, name, path, selected, runtime, (dispatch) => this.scheduleDecode(dispatch));
      const gpu = selected !== 'cpu';
      const devices = gpu ? await lease.llama.getGpuDeviceNames().catch(() => []) : [];
      const vramState = gpu ? await lease.llama.getVramState().catch(() => null) : null;
      const embedder = new Embedder(loaded.model, runtime);
      this.ready = {
        lease,
        selected,
        devices,
        vram: vramState ? { total: vramState.total, used: vramState.used } : null,
        loaded,
        pool: new SequencePool(loaded.sequences, runtime.queue_size, `local target "${name}"`),
        chat: resolveChatTemplate(loaded.model),
        embedder,
        embedPool: new SequencePool([embedder], runtime.queue_size, `local target "${name}" (embeddings)`),
      };
      log.info(
        {
          backend: { requested, selected, devices },
          loadMs: Math.round(performance.now() - startedAt),
          contextSize: loaded.context.contextSize,
          parallel: runtime.parallel,
          threads: runtime.threads,
          chatTemplate: this.ready.chat.source,
        },
        'local model loaded',
      );
    } catch (err) {
      await lease.release();
      throw err;
    }
  }

  /** The prompt's tokens with this model's tokenizer and chat template (docs/api.md#count-tokens). */
  async countTokens(req: TextRequest, ctx: CallContext): Promise<number> {
    const r = this.requireReady();
    try {
      return this.prepare(r, req).tokens.length;
    } catch (err) {
      throw this.failure(err, ctx);
    }
  }

  async complete(req: TextRequest, ctx: CallContext): Promise<TextResult> {
    let text = '';
    const calls: ToolCall[] = [];
    for await (const chunk of this.stream(req, ctx)) {
      if (chunk.type === 'token') text += chunk.text;
      else if (chunk.type === 'tool_call') {
        const call = (calls[chunk.index] ??= { id: chunk.id ?? '', name: chunk.name ?? '', arguments: '' });
        call.arguments += chunk.arguments;
      } else {
        const result: TextResult = { text, finishReason: chunk.finishReason, usage: chunk.usage };
        if (calls.length > 0) result.toolCalls = calls;
        if (chunk.stopSequence !== undefined) result.stopSequence = chunk.stopSequence;
        return result;
      }
    }
    throw new GatewayError('execution', `local target "${this.name}" ended without a result`);
  }

  async *stream(req: TextRequest, ctx: CallContext): AsyncGenerator<StreamChunk> {
    const r = this.requireReady();
    if (req.operation === 'chat' && usesFunctionCalling(req.options.tools, req.options.toolChoice)) {
      yield* this.streamWithTools(r, req, ctx);
      return;
    }
    const calledAt = performance.now();
    let prompt: PreparedPrompt;
    try {
      prompt = this.prepare(r, req);
    } catch (err) {
      throw this.failure(err, ctx);
    }
    const contextSize = r.loaded.context.contextSize;
    if (prompt.tokens.length >= contextSize) {
      throw new GatewayError(
        'invalid_request',
        `${req.operation === 'chat' ? 'messages' : 'prompt'}: ${prompt.tokens.length} tokens do not fit the target's context of ${contextSize} tokens`,
      );
    }
    const lease = await this.acquire(r.pool, ctx);
    const acquiredAt = performance.now();
    const seq = lease.item;
    const gen = generate(
      seq,
      r.loaded.model,
      prompt,
      {
        maxTokens: req.options.maxTokens ?? this.config.runtime.default_max_tokens,
        temperature: req.options.temperature ?? DEFAULT_TEMPERATURE,
        topP: req.options.topP ?? DEFAULT_TOP_P,
        stop: req.options.stop ?? [],
        seed: req.options.seed,
      },
      ctx.signal,
      r.loaded.context.batchSize,
    );
    try {
      let step = await gen.next();
      while (!step.done) {
        yield { type: 'token', text: step.value.text, tokens: step.value.tokens };
        step = await gen.next();
      }
      yield this.finished(step.value, calledAt, acquiredAt, ctx);
    } catch (err) {
      throw this.failure(err, ctx);
    } finally {
      // Runs on success, error and when the consumer stops early (client gone).
      await gen.return(undefined as never).catch(() => undefined);
      await seq.clearHistory().catch((err: unknown) => ctx.log.warn({ err: String(err) }, 'clearing a sequence failed'));
      lease.release();
    }
  }

  /** Waits for a free sequence; with tracing on, the wait is a `queue` phase (failed: with its error code). */
  private async acquire<T>(pool: SequencePool<T>, ctx: CallContext): Promise<PoolLease<T>> {
    if (!ctx.phase) return pool.acquire(ctx.signal, { noWait: ctx.noWait });
    const queuedAt = performance.now();
    const waiting = pool.queued;
    try {
      const lease = await pool.acquire(ctx.signal, { noWait: ctx.noWait });
      ctx.phase('queue', queuedAt, performance.now(), { 'sipp.queue.ahead': waiting });
      return lease;
    } catch (err) {
      const code = err instanceof GatewayError ? err.code : 'aborted';
      ctx.phase('queue', queuedAt, performance.now(), { 'sipp.queue.ahead': waiting, 'error.type': code });
      throw err;
    }
  }

  /** Records a finished generation's timings in the stats (and its phases) and makes the stream's end chunk. */
  private finished(
    summary: GenerationSummary | ToolGenerationSummary,
    calledAt: number,
    acquiredAt: number,
    ctx: CallContext,
  ): StreamChunk {
    if (ctx.phase) {
      // The summary's durations around the first sampled token (performance.now() ms).
      const first = summary.firstTokenAt ?? performance.now() - summary.generationSeconds * 1000;
      ctx.phase('prompt', first - summary.promptSeconds * 1000, first, { 'gen_ai.usage.input_tokens': summary.inputTokens });
      ctx.phase('generation', first, first + summary.generationSeconds * 1000, {
        'gen_ai.usage.output_tokens': summary.outputTokens,
      });
    }
    this.stats.record({
      queueSeconds: (acquiredAt - calledAt) / 1000,
      promptSeconds: summary.promptSeconds,
      generationSeconds: summary.generationSeconds,
      ttftSeconds: summary.firstTokenAt === null ? null : (summary.firstTokenAt - calledAt) / 1000,
      inputTokens: summary.inputTokens,
      outputTokens: summary.outputTokens,
    });
    return {
      type: 'end',
      finishReason: summary.finishReason,
      usage: {
        input_tokens: summary.inputTokens,
        output_tokens: summary.outputTokens,
        total_tokens: summary.inputTokens + summary.outputTokens,
      },
      ...(summary.stopSequence !== undefined ? { stopSequence: summary.stopSequence } : {}),
    };
  }

  /** Chat with function tools through node-llama-cpp's function calling (function-calling.ts). */
  private async *streamWithTools(
    r: Ready,
    req: TextRequest & { operation: 'chat' },
    ctx: CallContext,
  ): AsyncGenerator<StreamChunk> {
    const calledAt = performance.now();
    const o = req.options;
    let plan: ToolChatPlan;
    try {
      plan = planToolChat(r.loaded.model, r.chat, req.messages, o.tools ?? [], o.toolChoice, o.parallelToolCalls);
    } catch (err) {
      throw this.failure(err, ctx);
    }
    const contextSize = r.loaded.context.contextSize;
    if (plan.promptTokens + TOOL_CALL_HEADROOM >= contextSize) {
      throw new GatewayError(
        'invalid_request',
        `messages: ${plan.promptTokens} tokens (with the tools) do not fit the target's context of ${contextSize} tokens`,
      );
    }
    const lease = await this.acquire(r.pool, ctx);
    const acquiredAt = performance.now();
    const seq = lease.item;
    const gen = generateWithTools(
      seq,
      plan,
      {
        maxTokens: Math.min(
          o.maxTokens ?? this.config.runtime.default_max_tokens,
          contextSize - plan.promptTokens - TOOL_CALL_HEADROOM,
        ),
        temperature: o.temperature ?? DEFAULT_TEMPERATURE,
        topP: o.topP ?? DEFAULT_TOP_P,
        stop: o.stop ?? [],
        seed: o.seed,
      },
      ctx.signal,
    );
    try {
      let step = await gen.next();
      while (!step.done) {
        yield step.value;
        step = await gen.next();
      }
      yield this.finished(step.value, calledAt, acquiredAt, ctx);
    } catch (err) {
      throw this.failure(err, ctx);
    } finally {
      await gen.return(undefined as never).catch(() => undefined);
      await seq.clearHistory().catch((err: unknown) => ctx.log.warn({ err: String(err) }, 'clearing a sequence failed'));
      lease.release();
    }
  }

  async embed(req: EmbedRequest, ctx: CallContext): Promise<EmbedResult> {
    const r = this.requireReady();
    const lease = await this.acquire(r.embedPool, ctx);
    try {
      const embeddings: number[][] = [];
      let inputTokens = 0;
      for (const input of req.inputs) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const one = await lease.item.embed(input);
        embeddings.push(one.vector);
        inputTokens += one.inputTokens;
      }
      return { embeddings, usage: { input_tokens: inputTokens, output_tokens: 0, total_tokens: inputTokens } };
    } catch (err) {
      throw this.failure(err, ctx);
    } finally {
      lease.release();
    }
  }

  describe(): TargetDescription {
    const r = this.ready;
    const runtime = this.config.runtime;
    return {
      name: this.name,
      type: 'local',
      model: this.config.model,
      operations: [...OPERATIONS],
      backend: {
        requested: this.config.backend,
        selected: r?.selected ?? null,
        devices: r?.devices ?? [],
        vramBytes: r?.vram ?? null,
      },
      stats: this.config.stats,
      runtime: {
        loaded: r !== null,
        parallel: runtime.parallel,
        busySequences: r?.pool.busy ?? 0,
        queueDepth: r?.pool.queued ?? 0,
        queueSize: runtime.queue_size,
        threads: runtime.threads,
        contextSize: r?.loaded.context.contextSize ?? runtime.context_size,
        batchSize: runtime.batch_size,
        gpuLayers: r ? r.loaded.model.gpuLayers : null,
        chatTemplate: r ? `${r.chat.source}:${r.chat.wrapper.wrapperName}` : null,
        ...this.stats.runtime(),
      },
      profile: this.stats.profile(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stats.close();
    const r = this.ready;
    this.ready = null;
    if (!r) return;
    const shutting = new GatewayError('shutting_down', 'the gateway is shutting down');
    r.pool.rejectWaiters(shutting);
    r.embedPool.rejectWaiters(shutting);
    await r.embedder.close();
    await r.loaded.context.dispose();
    await r.loaded.model.dispose();
    await r.lease.release();
  }

  /**
   * When to hand queued decodes to llama.cpp. node-llama-cpp's default waits for
   * the next event-loop turn so that concurrent sequences join one batch; that
   * is only worth it when more than one sequence is generating. With one, the
   * decode starts at once (in a microtask), before this turn's socket writes
   * (Node writes HTTP chunks on process.nextTick, after the microtasks), so the
   * writes of token n overlap the decode of token n + 1 instead of preceding it.
   */
  private scheduleDecode(dispatch: () => void): void {
    if ((this.ready?.pool.busy ?? 0) > 1) setImmediate(dispatch);
    else queueMicrotask(dispatch);
  }

  private requireReady(): Ready {
    if (this.ready) return this.ready;
    if (this.closed) throw new GatewayError('shutting_down', 'the gateway is shutting down');
    throw new GatewayError('execution', `local target "${this.name}" is not loaded`);
  }

  private prepare(r: Ready, req: TextRequest): PreparedPrompt {
    return req.operation === 'query'
      ? prepareQuery(r.loaded.model, req.prompt)
      : prepareChat(r.loaded.model, r.chat, req.messages);
  }

  /** Maps anything thrown to what the client may see; aborts pass through untouched. */
  private failure(err: unknown, ctx: CallContext): unknown {
    if (err instanceof GatewayError || ctx.signal.aborted) return err;
    ctx.log.error({ target: this.name, err: err instanceof Error ? err.message : String(err) }, 'local model failure');
    return new GatewayError('execution', `local target "${this.name}" failed to generate`);
  }
}
