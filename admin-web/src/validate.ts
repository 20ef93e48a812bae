/**
 * Hand-written form checks mirroring the server's schemas (shared/src/admin.ts)
 * so the SPA does not ship zod; the server stays the authority.
 */
export interface Check {
  value: number | null;
  error: string | null;
}

export function positiveNumber(text: string, max: number): Check {
  const t = text.trim();
  if (t === '' || !/^\d*\.?\d+$/.test(t)) return { value: null, error: 'enter a number' };
  const n = Number(t);
  if (!(n > 0)) return { value: null, error: 'must be > 0' };
  if (n > max) return { value: null, error: `must be <= ${max}` };
  return { value: n, error: null };
}

export function wholeNumber(text: string, max: number): Check {
  const t = text.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) return { value: null, error: 'enter a whole number' };
  const n = Number(t);
  if (!Number.isInteger(n)) return { value: null, error: 'must be a whole number' };
  if (n <= 0) return { value: null, error: 'must be > 0' };
  if (n > max) return { value: null, error: `must be <= ${max}` };
  return { value: n, error: null };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]+$/i;

/** A quick shape check of an address or CIDR; the server normalizes and decides. */
export function looksLikeEntry(text: string): boolean {
  const [address, prefix, ...rest] = text.split('/');
  if (rest.length > 0 || !address) return false;
  const v4 = IPV4.test(address);
  const v6 = !v4 && address.includes(':') && IPV6.test(address);
  if (!v4 && !v6) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (v4 ? 32 : 128);
}
