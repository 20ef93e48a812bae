/**
 * Renames a string member of a JSON text in place, leaving every other byte as
 * it was (docs/api.md#pass-through): a pass-through body goes to the provider,
 * and a provider's frame back to the client, with only `model` changed, their
 * key order, whitespace, unicode escapes and unknown fields untouched, without
 * a parse and re-serialization of the whole document.
 *
 * The scan walks only the path asked for (`model`, `response.model`,
 * `message.model`): other values are skipped (strings by `indexOf` of the next
 * quote), so a `"model"` inside a nested object or inside a string is never
 * touched. Every member at the path is renamed (duplicate keys included). When
 * the text is not what the scan expects, or the member is not a string, it
 * answers null and the caller falls back to parse and serialize.
 *
 * Works on strings; a body's UTF-8 bytes are scanned as latin1 text (one
 * character per byte, structural characters are ASCII), so offsets are byte
 * offsets (spliceBytes).
 */

const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COLON = 58;
const COMMA = 44;

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

/** The index after the closing quote of the string opening at `i`; -1 when unterminated. */
function stringEnd(s: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = s.indexOf('"', from);
    if (q < 0) return -1;
    let b = q - 1;
    while (s.charCodeAt(b) === BACKSLASH) b--;
    // An even count of backslashes before the quote: it closes the string.
    if ((q - 1 - b) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** The index after the value starting at `i`; -1 when malformed. */
function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return stringEnd(s, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    let j = i;
    while (j < s.length) {
      const d = s.charCodeAt(j);
      if (d === QUOTE) {
        j = stringEnd(s, j);
        if (j < 0) return -1;
        continue;
      }
      if (d === LBRACE || d === LBRACKET) depth++;
      else if (d === RBRACE || d === RBRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  // A number, true, false or null.
  let j = i;
  while (j < s.length) {
    const d = s.charCodeAt(j);
    if (d === COMMA || d === RBRACE || d === RBRACKET || d === 32 || d === 10 || d === 13 || d === 9) break;
    j++;
  }
  return j > i ? j : -1;
}

/**
 * Collects [start, end) of every string value at `path` below the object
 * opening at `i`; the index after the object, or -1 when malformed.
 */
function collect(s: string, i: number, path: readonly string[], level: number, out: number[]): number {
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === RBRACE) return i + 1;
  for (;;) {
    if (s.charCodeAt(i) !== QUOTE) return -1;
    const keyEnd = stringEnd(s, i);
    if (keyEnd < 0) return -1;
    let key = s.slice(i + 1, keyEnd - 1);
    if (key.includes('\\')) {
      try {
        key = JSON.parse(s.slice(i, keyEnd)) as string;
      } catch {
        return -1;
      }
    }
    i = skipWs(s, keyEnd);
    if (s.charCodeAt(i) !== COLON) return -1;
    i = skipWs(s, i + 1);
    let end: number;
    if (key !== path[level]) end = valueEnd(s, i);
    else if (level === path.length - 1) {
      if (s.charCodeAt(i) !== QUOTE) return -1;
      end = stringEnd(s, i);
      if (end >= 0) out.push(i, end);
    } else end = s.charCodeAt(i) === LBRACE ? collect(s, i, path, level + 1, out) : valueEnd(s, i);
    if (end < 0) return -1;
    i = skipWs(s, end);
    const c = s.charCodeAt(i);
    if (c === COMMA) {
      i = skipWs(s, i + 1);
      continue;
    }
    return c === RBRACE ? i + 1 : -1;
  }
}

/** Offsets [start, end, start, end…] of the string values at `path`; null when not found or the text is not a plain JSON object. */
export function stringSpans(text: string, path: readonly string[]): number[] | null {
  const i = skipWs(text, 0);
  if (text.charCodeAt(i) !== LBRACE) return null;
  const out: number[] = [];
  const end = collect(text, i, path, 0, out);
  if (end < 0 || skipWs(text, end) !== text.length || out.length === 0) return null;
  return out;
}

/** `text` with the string values at `path` set to `value`; null when the scan cannot say (see the module comment). */
export function spliceString(text: string, path: readonly string[], value: string): string | null {
  const spans = stringSpans(text, path);
  if (!spans) return null;
  const quoted = JSON.stringify(value);
  let out = '';
  let at = 0;
  for (let k = 0; k < spans.length; k += 2) {
    out += text.slice(at, spans[k]) + quoted;
    at = spans[k + 1]!;
  }
  return out + text.slice(at);
}

/** A JSON body's bytes with its top-level `key` set to `value`; null when the scan cannot say. */
export function spliceBytes(bytes: Buffer, key: string, value: string): Buffer | null {
  const spans = stringSpans(bytes.toString('latin1'), [key]);
  if (!spans) return null;
  const quoted = Buffer.from(JSON.stringify(value), 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (let k = 0; k < spans.length; k += 2) {
    parts.push(bytes.subarray(at, spans[k]), quoted);
    at = spans[k + 1]!;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}
