/**
 * Server-sent events writer for the public stream protocol (SPEC §3):
 * `event: token|usage|done|error` frames with JSON data.
 */
import type { ServerResponse } from 'node:http';
import type { DoneFrame, ErrorBody, TokenFrame, Usage } from '@sipp/shared';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  private frame(event: string, data: unknown): boolean {
    if (!this.open) return false;
    return this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  token(data: TokenFrame): boolean {
    return this.frame('token', data);
  }
  usage(data: Usage): boolean {
    return this.frame('usage', data);
  }
  done(data: DoneFrame): void {
    this.frame('done', data);
    this.end();
  }
  error(data: ErrorBody): void {
    this.frame('error', data);
    this.end();
  }
  end(): void {
    if (this.open) this.res.end();
  }

  /** Resolves when the socket can take more data (backpressure), or it closed. */
  drain(): Promise<void> {
    if (!this.open) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }
}
