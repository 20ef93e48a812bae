/**
 * Reads a request body with a hard byte limit (413 before reading anything
 * when Content-Length already says too much, and before any 100 Continue)
 * and parses it as a JSON object.
 */
import type { IncomingMessage } from 'node:http';
import { BodyReadError, GatewayError } from '../errors.js';
import { readLimited } from '../http/read-limited.js';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readLimited(req, limit);
  } catch (err) {
    if (err instanceof BodyReadError && err.reason === 'too_large') {
      throw new GatewayError('payload_too_large', `request body exceeds max_request_bytes (${limit} bytes)`);
    }
    // The client went away; the app records it as 499 client_closed_request.
    throw new GatewayError('invalid_request', 'request body was aborted');
  }
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatewayError('invalid_json', 'request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
