/**
 * The Target every provider type shares: a wire dialect (how bodies and
 * responses look) driven over one UpstreamClient (pool, deadline, faults).
 */
import type { Operation } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import type {
  CallContext,
  EmbedRequest,
  EmbedResult,
  ForwardRequest,
  Forwarded,
  StreamChunk,
  Target,
  TargetCapabilities,
  TargetDescription,
  TargetType,
  TextRequest,
  TextResult,
  WireApi,
} from '../target.js';
import { forwardRequest, type ForwardTargetInit } from './forward.js';
import type { UpstreamClient } from './upstream-client.js';
import type { Json } from './wire-shape.js';

export interface StreamReader {
  /** One SSE event's data → the chunks it carried (text, tool call pieces), often none. Throws GatewayError on a fault. */
  accept(data: string): StreamChunk[];
  /** The body ended cleanly → the closing chunk, or throws if the upstream had not finished. */
  end(): StreamChunk;
}

export interface ProviderDialect {
  /** Full request path of text generation (query and chat). */
  textPath: string;
  /** `ctx` lets a dialect name a hint it ignored (ctx.ignore). */
  textBody(req: TextRequest, stream: boolean, ctx?: CallContext): Json;
  readText(json: unknown): TextResult;
  streamReader(): StreamReader;
  /** Absent when the provider has no embeddings API. */
  embed?: { path: string; body(req: EmbedRequest): Json; read(json: unknown, inputs: number): EmbedResult };
}

export interface ProviderTargetInit {
  name: string;
  type: Exclude<TargetType, 'local'>;
  model: string;
  baseUrl: string;
  client: UpstreamClient;
  dialect: ProviderDialect;
  capabilities: TargetCapabilities;
  /** Pass-through (docs/api.md#pass-through): the APIs spoken natively and their paths, and what to scrub from errors. */
  native?: Omit<ForwardTargetInit, 'client' | 'model'>;
}

const TEXT_OPERATIONS: ReadonlySet<Operation> = new Set(['query', 'chat']);
const ALL_OPERATIONS: ReadonlySet<Operation> = new Set(['query', 'chat', 'embed']);

export class ProviderTarget implements Target {
  readonly name: string;
  readonly type: Exclude<TargetType, 'local'>;
  readonly operations: ReadonlySet<Operation>;
  readonly capabilities: TargetCapabilities;
  private readonly model: string;
  private readonly baseUrl: string;
  private readonly client: UpstreamClient;
  private readonly dialect: ProviderDialect;
  readonly forwards: ReadonlySet<WireApi>;
  private readonly native: ForwardTargetInit | undefined;

  constructor(init: ProviderTargetInit) {
    this.name = init.name;
    this.type = init.type;
    this.model = init.model;
    this.baseUrl = init.baseUrl;
    this.client = init.client;
    this.dialect = init.dialect;
    this.capabilities = init.capabilities;
    this.operations = init.dialect.embed ? ALL_OPERATIONS : TEXT_OPERATIONS;
    this.native = init.native ? { ...init.native, client: init.client, model: init.model } : undefined;
    this.forwards = new Set(Object.keys(init.native?.paths ?? {}) as WireApi[]);
  }

  forward(req: ForwardRequest, ctx: CallContext): Promise<Forwarded> {
    if (!this.native || !this.forwards.has(req.api)) {
      return Promise.reject(new GatewayError('internal', `target "${this.name}" does not speak ${req.api}`));
    }
    return forwardRequest(this.native, req, ctx);
  }

  /** Nothing to load: pools connect lazily, and start-up never contacts a provider. */
  async load(): Promise<void> {}

  async complete(req: TextRequest, ctx: CallContext): Promise<TextResult> {
    const body = this.dialect.textBody(req, false, ctx);
    const json = await this.client.postJson(this.dialect.textPath, body, ctx);
    return this.dialect.readText(json);
  }

  async *stream(req: TextRequest, ctx: CallContext): AsyncGenerator<StreamChunk, void, undefined> {
    const body = this.dialect.textBody(req, true, ctx);
    const reader = this.dialect.streamReader();
    for await (const event of this.client.postSse(this.dialect.textPath, body, ctx)) {
      yield* reader.accept(event.data);
    }
    yield reader.end();
  }

  async embed(req: EmbedRequest, ctx: CallContext): Promise<EmbedResult> {
    const embed = this.dialect.embed;
    if (!embed) throw new GatewayError('invalid_request', `target "${this.name}" (${this.type}) does not support embed`);
    const json = await this.client.postJson(embed.path, embed.body(req), ctx);
    return embed.read(json, req.inputs.length);
  }

  describe(): TargetDescription {
    return { name: this.name, type: this.type, model: this.model, operations: [...this.operations], baseUrl: this.baseUrl };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
