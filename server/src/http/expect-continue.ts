/**
 * `Expect: 100-continue` handled by the gateway instead of Node: the listener
 * routes `checkContinue` requests to the app like any other request and parks
 * their response here; `sendContinue` is called by the body readers, so
 * `100 Continue` goes out only once every check before the body (block list,
 * rate limit, token, declared size, admin session) has passed. A request
 * refused earlier gets its final answer without a 100, and its connection is
 * closed (see listen.ts), so the client never sends the body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const waiting = new WeakMap<IncomingMessage, ServerResponse>();

/** Remembers that `req` expects a 100 Continue before it sends its body. */
export function deferContinue(req: IncomingMessage, res: ServerResponse): void {
  waiting.set(req, res);
}

/** Sends the deferred 100 Continue, if `req` is waiting for one. */
export function sendContinue(req: IncomingMessage): void {
  const res = waiting.get(req);
  if (!res) return;
  waiting.delete(req);
  if (!res.headersSent && !res.destroyed) res.writeContinue();
}
