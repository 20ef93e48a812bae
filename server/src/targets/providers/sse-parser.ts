/**
 * Incremental parser for `text/event-stream` bodies (the WHATWG server-sent
 * events format) as providers send them: `event:` and `data:` fields, comment
 * lines starting with `:`, events separated by a blank line, LF / CRLF / CR line
 * endings, chunks that split lines or multi-byte characters anywhere.
 *
 * `id:` and `retry:` are reconnection hints for browsers; a gateway never
 * reconnects a generation, so they are ignored.
 *
 * Bounded work and memory (docs/configuration.md#provider-timeouts-and-errors):
 * line ends are looked for in the raw bytes (CR and LF never occur inside a
 * UTF-8 multi-byte sequence), and only in bytes not scanned before, so a line
 * that arrives in many chunks costs time linear in its length; one event
 * (its lines, the unterminated one included) may hold at most `maxEventBytes`,
 * beyond which push() throws SseEventTooLarge and keeps nothing.
 */
import { SseEventTooLarge } from '../../errors.js';
export interface SseEvent {
  /** The `event:` field, or "message" when the event had none. */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
}

export interface SseParserOptions {
  /** Most bytes one event may span (its `data:` and `event:` lines, without line endings); default 1 MiB. */
  maxEventBytes?: number;
}

export const DEFAULT_MAX_EVENT_BYTES = 1_048_576;

/** Defined with every error class in errors.ts; re-exported for existing importers. */
export { SseEventTooLarge };

const LF = 10;
const CR = 13;
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Complete lines only are decoded (line ends are found in the bytes), each in
 * one call without `stream`, so no decoder state spans calls: one decoder
 * serves every parser (making one per stream cost more than its first event).
 */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class SseParser {
  private readonly maxEventBytes: number;
  /** Bytes of the current, unterminated line, in arrival order (never re-scanned). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes of the current event's completed `data:` / `event:` lines (what it keeps). */
  private eventBytes = 0;
  private eventName = '';
  private data: string[] = [];
  /** A chunk ended with "\r": a "\n" opening the next chunk belongs to that line ending. */
  private skipLeadingLf = false;
  /** The stream's first bytes, until it is known whether they open with a BOM. */
  private atStart = true;
  /** Bytes examined for line ends so far: each body byte once (tests check the parser stays linear). */
  scannedBytes = 0;

  constructor(options: SseParserOptions = {}) {
    this.maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  }

  /** Feeds one body chunk; returns the events it completed (often none or one). Throws SseEventTooLarge. */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    let bytes = chunk;
    if (this.atStart) {
      // One leading byte-order mark is not part of the stream (a BOM split across chunks is rare enough to ignore).
      if (bytes.length === 0) return events;
      this.atStart = false;
      if (bytes.length >= 3 && bytes[0] === UTF8_BOM[0] && bytes[1] === UTF8_BOM[1] && bytes[2] === UTF8_BOM[2])
        bytes = bytes.subarray(3);
    }
    let start = 0;
    if (this.skipLeadingLf && bytes.length > 0) {
      if (bytes[0] === LF) start = 1;
      this.skipLeadingLf = false;
    }
    // Next LF / CR at or after `start` (-1: none left in this chunk); each is searched for once per occurrence.
    let lf = bytes.indexOf(LF, start);
    let cr = bytes.indexOf(CR, start);
    while (lf !== -1 || cr !== -1) {
      const end = cr === -1 || (lf !== -1 && lf < cr) ? lf : cr;
      this.completeLine(bytes.subarray(start, end), events);
      start = end + 1;
      if (end === cr) {
        if (start < bytes.length) {
          if (bytes[start] === LF) start++;
        } else this.skipLeadingLf = true;
      }
      if (lf !== -1 && lf < start) lf = bytes.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = bytes.indexOf(CR, start);
    }
    this.scannedBytes += bytes.length;
    if (start < bytes.length) {
      const rest = bytes.subarray(start);
      this.pendingBytes += rest.length;
      if (this.eventBytes + this.pendingBytes > this.maxEventBytes) this.overflow();
      // Keep a copy: the caller may reuse the chunk's memory.
      this.pending.push(new Uint8Array(rest));
    }
    return events;
  }

  /**
   * Ends the body. Per the format, an event that was not terminated by a blank
   * line is incomplete and dropped.
   */
  end(): SseEvent[] {
    this.reset();
    return [];
  }

  private completeLine(tail: Uint8Array, events: SseEvent[]): void {
    const length = this.pendingBytes + tail.length;
    if (this.eventBytes + length > this.maxEventBytes) this.overflow();
    let raw = tail;
    if (this.pending.length > 0) {
      raw = new Uint8Array(length);
      let at = 0;
      for (const p of this.pending) {
        raw.set(p, at);
        at += p.length;
      }
      raw.set(tail, at);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.line(length === 0 ? '' : decoder.decode(raw), length, events);
  }

  private overflow(): never {
    this.reset();
    throw new SseEventTooLarge(this.maxEventBytes);
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.eventBytes = 0;
    this.eventName = '';
    this.data = [];
  }

  private line(line: string, bytes: number, events: SseEvent[]): void {
    if (line.length === 0) {
      if (this.data.length > 0) {
        events.push({ event: this.eventName || 'message', data: this.data.length === 1 ? this.data[0]! : this.data.join('\n') });
      }
      this.data = [];
      this.eventName = '';
      this.eventBytes = 0;
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
    else return;
    this.eventBytes += bytes;
  }
}
