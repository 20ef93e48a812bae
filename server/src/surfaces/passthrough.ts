/**
 * A pass-through request's body (docs/api.md#pass-through): the client's JSON
 * body as parsed and, while that body is unchanged, its bytes as sent, which
 * go to the provider with only `model` replaced.
 *
 * The bytes must always be the body, or an edit is silently not sent. So the
 * body cannot be changed in place: `body` is frozen at the top level (an
 * assignment throws) and typed read-only, and the one way to change it is
 * `setMember`, which drops the bytes; the changed body is then serialized
 * (docs/architecture.md#editing-a-pass-through-body). A nested value is
 * changed by setting its member to a changed copy.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { IgnorableField } from '../targets/ignored.js';
import type { WireApi } from '../targets/target.js';

export class PassThrough {
  #body: Readonly<Record<string, unknown>>;
  #raw: Buffer | undefined;
  /** Set when the body did not parse into the internal request: only members that speak `api` can serve. */
  parseError: unknown = null;
  /** The one member that may take the body as sent (a chain a native Responses target keeps, docs/api.md#native-responses-targets). */
  only?: string;

  constructor(
    readonly api: WireApi,
    body: Record<string, unknown>,
    raw: Buffer | undefined,
    readonly headers: IncomingHttpHeaders,
    readonly hintHeaders: readonly IgnorableField[],
  ) {
    this.#body = Object.freeze(body);
    this.#raw = raw;
  }

  /** The body as it will be sent (but for `model`); read-only, see setMember. */
  get body(): Readonly<Record<string, unknown>> {
    return this.#body;
  }

  /** The client's bytes, while they are still the body; undefined once it was changed. */
  get raw(): Buffer | undefined {
    return this.#raw;
  }

  /** Sets (or, with undefined, removes) a top-level member: the body sent is then this one, serialized. */
  setMember(name: string, value: unknown): void {
    const next: Record<string, unknown> = { ...this.#body };
    if (value === undefined) delete next[name];
    else next[name] = value;
    this.#body = Object.freeze(next);
    this.#raw = undefined;
  }
}
