/**
 * The promises a Compose file makes for the gateway service (docs/docker.md),
 * checked on the parsed YAML without a Docker engine: management port on
 * loopback only, config mounted read-only, secrets only through env_file,
 * a readiness healthcheck with what the image has, a read-only root with a
 * /tmp tmpfs, no-new-privileges and a graceful stop period.
 */

export interface PortMapping {
  hostIp: string | undefined;
  published: string | undefined;
  target: number;
}

/** Both Compose port syntaxes: "[ip:][published:]target[/proto]" and the long form. */
export function parsePort(entry: unknown): PortMapping {
  if (typeof entry === 'number') return { hostIp: undefined, published: undefined, target: entry };
  if (typeof entry === 'string') {
    const spec = entry.replace(/\/(tcp|udp|sctp)$/, '');
    const v6 = /^\[([^\]]+)\]:(.+)$/.exec(spec);
    const parts = v6 ? [v6[1]!, ...v6[2]!.split(':')] : spec.split(':');
    const target = Number(parts.at(-1));
    if (parts.length === 1) return { hostIp: undefined, published: undefined, target };
    if (parts.length === 2) return { hostIp: undefined, published: parts[0], target };
    return { hostIp: parts.slice(0, -2).join(':'), published: parts.at(-2), target };
  }
  if (entry && typeof entry === 'object') {
    const o = entry as { host_ip?: string; published?: string | number; target?: string | number };
    return {
      hostIp: o.host_ip,
      published: o.published === undefined ? undefined : String(o.published),
      target: Number(o.target),
    };
  }
  throw new Error(`unreadable port entry ${JSON.stringify(entry)}`);
}

export interface Mount {
  source: string | undefined;
  target: string;
  readOnly: boolean;
  type: string;
}

/** Both volume syntaxes: "src:dst[:ro]" and the long form. */
export function parseMount(entry: unknown): Mount {
  if (typeof entry === 'string') {
    const parts = entry.split(':');
    if (parts.length === 1) return { source: undefined, target: parts[0]!, readOnly: false, type: 'volume' };
    const mode = parts.length > 2 ? parts.slice(2).join(':') : '';
    const source = parts[0]!;
    return {
      source,
      target: parts[1]!,
      readOnly: mode.split(',').includes('ro'),
      type: source.startsWith('.') || source.startsWith('/') ? 'bind' : 'volume',
    };
  }
  if (entry && typeof entry === 'object') {
    const o = entry as { type?: string; source?: string; target?: string; read_only?: boolean };
    return { source: o.source, target: String(o.target), readOnly: o.read_only === true, type: o.type ?? 'volume' };
  }
  throw new Error(`unreadable volume entry ${JSON.stringify(entry)}`);
}

/** Compose durations ("45s", "1m30s", "2m", "500ms") in seconds. */
export function parseDuration(value: unknown): number | null {
  if (typeof value !== 'string' || !/^(\d+(ms|h|m|s|us))+$/.test(value)) return null;
  let total = 0;
  for (const m of value.matchAll(/(\d+)(ms|us|h|m|s)/g)) {
    const n = Number(m[1]);
    total += { h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001 }[m[2] as 'h']! * n;
  }
  return total;
}

export interface ComposeExpectations {
  service: string;
  /** Where the gateway TOML must be mounted. */
  configTarget: string;
  publicPort: number;
  managementPort: number;
  readinessRoute: string;
  /** Secret env var names of the mounted config: they may reach the container only via env_file. */
  secretNames: string[];
  /** The gateway's own drain period; the stop period must be at least this. */
  minStopSeconds: number;
  /** Whether a /models mount is allowed (hosts with local targets) or must be absent. */
  models: 'optional' | 'absent';
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

type Doc = Record<string, any>;

/** Problems with one Compose document; empty when it keeps every promise. */
export function composeProblems(doc: Doc, text: string, expect: ComposeExpectations): string[] {
  const problems: string[] = [];
  const svc: Doc | undefined = doc?.services?.[expect.service];
  if (!svc) return [`no service "${expect.service}"`];

  if (svc.network_mode === 'host') problems.push('network_mode: host would expose the management listener on every interface');
  if (svc.privileged === true) problems.push('privileged: true');
  if (Array.isArray(svc.cap_add) && svc.cap_add.length) problems.push(`cap_add: ${svc.cap_add.join(', ')}`);
  if (svc.user !== undefined && /^(root|0)(:|$)/.test(String(svc.user)))
    problems.push(`user: ${svc.user} runs the gateway as root`);

  // Ports: public published, management only on loopback.
  const ports = ((svc.ports ?? []) as unknown[]).map(parsePort);
  if (!ports.some((p) => p.target === expect.publicPort && p.published !== undefined))
    problems.push(`public port ${expect.publicPort} is not published`);
  const mgmt = ports.filter((p) => p.target === expect.managementPort);
  if (mgmt.length === 0)
    problems.push(
      `management port ${expect.managementPort} is not published on loopback (healthcheck aside, operators need it through an SSH tunnel)`,
    );
  for (const p of mgmt) {
    if (!p.hostIp || !LOOPBACK.has(p.hostIp))
      problems.push(`management port ${expect.managementPort} is published on ${p.hostIp ?? 'every interface'}, not loopback`);
  }

  // Mounts: the TOML read-only at the config path; every bind mount read-only.
  const mounts = ((svc.volumes ?? []) as unknown[]).map(parseMount);
  const config = mounts.find((m) => m.target === expect.configTarget);
  if (!config) problems.push(`nothing is mounted at ${expect.configTarget}`);
  else if (!config.readOnly) problems.push(`${expect.configTarget} is mounted read-write`);
  for (const m of mounts) if (!m.readOnly) problems.push(`mount ${m.source ?? '(anonymous)'}:${m.target} is writable`);
  const models = mounts.find((m) => m.target === '/models');
  if (expect.models === 'absent' && models) problems.push('the provider-only stack mounts /models');

  // Secrets: only through env_file (a private .env), never inline.
  const envFiles = ([] as unknown[])
    .concat(svc.env_file ?? [])
    .map((e) => (typeof e === 'string' ? e : (e as { path?: string })?.path));
  if (!envFiles.some((f) => f === '.env' || f === './.env')) problems.push('env_file does not read the private .env');
  const environment: string[] = Array.isArray(svc.environment)
    ? (svc.environment as string[]).map((e) => e.split('=')[0]!)
    : Object.keys(svc.environment ?? {});
  for (const name of environment) {
    if (expect.secretNames.includes(name) || /(TOKEN|SECRET|PASSWORD|API_?KEY)/i.test(name))
      problems.push(`environment sets ${name}; secrets come only from env_file`);
  }
  for (const name of expect.secretNames) {
    if (text.includes(name)) problems.push(`the compose file names secret variable ${name}`);
  }
  if (doc.secrets || svc.secrets)
    problems.push('compose secrets are not how the gateway reads secrets (it reads the environment)');

  // Healthcheck: readiness, with node (the image has no curl).
  const test = svc.healthcheck?.test;
  if (!Array.isArray(test)) problems.push('healthcheck.test must be an exec-form list');
  else {
    const joined = test.join(' ');
    if (test[0] !== 'CMD' || test[1] !== 'node')
      problems.push(`healthcheck runs ${JSON.stringify(test.slice(0, 2))}, expected ["CMD", "node", ...]`);
    if (!joined.includes(`http://127.0.0.1:${expect.managementPort}${expect.readinessRoute}`)) {
      problems.push(`healthcheck does not probe readiness at http://127.0.0.1:${expect.managementPort}${expect.readinessRoute}`);
    }
    if (/\b(curl|wget)\b/.test(joined)) problems.push('healthcheck uses curl/wget, which the image does not ship');
  }
  if (svc.healthcheck?.disable === true) problems.push('healthcheck is disabled');

  // Hardening and graceful stop.
  if (svc.read_only !== true) problems.push('read_only is not true');
  const tmpfs = ([] as unknown[]).concat(svc.tmpfs ?? []).map(String);
  if (!tmpfs.some((t) => t === '/tmp' || t.startsWith('/tmp:'))) problems.push('no tmpfs for /tmp');
  const secOpts = ((svc.security_opt ?? []) as unknown[]).map(String);
  if (!secOpts.some((o) => o === 'no-new-privileges:true' || o === 'no-new-privileges'))
    problems.push('security_opt lacks no-new-privileges');
  const stop = parseDuration(svc.stop_grace_period);
  if (stop === null) problems.push('no stop_grace_period');
  else if (stop < expect.minStopSeconds)
    problems.push(`stop_grace_period ${svc.stop_grace_period} is shorter than the gateway's ${expect.minStopSeconds}s drain`);
  if (svc.stop_signal !== undefined && svc.stop_signal !== 'SIGTERM')
    problems.push(`stop_signal ${svc.stop_signal}; the gateway drains on SIGTERM`);
  return problems;
}
