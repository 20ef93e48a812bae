/**
 * Reads a Sipp stream the way the Sipp project's Rust client does
 * (`crates/sipp/src/client/gateway_endpoint.rs`): events split on a blank
 * line, `event:` names the event (default "message"), `data:` lines joined;
 * blocks without data are skipped; every data must be JSON; only `token`
 * (with a string `text`), `usage` (non-negative integer counts or null),
 * `done` and `error` are accepted. Anything else is the client's protocol error.
 */
export interface ClientStreamResult {
  text: string;
  finishReason: 'stop' | 'length' | null;
  usage: { input_tokens: number | null; output_tokens: number | null; total_tokens: number | null } | null;
  /** Every event name, in order. */
  events: string[];
}

export class SippProtocolError extends Error {}

const U32 = (v: unknown): number | null => {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new SippProtocolError(`usage count ${JSON.stringify(v)}`);
  return v;
};

export function readLikeSippClient(body: string): ClientStreamResult {
  const out: ClientStreamResult = { text: '', finishReason: null, usage: null, events: [] };
  for (const raw of body.split(/\n\n|\r\n\r\n/)) {
    let name = 'message';
    const data: string[] = [];
    for (const line of raw.split(/\r?\n/)) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length === 0) continue;
    let value: any;
    try {
      value = JSON.parse(data.join('\n'));
    } catch (err) {
      throw new SippProtocolError(`event ${name}: data is not JSON (${(err as Error).message})`);
    }
    out.events.push(name);
    switch (name) {
      case 'token':
        if (typeof value?.text !== 'string') throw new SippProtocolError('token event missing text');
        out.text += value.text;
        break;
      case 'usage':
        out.usage = {
          input_tokens: U32(value.input_tokens),
          output_tokens: U32(value.output_tokens),
          total_tokens: U32(value.total_tokens),
        };
        break;
      case 'done':
        out.finishReason = value?.finish_reason === 'length' ? 'length' : 'stop';
        break;
      case 'error':
        throw new SippProtocolError(value?.error?.message ?? 'stream error');
      default:
        throw new SippProtocolError(`unsupported SSE event: ${name}`);
    }
  }
  if (out.finishReason === null) throw new SippProtocolError('stream ended before a done event');
  return out;
}
