/**
 * The promises deploy/nginx/sipp-gateway.conf makes for the public listener:
 * SSE passes through unbuffered with a long read timeout, the request id and
 * client address are forwarded, only the public routes are proxied and the
 * management listener never is.
 */

/** Drops comments; keeps line structure. */
export function stripComments(conf: string): string {
  return conf
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, ''))
    .join('\n');
}

export interface LocationBlock {
  /** What follows `location` up to `{`, e.g. "/v1/" or "~ ^/v1/(query|chat|embed)$". */
  header: string;
  body: string;
}

/** Every `location` block (nested ones included), in file order. */
export function locationBlocks(conf: string): LocationBlock[] {
  const text = stripComments(conf);
  const out: LocationBlock[] = [];
  const re = /location\s+([^{]+)\{/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    out.push({ header: m[1]!.trim(), body: text.slice(re.lastIndex, i - 1) });
  }
  return out;
}

/** The first `location` block whose header matches. */
export function locationBlock(conf: string, header: RegExp): LocationBlock | null {
  return locationBlocks(conf).find((b) => header.test(b.header)) ?? null;
}

/** nginx time values ("600s", "10m", "600") in seconds. */
export function nginxSeconds(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return n * ({ ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's'] ?? Number.NaN);
}

/** Whether a location header (`/v1/` prefix, `= /x`, `^~ /x`, `~ regex`, `~* regex`) matches a path. */
export function locationMatches(header: string, path: string): boolean {
  const m = /^(=|\^~|~\*|~)?\s*(\S+)$/.exec(header.trim());
  if (!m) return false;
  const [, modifier = '', arg = ''] = m;
  if (modifier === '=') return path === arg;
  if (modifier === '~') return new RegExp(arg).test(path);
  if (modifier === '~*') return new RegExp(arg, 'i').test(path);
  return path.startsWith(arg);
}

/** The location that proxies the public API: the first that proxies, other than the catch-all `/`. */
export function apiLocation(conf: string): LocationBlock | null {
  return locationBlocks(conf).find((b) => /\bproxy_pass\b/.test(b.body) && b.header !== '/') ?? null;
}

export interface NginxExpectations {
  /** Public routes the proxy must serve (config [routes]). */
  publicRoutes: string[];
  /** Management routes it must not serve. */
  managementRoutes: string[];
  managementPort: number;
  /** Minimum proxy_read_timeout for long generations/streams. */
  minReadTimeoutSeconds: number;
}

export function nginxProblems(conf: string, expect: NginxExpectations): string[] {
  const problems: string[] = [];
  const text = stripComments(conf);
  // The API location: the first that proxies (the catch-all comes after it).
  const location = apiLocation(conf);
  if (!location) return ['no location block proxies the public API routes'];
  const { header, body: api } = location;
  for (const route of expect.publicRoutes) {
    if (!locationMatches(header, route)) problems.push(`the API location (${header}) does not match ${route}`);
  }
  for (const route of expect.managementRoutes) {
    if (route !== '/' && locationMatches(header, route)) problems.push(`the API location also matches management route ${route}`);
  }

  const directive = (name: string): string[] =>
    [...api.matchAll(new RegExp(`^\\s*${name}\\s+([^;]+);`, 'gm'))].map((m) => m[1]!.trim());
  if (!directive('proxy_buffering').includes('off')) problems.push('proxy_buffering is not off (SSE frames would be held back)');
  if (!directive('proxy_cache').includes('off')) problems.push('proxy_cache is not off');
  if (!directive('proxy_http_version').includes('1.1'))
    problems.push('proxy_http_version is not 1.1 (no keep-alive, chunked streaming to the gateway)');
  const read = directive('proxy_read_timeout').map(nginxSeconds);
  if (read.length === 0 || read.some((s) => !(s >= expect.minReadTimeoutSeconds))) {
    problems.push(`proxy_read_timeout must be >= ${expect.minReadTimeoutSeconds}s (nginx's default 60s cuts long streams)`);
  }
  if (directive('gzip').includes('on')) problems.push('gzip on would buffer event streams');
  const headers = directive('proxy_set_header').map((h) => h.split(/\s+/));
  const header_ = (name: string) => headers.find((h) => h[0]!.toLowerCase() === name.toLowerCase());
  if (!header_('X-Request-Id')) problems.push('X-Request-Id is not forwarded');
  if (header_('X-Real-IP')?.[1] !== '$remote_addr')
    problems.push('X-Real-IP is not set to $remote_addr (clients could spoof it)');
  if (!header_('X-Forwarded-For')) problems.push('X-Forwarded-For is not set');

  if (new RegExp(`:${expect.managementPort}\\b`).test(text))
    problems.push(`the proxy points at the management port ${expect.managementPort}`);
  for (const route of expect.managementRoutes) {
    if (route === '/') continue;
    const block = locationBlock(conf, new RegExp(`^=?\\s*${route.replace(/[/.]/g, '\\$&')}$`));
    if (block && /proxy_pass/.test(block.body)) problems.push(`management route ${route} is proxied`);
  }
  const fallback = locationBlock(conf, /^\/$/);
  if (fallback === null || !/return\s+404/.test(fallback.body))
    problems.push('other paths are not answered 404 (location / { return 404; })');
  if (!/\bssl_certificate\s/.test(text)) problems.push('no TLS (ssl_certificate)');
  return problems;
}
