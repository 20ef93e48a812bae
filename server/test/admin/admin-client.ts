/**
 * A test client for the admin API: keeps the session cookie like a browser
 * would (per path, dropped when the server expires it), sends the CSRF header
 * on demand and keeps every response it saw so tests can scan them for secrets.
 */
export interface AdminResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface Seen {
  url: string;
  status: number;
  headers: string;
  text: string;
}

export class AdminClient {
  readonly cookies = new Map<string, string>();
  csrf: string | null = null;
  constructor(
    readonly baseUrl: string,
    readonly seen: Seen[] = [],
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request<T = any>(
    method: string,
    path: string,
    options: {
      json?: unknown;
      body?: string;
      headers?: Record<string, string>;
      csrf?: boolean | string;
      cookie?: string | null;
    } = {},
  ): Promise<AdminResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = options.cookie === undefined ? this.cookieHeader() : options.cookie;
    if (cookie) headers.cookie = cookie;
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const csrf = options.csrf === undefined || options.csrf === true ? this.csrf : options.csrf === false ? null : options.csrf;
    if (csrf && method !== 'GET') headers['x-sipp-admin-csrf'] = csrf;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
      redirect: 'manual',
    });
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(sc)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    this.seen.push({ url: path, status: res.status, headers: JSON.stringify([...res.headers]), text });
    return { status: res.status, headers: res.headers, body: body as T, text };
  }

  async login(password: string): Promise<AdminResponse> {
    const r = await this.request('POST', '/api/session', { json: { password } });
    if (r.status === 200) this.csrf = r.body.csrfToken;
    return r;
  }
}

/** Asserts no secret occurs in any response seen (body or headers) nor in the log lines. */
export function findSecrets(secrets: string[], seen: Seen[], logs: string[] = []): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    for (const r of seen) if (r.text.includes(s) || r.headers.includes(s)) hits.push(`${s.slice(0, 3)}… in ${r.url}`);
    for (const line of logs) if (line.includes(s)) hits.push(`${s.slice(0, 3)}… in a log line`);
  }
  return hits;
}

/**
 * The security headers docs/dashboard.md promises on every admin response
 * (pages, assets, API answers and errors); returns the problems found.
 */
export function missingSecurityHeaders(headers: Headers): string[] {
  const problems: string[] = [];
  const expect = (name: string, ok: (v: string) => boolean) => {
    const v = headers.get(name);
    if (v === null || !ok(v)) problems.push(`${name}: ${v}`);
  };
  expect('content-security-policy', (v) => /default-src 'none'/.test(v) && /frame-ancestors 'none'/.test(v) && !/unsafe/.test(v));
  expect('x-content-type-options', (v) => v === 'nosniff');
  expect('x-frame-options', (v) => v === 'DENY');
  expect('referrer-policy', (v) => v === 'no-referrer');
  expect('cross-origin-opener-policy', (v) => v === 'same-origin');
  expect('cross-origin-resource-policy', (v) => v === 'same-origin');
  expect('permissions-policy', (v) => ['camera=()', 'microphone=()', 'geolocation=()'].every((d) => v.split(/,\s*/).includes(d)));
  return problems;
}
