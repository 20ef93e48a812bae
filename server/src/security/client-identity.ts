/**
 * Who is the client? The TCP peer, or a forwarded header — but a forwarded
 * header is honoured only when the peer is a trusted proxy; from anyone else it
 * is ignored, so clients cannot spoof their identity (and dodge blocklists or
 * rate limits) by sending X-Forwarded-For themselves.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIPv4, type BlockList } from 'node:net';
import { cidrBlockList } from '../config/cidr.js';
import { normalizeIp } from './blocklist.js';

export type ClientIpSource = 'peer' | 'x_forwarded_for' | 'x_real_ip';

export type ClientIdentifier = (peer: string | undefined, headers: IncomingHttpHeaders) => string;

function isTrusted(list: BlockList, ip: string): boolean {
  return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

export function createClientIdentifier(source: ClientIpSource, trustedProxyCidrs: readonly string[]): ClientIdentifier {
  // A connection's peer address is the same string on every request it carries: normalized once (bounded cache).
  const seen = new Map<string, string>();
  const peerOf = (peer: string | undefined): string => {
    if (!peer) return 'unknown';
    let ip = seen.get(peer);
    if (ip === undefined) {
      if (seen.size >= 4096) seen.clear();
      ip = normalizeIp(peer) || 'unknown';
      seen.set(peer, ip);
    }
    return ip;
  };
  if (source === 'peer' || trustedProxyCidrs.length === 0) return (peer) => peerOf(peer);
  const trusted = cidrBlockList(trustedProxyCidrs);

  if (source === 'x_real_ip') {
    return (peer, headers) => {
      const p = peerOf(peer);
      if (p === 'unknown' || !isTrusted(trusted, p)) return p;
      const value = headers['x-real-ip'];
      const ip = typeof value === 'string' ? normalizeIp(value) : null;
      return ip ?? p;
    };
  }

  return (peer, headers) => {
    const p = peerOf(peer);
    if (p === 'unknown' || !isTrusted(trusted, p)) return p;
    const raw = headers['x-forwarded-for'];
    if (!raw) return p;
    const hops = (Array.isArray(raw) ? raw.join(',') : raw).split(',');
    // Walk from the nearest hop outwards; the first address that is not one of
    // our proxies is the client. Garbage stops the walk (trust nothing beyond it).
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = normalizeIp(hops[i]!);
      if (ip === null) return p;
      if (!isTrusted(trusted, ip)) return ip;
      if (i === 0) return ip;
    }
    return p;
  };
}
