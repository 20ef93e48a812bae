/**
 * Runtime controls. Each one changes the very objects the public pipeline
 * consults on every request, so a change applies to the next public request
 * here; then the [state] store keeps it (file or Redis) and, with Redis,
 * every other replica applies it within a second.
 */
import { ConcurrencyUpdateSchema, RateLimitUpdateSchema } from '@sipp/shared';
import type { z } from 'zod';
import { normalizeIp } from '../security/blocklist.js';
import type { AdminDeps } from './deps.js';
import { AdminError } from './http/admin-error.js';

function invalid(error: z.ZodError): AdminError {
  const issue = error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : 'body';
  const message = issue?.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue?.message ?? 'invalid';
  return new AdminError('invalid_request', `${field}: ${message}`);
}

export async function setRateLimit(deps: AdminDeps, body: unknown): Promise<void> {
  const parsed = RateLimitUpdateSchema.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  deps.rateLimiter.configure(parsed.data);
  deps.log.info({ control: 'rate_limit', ...parsed.data }, 'admin changed the rate limit');
  await deps.state.changed({ kind: 'rate_limit', settings: deps.rateLimiter.settings() });
}

export async function setConcurrency(deps: AdminDeps, body: unknown): Promise<void> {
  const parsed = ConcurrencyUpdateSchema.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  deps.admission.setLimit(parsed.data.limit);
  deps.log.info({ control: 'concurrency', limit: parsed.data.limit }, 'admin changed the concurrency limit');
  await deps.state.changed({ kind: 'concurrency', limit: parsed.data.limit });
}

function ipParam(raw: string): string {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw new AdminError('invalid_request', 'ip: not a valid IP address');
  }
  const ip = text.length <= 64 ? normalizeIp(text) : null;
  if (ip === null) throw new AdminError('invalid_request', 'ip: not a valid IP address');
  return ip;
}

export async function blockClient(deps: AdminDeps, raw: string): Promise<string> {
  const ip = deps.blocklist.add(ipParam(raw))!;
  deps.log.info({ control: 'blocklist', client: ip }, 'admin blocked a client');
  const entry = deps.blocklist.list().find((e) => e.ip === ip);
  if (entry) await deps.state.changed({ kind: 'block', entry });
  return ip;
}

export async function unblockClient(deps: AdminDeps, raw: string): Promise<string> {
  const ip = deps.blocklist.remove(ipParam(raw));
  if (ip === null) throw new AdminError('not_found', 'ip: not on the blocklist');
  deps.log.info({ control: 'blocklist', client: ip }, 'admin unblocked a client');
  await deps.state.changed({ kind: 'unblock', ip });
  return ip;
}
