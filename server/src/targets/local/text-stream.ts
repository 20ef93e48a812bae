/**
 * Turning generated tokens into client text, piece by piece:
 * - `IncrementalDetokenizer` holds back tokens whose text ends in a partial
 *   UTF-8 sequence (byte tokens of a multi-byte character), so every emitted
 *   piece is valid UTF-8 on its own;
 * - `StopMatcher` stops at the first stop string, never emits it, and holds
 *   back a tail that could still become a stop string.
 */

/** Longest run of pending tokens before they are flushed anyway (a UTF-8 character spans at most 4 bytes). */
const MAX_PENDING = 4;
const REPLACEMENT = '\uFFFD';

export interface Detokenize {
  (tokens: readonly number[], lastTokens: readonly number[]): string;
}

export class IncrementalDetokenizer {
  private pending: number[] = [];
  private context: number[];

  /** `context`: the tokens before the first generated one (prompt tail), for correct leading spaces. */
  constructor(
    private readonly detokenize: Detokenize,
    context: readonly number[],
  ) {
    this.context = context.slice(-8);
  }

  /** Adds one token; returns the text that became complete (possibly "") and how many tokens it covers. */
  push(token: number): { text: string; tokens: number } {
    this.pending.push(token);
    const text = this.detokenize(this.pending, this.context);
    if (text.endsWith(REPLACEMENT) && this.pending.length < MAX_PENDING) return { text: '', tokens: 0 };
    return this.take(text);
  }

  /** Whatever is still held back (end of generation). */
  flush(): { text: string; tokens: number } {
    if (this.pending.length === 0) return { text: '', tokens: 0 };
    return this.take(this.detokenize(this.pending, this.context));
  }

  private take(text: string): { text: string; tokens: number } {
    const tokens = this.pending.length;
    this.context = [...this.context, ...this.pending].slice(-8);
    this.pending = [];
    return { text, tokens };
  }
}

export class StopMatcher {
  private held = '';
  private readonly maxStop: number;

  constructor(private readonly stops: readonly string[]) {
    this.maxStop = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /**
   * Feeds newly generated text. Returns the text that is safe to emit now and
   * whether a stop string was reached (then nothing from the stop string on is
   * emitted, generation must end, and `matched` is the stop string found).
   */
  push(text: string): { emit: string; stopped: boolean; matched?: string } {
    if (this.stops.length === 0) return { emit: text, stopped: false };
    const buf = this.held + text;
    let cut = -1;
    let matched = '';
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) {
        cut = i;
        matched = s;
      }
    }
    if (cut >= 0) {
      this.held = '';
      return { emit: buf.slice(0, cut), stopped: true, matched };
    }
    const keep = this.partialSuffixLength(buf);
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** End of generation without a stop: the held tail is ordinary text. */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  private partialSuffixLength(buf: string): number {
    for (let len = Math.min(this.maxStop - 1, buf.length); len > 0; len--) {
      const tail = buf.slice(buf.length - len);
      if (this.stops.some((s) => s.startsWith(tail))) return len;
    }
    return 0;
  }
}
