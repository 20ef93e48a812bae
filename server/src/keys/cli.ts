/**
 * `sipp-gateway keys create|list|revoke|rotate --config FILE …` (docs/keys.md#cli):
 * the admin API's key operations on the configured usage database, for
 * scripts and bootstrapping. A new secret is printed once, on stdout.
 *
 * The embedded database (PGlite) can be open in one process only: while a
 * gateway holds it (its lock file names a live pid) these commands stop with
 * an error pointing to the admin API. PostgreSQL has no such limit.
 */
import { parseArgs } from 'node:util';
import type { ManagedKey } from '@sipp/shared';
import type { GatewayConfig } from '../config/schema.js';
import { CliUsageError, DatabaseInUseError } from '../errors.js';
import { openDatabase, type UsageDatabase } from '../usage/database.js';
import { databaseTarget } from '../usage/index.js';
import { migrate } from '../usage/migrations.js';
import { createKeyManager } from './manage.js';

export const KEYS_USAGE = `usage: sipp-gateway keys <create|list|revoke|rotate> --config FILE …

  keys create --config FILE --name N --caller C [--targets a,b] [--rpm N] [--tpm N]
              [--budget-usd X] [--budget-tokens N] [--period day|week|month|total]
              [--expires-at ISO] [--json]
  keys list --config FILE [--json]
  keys revoke --config FILE ID
  keys rotate --config FILE ID [--grace-seconds N] [--json]
`;

export const KEYS_OPTIONS = {
  config: { type: 'string', short: 'c' },
  name: { type: 'string' },
  caller: { type: 'string' },
  targets: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  'budget-usd': { type: 'string' },
  'budget-tokens': { type: 'string' },
  period: { type: 'string' },
  'expires-at': { type: 'string' },
  'grace-seconds': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const number = (v: string | undefined): number | undefined => (v === undefined ? undefined : v.trim() === '' ? NaN : Number(v));

function line(k: ManagedKey): string {
  const limits = [
    k.rpm !== null ? `rpm=${k.rpm}` : '',
    k.tpm !== null ? `tpm=${k.tpm}` : '',
    k.budget
      ? `budget=${[k.budget.usd !== undefined ? `$${k.budget.usd}` : '', k.budget.tokens !== undefined ? `${k.budget.tokens} tokens` : ''].filter(Boolean).join('+')}/${k.budget.period}`
      : '',
    k.targets.length ? `targets=${k.targets.join(',')}` : '',
    k.expires_at ? `expires=${k.expires_at}` : '',
  ].filter(Boolean);
  return [k.id, k.status, k.prefix, k.caller, JSON.stringify(k.name), ...limits].join('\t');
}

/** Runs one `keys` subcommand; returns what to print on stdout. */
export async function keysCommand(
  argv: readonly string[],
  load: (file: string) => Promise<GatewayConfig>,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: KEYS_OPTIONS });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [sub, id, extra] = positionals;
  if (!sub || !['create', 'list', 'revoke', 'rotate'].includes(sub))
    throw new CliUsageError(`unknown keys command "${sub ?? ''}"`);
  const needsId = sub === 'revoke' || sub === 'rotate';
  if (needsId && !id) throw new CliUsageError(`keys ${sub} needs the key's id`);
  const unexpected = needsId ? extra : id;
  if (unexpected !== undefined) throw new CliUsageError(`unexpected argument "${unexpected}"`);
  if (!v.config) throw new CliUsageError(`keys ${sub} needs --config FILE`);
  if (sub === 'create' && (v.name === undefined || v.caller === undefined))
    throw new CliUsageError(`keys create needs ${v.name === undefined ? '--name N' : '--caller C'}`);

  const config = await load(v.config);
  if (!config.database)
    throw new Error('the configuration has no [database] table: managed keys live in the usage database (docs/keys.md)');
  // Opened on first use, so a bad flag is reported without touching the database.
  let db: UsageDatabase | null = null;
  const open = async (): Promise<UsageDatabase> => {
    if (db) return db;
    try {
      db = await openDatabase(databaseTarget(config.database!, env));
    } catch (err) {
      if (err instanceof DatabaseInUseError)
        throw new Error(
          `${err.message}. While a gateway holds the embedded database, manage keys through its admin API ` +
            `(${config.routes.admin.replace(/\/$/, '')}/api/keys, or the dashboard's Keys view) or stop the gateway first; ` +
            'a backend = "postgres" database allows both at once (docs/keys.md#cli)',
          { cause: err },
        );
      throw err;
    }
    await migrate(db);
    return db;
  };
  try {
    const manager = createKeyManager({
      database: open,
      names: new Set([...config.targets.map((t) => t.name), ...config.groups.map((g) => g.name)]),
      unavailable: (err) => err,
    });
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    switch (sub) {
      case 'create': {
        const usd = number(v['budget-usd']);
        const tokens = number(v['budget-tokens']);
        if (v.period !== undefined && usd === undefined && tokens === undefined)
          throw new CliUsageError('--period needs --budget-usd and/or --budget-tokens');
        const body = {
          name: v.name,
          caller: v.caller,
          ...(v.targets !== undefined
            ? {
                targets: v.targets
                  .split(',')
                  .map((t) => t.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(v.rpm !== undefined ? { rpm: number(v.rpm) } : {}),
          ...(v.tpm !== undefined ? { tpm: number(v.tpm) } : {}),
          ...(usd !== undefined || tokens !== undefined
            ? {
                budget: {
                  ...(usd !== undefined ? { usd } : {}),
                  ...(tokens !== undefined ? { tokens } : {}),
                  period: v.period ?? 'month',
                },
              }
            : {}),
          ...(v['expires-at'] !== undefined ? { expires_at: v['expires-at'] } : {}),
        };
        const created = await manager.create(body);
        if (v.json) return json(created);
        return `created ${line(created.key)}\nsecret (shown once; store it now):\n${created.secret}\n`;
      }
      case 'list': {
        const keys = await manager.list();
        if (v.json) return json({ keys });
        return keys.length ? `${keys.map(line).join('\n')}\n` : 'no keys\n';
      }
      case 'revoke': {
        const change = await manager.revoke(id!);
        return change.before ? `revoked ${line(change.after)}\n` : `already revoked ${line(change.after)}\n`;
      }
      default: {
        const grace = number(v['grace-seconds']);
        const rotated = await manager.rotate(id!, grace === undefined ? {} : { grace_seconds: grace });
        if (v.json) return json({ key: rotated.key, secret: rotated.secret });
        const until = rotated.key.previous_valid_until
          ? `the old secret works until ${rotated.key.previous_valid_until}`
          : 'the old secret no longer works';
        return `rotated ${line(rotated.key)} (${until})\nnew secret (shown once; store it now):\n${rotated.secret}\n`;
      }
    }
  } finally {
    await (db as UsageDatabase | null)?.close();
  }
}
