import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses "a.b.c.d/n" or "v6/n"; a bare address is taken as a host route. */
export function parseCidr(value: string): Cidr | null {
  const [address, prefixText, ...rest] = value.split('/');
  if (rest.length > 0 || !address) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > max) return null;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A BlockList holding every CIDR (IPv4 entries also match their IPv4-mapped IPv6 form). */
export function cidrBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (!c) throw new Error(`invalid CIDR ${text}`);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return list;
}
