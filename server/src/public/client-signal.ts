/**
 * The abort signal of one public request: aborted when the client disconnects
 * before the answer is complete (pipeline.ts), read by the router and by every
 * target a request calls (`CallContext.signal`).
 *
 * It has what the gateway's readers of a signal use (`aborted`, `reason`,
 * `throwIfAborted`, the `abort` event with addEventListener's `once`; no
 * `onabort`, which nothing sets), on a plain EventTarget: Node 20 builds a real AbortSignal by
 * re-prototyping an EventTarget, which made one signal plus one listener added
 * and removed cost ~4 µs per request against ~0.2 µs here
 * (docs/architecture.md#cost-per-request). Node's own APIs that take a
 * `signal` option (timers/promises, undici) check only that it has `aborted`
 * and listen through addEventListener, so they take it too. Not for
 * `AbortSignal.any`, which reads a real signal's internals.
 */
export class ClientSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;

  /** Aborts once: sets `reason`, then tells the listeners (as AbortController.abort does). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.dispatchEvent(new Event('abort'));
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Typed as the AbortSignal the call context carries (targets/target.ts). */
  get asSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}
