/**
 * A raw TCP client for HTTP tests that fetch cannot express: bodies that never
 * end, `Expect: 100-continue`, missing Host headers, slow headers. It keeps
 * everything received and waits on events (data, close), never on timers,
 * except for a generous upper bound that turns a hang into a failure.
 */
import { connect, type Socket } from 'node:net';

export class RawConnection {
  /** Everything received so far (latin1). */
  received = '';
  /** Set once the socket closed (by either side), with the error code if any. */
  closedWith: { error: string | null } | null = null;
  /** Bytes the client handed to the socket. */
  written = 0;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.received += d.toString('latin1');
      this.notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closedWith ??= { error: err.code ?? err.message };
      this.notify();
    });
    socket.on('close', () => {
      this.closedWith ??= { error: null };
      this.notify();
    });
  }

  static open(url: string, options: { localAddress?: string } = {}): Promise<RawConnection> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port),
        localAddress: options.localAddress,
      });
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves when `check` holds (re-checked on every event); rejects after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received.slice(0, 300))}`));
      }, timeoutMs);
      const listener = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      this.listeners.add(listener);
    });
  }

  /** Resolves once `text` has been received. */
  waitFor(text: string, timeoutMs?: number): Promise<void> {
    return this.until(() => this.received.includes(text), JSON.stringify(text), timeoutMs);
  }

  /** Resolves once the connection is closed. */
  waitClosed(timeoutMs?: number): Promise<void> {
    return this.until(() => this.closed, 'the connection to close', timeoutMs);
  }

  /** Writes and resolves when the socket can take more (false once closed). */
  write(data: string | Buffer): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return Promise.resolve(false);
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.written += buf.length;
    if (this.socket.write(buf)) return Promise.resolve(true);
    return this.until(() => this.closed || this.socket.writableLength === 0, 'drain').then(() => !this.closed);
  }

  /**
   * Sends chunked-encoding chunks of `chunkBytes` until the server closes the
   * connection; fails after `maxBytes` (the server never stopped reading).
   */
  async pumpChunks(chunkBytes = 8192, maxBytes = 256 * 1024 * 1024): Promise<void> {
    const chunk = Buffer.concat([
      Buffer.from(`${chunkBytes.toString(16)}\r\n`),
      Buffer.alloc(chunkBytes, 0x61),
      Buffer.from('\r\n'),
    ]);
    while (!this.closed) {
      if (this.written > maxBytes) throw new Error(`the server was still reading after ${this.written} bytes`);
      if (!(await this.write(chunk))) break;
    }
  }

  /** The status line codes of every response head received, in order (100 included). */
  statuses(): number[] {
    return [...this.received.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A request head (CRLF line endings) with the given headers. */
export function requestHead(method: string, path: string, headers: Record<string, string>, version = 'HTTP/1.1'): string {
  return `${method} ${path} ${version}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}
