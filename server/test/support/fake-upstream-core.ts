/**
 * The machinery shared by the fake provider servers (fake-openai.ts,
 * fake-anthropic.ts): a real node:http server on 127.0.0.1:0 that records what
 * it receives, checks credentials, answers in a provider's wire format and can
 * be told to misbehave. Each provider module supplies only its wire format.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: any;
  /** Identifies the TCP connection, to observe keep-alive reuse. */
  connection: number;
}

/**
 * How the fake answers. `afterChunks` counts SSE frames sent before the fault
 * (streams); for finite responses the faults happen after half the body.
 */
export type FakeBehavior =
  /** Well-formed answers (the default). */
  | { kind: 'normal' }
  /** This status with the provider's error JSON (or `body` verbatim), plus `headers` (e.g. retry-after). */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** 200 with a truncated JSON document (finite) or a non-JSON `data:` frame (stream) after N frames. */
  | { kind: 'malformed'; afterChunks?: number }
  /** Destroy the socket mid-body (finite: after half the body; stream: after N frames). */
  | { kind: 'reset'; afterChunks?: number }
  /** Send headers (and half the body / N frames), then never finish. */
  | { kind: 'stall'; afterChunks?: number }
  /** Never send even the headers. */
  | { kind: 'stall-headers' }
  /** Answer normally after waiting `ms` before the headers. */
  | { kind: 'delay'; ms: number }
  /** Stream: wait `gapMs` before every frame (finite: answer normally). */
  | { kind: 'slow'; gapMs: number }
  /** Stream: the provider's own in-stream error event after N frames. */
  | { kind: 'provider-error'; afterChunks?: number }
  /** Stream: end the body cleanly after N frames, without the provider's final frames. */
  | { kind: 'truncate'; afterChunks?: number }
  /**
   * Stream: after N frames, one `data:` line of `bytes` bytes sent in `chunkBytes` pieces (honouring backpressure),
   * then the rest of the frames. `midway.then()` (optional) is awaited once `midway.atBytes` of the line are out.
   */
  | { kind: 'huge-line'; bytes: number; chunkBytes: number; afterChunks?: number; midway?: Midway }
  /** Stream: after N frames, only `: ping` comments every `everyMs` (plus `event: ping` ones when `pingEvents`), forever. */
  | { kind: 'pings'; everyMs: number; afterChunks?: number; pingEvents?: boolean }
  /** Finite: a 200 JSON answer padded to about `bytes` bytes, sent chunked (no Content-Length) in 16 KiB pieces. */
  | { kind: 'oversize'; bytes: number }
  /** Stream: exactly these raw SSE frames, whatever the request asked for. */
  | { kind: 'frames'; frames: string[] };

/** A pause in a bulk answer: the fake awaits `then()` once `atBytes` are written. */
export interface Midway {
  atBytes: number;
  then: () => Promise<void>;
}

/** What a provider module renders for one request. */
export type Rendered =
  { type: 'json'; status?: number; body: string } | { type: 'sse'; frames: string[]; errorFrame: string; malformedFrame: string };

export interface ProviderWire {
  /** Whether the request carries the expected credential (and mandatory headers). */
  authorized(headers: IncomingHttpHeaders): boolean;
  /** The provider's error document for a status. */
  errorBody(status: number): string;
  /** The answer for a request the fake handles, or null for an unknown route (404). */
  render(path: string, body: any): Rendered | null;
}

export interface FakeUpstream {
  /** Origin, e.g. http://127.0.0.1:PORT. */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Body bytes the last 'huge-line' or 'oversize' response had written when it finished or its client left. */
  readonly lastBulkBytes: number;
  /** Responses the client closed before the fake finished them (not counting the fake's own resets). */
  readonly abortedCount: number;
  /** TCP connections currently open to the fake. */
  readonly openConnections: number;
  /** The behavior of every request (clears queued ones). */
  setBehavior(behavior: FakeBehavior): void;
  /** Behaviors for the next requests, one each, before the standing behavior applies again. */
  queueBehaviors(...behaviors: FakeBehavior[]): void;
  /** Resolves once at least `n` responses were aborted by the client (rejects after `timeoutMs`). */
  waitForAborts(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /** Keep a copy of every request (default true). Off for benchmarks. */
  record?: boolean;
}

export async function startFakeUpstream(wire: ProviderWire, options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const record = options.record ?? true;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const socketIds = new WeakMap<Socket, number>();
  const timers = new Set<NodeJS.Timeout>();
  const abortWaiters = new Set<() => void>();
  let behavior: FakeBehavior = { kind: 'normal' };
  const queued: FakeBehavior[] = [];
  let aborted = 0;
  let nextSocketId = 0;
  let lastBulkBytes = 0;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      if (record) {
        requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body,
          connection: socketIds.get(req.socket) ?? -1,
        });
      }
      const current = queued.shift() ?? behavior;
      let resetByFake = false;
      res.on('close', () => {
        if (res.writableFinished || resetByFake) return;
        aborted += 1;
        for (const w of abortWaiters) w();
      });
      const reset = (): void => {
        resetByFake = true;
        req.socket.destroy();
      };
      respond(req, res, body, current, reset);
    });
  });

  function respond(req: IncomingMessage, res: ServerResponse, body: any, b: FakeBehavior, reset: () => void): void {
    if (req.method !== 'POST') return sendJson(res, 405, wire.errorBody(405));
    if (!wire.authorized(req.headers)) return sendJson(res, 401, wire.errorBody(401));
    const rendered = wire.render((req.url ?? '').split('?')[0]!, body);
    if (!rendered) return sendJson(res, 404, wire.errorBody(404));
    switch (b.kind) {
      case 'stall-headers':
        return;
      case 'delay':
        return later(b.ms, () => respond(req, res, body, { kind: 'normal' }, reset));
      case 'status':
        return sendJson(res, b.status, b.body ?? wire.errorBody(b.status), b.headers);
    }
    if (b.kind === 'oversize') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void writeBulk(res, Buffer.from('{"pad":"'), b.bytes, 16 * 1024, Buffer.from('"}'));
    }
    if (b.kind === 'frames') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      return void res.end(b.frames.join(''));
    }
    if (rendered.type === 'json') {
      const status = rendered.status ?? 200;
      if (b.kind === 'normal' || b.kind === 'slow' || b.kind === 'provider-error' || b.kind === 'truncate' || status !== 200) {
        return sendJson(res, status, rendered.body);
      }
      const full = Buffer.from(rendered.body);
      const half = full.subarray(0, Math.max(1, full.length >> 1));
      if (b.kind === 'malformed') return sendJson(res, 200, half.toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': full.length });
      res.write(half);
      if (b.kind === 'reset') later(10, reset);
      return; // stall: never finish
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const frames = rendered.frames;
    const n =
      'afterChunks' in b && b.afterChunks !== undefined ? Math.min(b.afterChunks, frames.length) : Math.min(1, frames.length);
    switch (b.kind) {
      case 'normal':
        res.end(frames.join(''));
        return;
      case 'slow': {
        let i = 0;
        const step = (): void => {
          if (res.destroyed) return;
          if (i === frames.length) return void res.end();
          res.write(frames[i++]!);
          later(b.gapMs, step);
        };
        later(b.gapMs, step);
        return;
      }
      case 'malformed':
        res.end(frames.slice(0, n).join('') + rendered.malformedFrame);
        return;
      case 'provider-error':
        res.end(frames.slice(0, n).join('') + rendered.errorFrame);
        return;
      case 'truncate':
        res.end(frames.slice(0, n).join(''));
        return;
      case 'reset':
        res.write(frames.slice(0, n).join(''));
        later(10, reset);
        return;
      case 'stall':
        res.write(frames.slice(0, n).join(''));
        return;
      case 'huge-line':
        res.write(frames.slice(0, n).join(''));
        void writeBulk(
          res,
          Buffer.from('data: '),
          b.bytes,
          b.chunkBytes,
          Buffer.from(`\n\n${frames.slice(n).join('')}`),
          b.midway,
        );
        return;
      case 'pings': {
        res.write(frames.slice(0, n).join(''));
        const ping = (): void => {
          if (res.destroyed) return;
          res.write(b.pingEvents ? ': ping\n\nevent: ping\ndata: {"type":"ping"}\n\n' : ': ping\n\n');
          later(b.everyMs, ping);
        };
        later(b.everyMs, ping);
        return;
      }
    }
  }

  /** Writes head, `bytes` filler bytes in `chunk` pieces (waiting on backpressure), then tail; stops when the client leaves. */
  async function writeBulk(
    res: ServerResponse,
    head: Buffer,
    bytes: number,
    chunk: number,
    tail: Buffer,
    midway?: Midway,
  ): Promise<void> {
    const piece = Buffer.alloc(chunk, 'x');
    let sent = 0;
    lastBulkBytes = 0;
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    res.write(head);
    let halfway = midway;
    while (sent < bytes && !res.destroyed) {
      const n = Math.min(chunk, bytes - sent);
      res.write(n === chunk ? piece : piece.subarray(0, n));
      sent += n;
      lastBulkBytes = sent;
      if (halfway && sent >= halfway.atBytes) {
        const wait = halfway;
        halfway = undefined;
        await wait.then();
      }
      if (res.writableNeedDrain) await Promise.race([new Promise<void>((resolve) => res.once('drain', () => resolve())), closed]);
    }
    if (!res.destroyed) res.end(tail);
  }

  server.on('connection', (socket) => {
    socketIds.set(socket, nextSocketId++);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get lastBulkBytes() {
      return lastBulkBytes;
    },
    get abortedCount() {
      return aborted;
    },
    get openConnections() {
      return sockets.size;
    },
    setBehavior(b) {
      behavior = b;
      queued.length = 0;
    },
    queueBehaviors(...b) {
      queued.push(...b);
    },
    waitForAborts(n, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        if (aborted >= n) return resolve();
        const timer = setTimeout(() => {
          abortWaiters.delete(check);
          reject(new Error(`fake upstream saw ${aborted} aborted responses, expected ${n}`));
        }, timeoutMs);
        const check = (): void => {
          if (aborted < n) return;
          clearTimeout(timer);
          abortWaiters.delete(check);
          resolve();
        };
        abortWaiters.add(check);
      });
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** One SSE frame. */
export function sseFrame(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`;
}
