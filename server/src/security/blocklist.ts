/**
 * Client blocklist (runtime control, in memory, reset on restart). Entries are
 * single IPv4/IPv6 addresses or CIDR ranges, each with an optional expiry and
 * note. Matching uses Node's `net.BlockList`, rebuilt whenever the set changes
 * (rare, admin-driven); the hot path (`has`) is one emptiness check, one
 * expiry comparison and one `BlockList.check`.
 *
 * The entry set can be replaced from outside (`replaceAll`, `apply`), so a
 * shared state store can keep several replicas in step without touching the
 * matcher: it only ever sees `BlocklistEntry` values.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';

/** Canonical text form of an IP address, or null when it is not one. */
export function normalizeIp(value: string): string | null {
  let text = value.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  const version = isIP(text);
  if (version === 4)
    return text
      .split('.')
      .map((o) => String(Number(o)))
      .join('.');
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

/** Longest accepted entry text ("ffff:…:ffff/128" is 43 characters). */
export const MAX_ENTRY_LENGTH = 64;

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function ipv6ToBigInt(ip: string): bigint {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function bigIntToIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return normalizeIp(groups.join(':'))!;
}

/**
 * Canonical form of a blocklist entry: a normalized address ("10.0.0.7",
 * "2001:db8::1") or a CIDR reduced to its network ("10.0.0.5/24" →
 * "10.0.0.0/24"); a full-length prefix becomes the bare address. Null when
 * the text is neither.
 */
export function normalizeEntry(value: string): string | null {
  const text = value.trim();
  if (text.length === 0 || text.length > MAX_ENTRY_LENGTH) return null;
  const slash = text.indexOf('/');
  if (slash === -1) return normalizeIp(text);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const rawAddress = text.slice(0, slash);
  // An IPv4-mapped IPv6 range is kept as IPv6: its prefix counts 128 bits.
  const address = isIP(rawAddress) === 6 ? rawAddress.toLowerCase().replace(/^\[|\]$/g, '') : normalizeIp(rawAddress);
  if (address === null || isIP(address) === 0) return null;
  const prefix = Number(prefixText);
  if (isIPv4(address)) {
    if (prefix > 32) return null;
    if (prefix === 32) return address;
    const size = 2 ** (32 - prefix);
    return `${intToIpv4(Math.floor(ipv4ToInt(address) / size) * size)}/${prefix}`;
  }
  if (prefix > 128) return null;
  const full = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const n = ipv6ToBigInt(full);
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  const network = bigIntToIpv6(n & mask);
  if (prefix === 128) return network;
  // An IPv4-mapped range (::ffff:a.b.c.d/96 and longer) is the IPv4 range it covers, written as one:
  // ::ffff:10.1.2.3/104 is 10.0.0.0/8, ::ffff:127.0.0.1/96 is 0.0.0.0/0 (every IPv4 client).
  if (isIPv4(network)) return `${network}/${prefix - 96}`;
  return `${network}/${prefix}`;
}

/** One blocklist entry as stored, listed and shared. */
export interface BlocklistEntry {
  /** Canonical address or CIDR (see normalizeEntry). */
  entry: string;
  /** Epoch ms. */
  addedAt: number;
  /** Epoch ms after which the entry no longer matches; null = never. */
  expiresAt: number | null;
  note: string | null;
}

/** A change to the entry set, as `apply` takes it (and a store would broadcast it). */
export type BlocklistChange = { op: 'add'; entry: BlocklistEntry } | { op: 'remove'; entry: string };

export interface AddOptions {
  expiresInSeconds?: number;
  note?: string;
  now?: number;
}

export class Blocklist {
  private readonly entries = new Map<string, BlocklistEntry>();
  private matcher = new BlockList();
  /** IPv6 entries only (IPv6 clients). */
  private matcherV6 = new BlockList();
  /** Earliest expiry among the entries (Infinity when none expires). */
  private nextExpiry = Infinity;

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * Adds (or replaces) an entry; returns the stored entry, or null when the
   * text is not an address or CIDR. Re-adding an entry updates its expiry and note.
   */
  add(entry: string, options: AddOptions = {}): BlocklistEntry | null {
    const canonical = normalizeEntry(entry);
    if (canonical === null) return null;
    const now = options.now ?? this.clock();
    const stored: BlocklistEntry = {
      entry: canonical,
      addedAt: now,
      expiresAt: options.expiresInSeconds === undefined ? null : now + options.expiresInSeconds * 1000,
      note: options.note ?? null,
    };
    this.apply({ op: 'add', entry: stored });
    return { ...stored };
  }

  /** Removes an entry (any spelling of it); returns the removed entry, or null when it was not listed. */
  remove(entry: string): BlocklistEntry | null {
    const canonical = normalizeEntry(entry);
    const existing = canonical === null ? undefined : this.entries.get(canonical);
    if (!existing) return null;
    this.apply({ op: 'remove', entry: existing.entry });
    return { ...existing };
  }

  /** The stored entry for this text (any spelling), or null. */
  get(entry: string): BlocklistEntry | null {
    const canonical = normalizeEntry(entry);
    const e = canonical === null ? undefined : this.entries.get(canonical);
    return e ? { ...e } : null;
  }

  /** Applies one change made elsewhere (entries must already be canonical). */
  apply(change: BlocklistChange): void {
    if (change.op === 'add') this.entries.set(change.entry.entry, { ...change.entry });
    else this.entries.delete(change.entry);
    this.rebuild();
  }

  /** Replaces the whole set (e.g. a snapshot from a shared store). */
  replaceAll(entries: readonly BlocklistEntry[]): void {
    this.entries.clear();
    for (const e of entries) this.entries.set(e.entry, { ...e });
    this.rebuild();
  }

  /**
   * Whether a client is blocked. `client` must already be normalized (the
   * client-identity step does it). Synchronous and cheap: the hot path.
   */
  has(client: string): boolean {
    if (this.entries.size === 0) return false;
    if (this.nextExpiry !== Infinity && this.nextExpiry <= this.clock()) this.prune();
    // IPv4 clients meet IPv4 entries only (net.BlockList would also match them against IPv6 ranges
    // through their mapped form, so ::/0 blocked every IPv4 client): docs/dashboard.md.
    const v4 = isIPv4(client);
    try {
      return v4 ? this.matcher.check(client, 'ipv4') : this.matcherV6.check(client, 'ipv6');
    } catch {
      return false;
    }
  }

  /** Live entries, newest first. */
  list(): BlocklistEntry[] {
    this.prune();
    return [...this.entries.values()].map((e) => ({ ...e })).sort((a, b) => b.addedAt - a.addedAt);
  }

  get size(): number {
    this.prune();
    return this.entries.size;
  }

  /** Drops expired entries. */
  private prune(): void {
    if (this.nextExpiry === Infinity || this.nextExpiry > this.clock()) return;
    const now = this.clock();
    for (const [k, e] of this.entries) if (e.expiresAt !== null && e.expiresAt <= now) this.entries.delete(k);
    this.rebuild();
  }

  private rebuild(): void {
    const list = new BlockList();
    const listV6 = new BlockList();
    let next = Infinity;
    for (const e of this.entries.values()) {
      const slash = e.entry.indexOf('/');
      const address = slash === -1 ? e.entry : e.entry.slice(0, slash);
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      const into = family === 'ipv4' ? list : listV6;
      if (slash === -1) into.addAddress(address, family);
      else into.addSubnet(address, Number(e.entry.slice(slash + 1)), family);
      if (e.expiresAt !== null && e.expiresAt < next) next = e.expiresAt;
    }
    this.matcher = list;
    this.matcherV6 = listV6;
    this.nextExpiry = next;
  }
}
