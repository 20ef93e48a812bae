/**
 * In-memory client IP blocklist (runtime control, reset on restart).
 * Addresses are normalized so "::ffff:10.0.0.1", "10.0.0.1" and "0:0::1" forms match.
 */
import { isIP } from 'node:net';

/** Canonical text form of an IP address, or null when it is not one. */
export function normalizeIp(value: string): string | null {
  let text = value.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  const version = isIP(text);
  if (version === 4) return text.split('.').map((o) => String(Number(o))).join('.');
  if (version !== 6) return null;
  const mapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  // Let WHATWG URL do RFC 5952 canonical compression.
  const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const v4tail = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (v4tail) {
    const hi = parseInt(v4tail[1]!, 16);
    const lo = parseInt(v4tail[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return canonical;
}

export class Blocklist {
  private readonly entries = new Map<string, number>();

  /** Adds an address; returns its normalized form, or null when it is not an IP. */
  add(ip: string, now = Date.now()): string | null {
    const n = normalizeIp(ip);
    if (n === null) return null;
    if (!this.entries.has(n)) this.entries.set(n, now);
    return n;
  }

  /** Removes an address; returns the normalized form when it was listed. */
  remove(ip: string): string | null {
    const n = normalizeIp(ip);
    if (n === null || !this.entries.delete(n)) return null;
    return n;
  }

  /** `client` must already be normalized (the client-identity step does it). */
  has(client: string): boolean {
    return this.entries.size > 0 && this.entries.has(client);
  }

  list(): Array<{ ip: string; addedAt: number }> {
    return [...this.entries].map(([ip, addedAt]) => ({ ip, addedAt }));
  }

  get size(): number {
    return this.entries.size;
  }
}
