/**
 * A JSON document as a Koa response body, serialized here and handed to Koa
 * as a string with the type Koa gives an object (`application/json;
 * charset=utf-8`, unless a Content-Type was set). Koa's body setter and its
 * respond step test any other object against the global `Response`, and the
 * first touch of that global loads Node's bundled undici and `node:http2`,
 * ~12 MB of memory the gateway never uses (docs/operations.md#memory). Strings,
 * Buffers, streams and null go to Koa as they are.
 */
import type { Context } from 'koa';

export function jsonBody(ctx: Context, value: unknown): void {
  if (
    value === null ||
    typeof value !== 'object' ||
    Buffer.isBuffer(value) ||
    typeof (value as { pipe?: unknown }).pipe === 'function'
  ) {
    ctx.body = value;
    return;
  }
  if (!ctx.response.get('Content-Type')) ctx.type = 'json';
  ctx.body = JSON.stringify(value);
}
