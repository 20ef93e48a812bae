/**
 * Reads a request body with a hard byte limit, for the public and admin body
 * readers (each maps `BodyReadError` to its own error shape). Nothing is read
 * past the limit: a declared Content-Length over it is refused before the
 * 100 Continue, and an oversized body stops being read at the first chunk
 * beyond it (the response then closes the connection, see listen.ts).
 */
import type { IncomingMessage } from 'node:http';
import { sendContinue } from './expect-continue.js';
import { BodyReadError } from '../errors.js';

/** Defined with every error class in errors.ts; re-exported for existing importers. */
export { BodyReadError };

export function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyReadError('too_large'));
  sendContinue(req);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: BodyReadError | null) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('aborted', onAborted);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading: the socket is paused and closed after the 413.
        req.pause();
        finish(new BodyReadError('too_large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onAborted = () => finish(new BodyReadError('aborted'));
    const onClose = () => {
      if (!req.complete) finish(new BodyReadError('aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAborted);
    req.on('aborted', onAborted);
    req.on('close', onClose);
  });
}
