/**
 * Incremental parser for `text/event-stream` bodies (the WHATWG server-sent
 * events format) as providers send them: `event:` and `data:` fields, comment
 * lines starting with `:`, events separated by a blank line, LF / CRLF / CR line
 * endings, chunks that split lines or multi-byte characters anywhere.
 *
 * `id:` and `retry:` are reconnection hints for browsers; a gateway never
 * reconnects a generation, so they are ignored.
 */
export interface SseEvent {
  /** The `event:` field, or "message" when the event had none. */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private eventName = '';
  private data: string[] = [];
  /** A chunk ended with "\r": a "\n" opening the next chunk belongs to that line ending. */
  private skipLeadingLf = false;

  /** Feeds one body chunk; returns the events it completed (often none or one). */
  push(chunk: Uint8Array): SseEvent[] {
    return this.consume(this.decoder.decode(chunk, { stream: true }));
  }

  /**
   * Ends the body. Per the format, an event that was not terminated by a blank
   * line is incomplete and dropped; returns what the decoder still held.
   */
  end(): SseEvent[] {
    const events = this.consume(this.decoder.decode());
    this.buffer = '';
    this.eventName = '';
    this.data = [];
    return events;
  }

  private consume(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let buf = this.buffer + text;
    let start = 0;
    if (this.skipLeadingLf && buf.length > 0) {
      if (buf.charCodeAt(0) === 10) start = 1;
      this.skipLeadingLf = false;
    }
    for (;;) {
      const lf = buf.indexOf('\n', start);
      const cr = buf.indexOf('\r', start);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 < buf.length) next = buf.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        else {
          next = cr + 1;
          this.skipLeadingLf = true;
        }
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else break;
      this.line(buf.slice(start, end), events);
      start = next;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    buf = '';
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      if (this.data.length > 0) {
        events.push({ event: this.eventName || 'message', data: this.data.length === 1 ? this.data[0]! : this.data.join('\n') });
      }
      this.data = [];
      this.eventName = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
  }
}
