/**
 * The admin API's managed-key routes (docs/keys.md#admin-api):
 * `GET/POST keys`, `GET/PATCH/DELETE keys/{id}`, `POST keys/{id}/rotate`.
 * Every change is in the audit log (`key.create`, `key.update`, `key.revoke`,
 * `key.rotate`) with the key's view before and after — never its secret,
 * which only the 201 / rotate answer carries, once.
 */
import type { Context } from 'koa';
import type { ManagedKey } from '@sipp/shared';
import type { BudgetService } from '../budgets/service.js';
import { AdminError } from '../errors.js';
import type { KeyManager } from '../keys/manage.js';
import type { AuditLog } from './audit-log.js';
import type { Actor } from './controls.js';
import { readJson } from './http/read-json.js';

interface KeyRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string | RegExp;
  guard: 'session' | 'csrf';
  status?: number;
  handle(ctx: Context, params: string[]): unknown;
}

/** The audit log keeps the key's settings, not its (changing) spend and reservations. */
function audited(k: ManagedKey | null): Omit<ManagedKey, 'spend' | 'reserved'> | null {
  if (!k) return null;
  const { spend: _spend, reserved: _reserved, ...rest } = k;
  return rest;
}

/** Rotation takes an optional body: none (or an empty one) means the defaults. */
async function optionalJson(ctx: Context): Promise<unknown> {
  const length = Number(ctx.get('content-length') || 0);
  if (!ctx.get('content-type') && length === 0 && !ctx.get('transfer-encoding')) return {};
  return readJson(ctx);
}

const ID = /^\/keys\/([^/]+)$/;

/**
 * A key with what running requests hold against its budget (`reserved`, as the
 * caller budget API reports it: docs/budgets.md#reservations); null without a
 * budget or budget service, or when the ledger cannot be read (the list still answers).
 */
async function withReserved(k: ManagedKey, budgets: BudgetService | undefined): Promise<ManagedKey> {
  if (!budgets || !k.budget) return k;
  try {
    return { ...k, reserved: (await budgets.spend('key', k.id, k.budget.period)).reserved };
  } catch {
    return k;
  }
}

export function keyRoutes(
  keys: KeyManager | null,
  budgets: BudgetService | undefined,
  audit: AuditLog,
  actor: (ctx: Context) => Actor,
): KeyRoute[] {
  const manager = (): KeyManager => {
    if (!keys)
      throw new AdminError(
        'not_found',
        'managed keys need a usage database: add a [database] table to the configuration (docs/keys.md)',
      );
    return keys;
  };
  const id = (raw: string | undefined): string => {
    try {
      return decodeURIComponent(raw ?? '');
    } catch {
      throw new AdminError('not_found', 'id: no such key');
    }
  };
  return [
    {
      method: 'GET',
      path: '/keys',
      guard: 'session',
      handle: async () => ({ keys: await Promise.all((await manager().list()).map((k) => withReserved(k, budgets))) }),
    },
    {
      method: 'POST',
      path: '/keys',
      guard: 'csrf',
      status: 201,
      handle: async (ctx) => {
        const m = manager();
        const created = await m.create(await readJson(ctx));
        audit.record({ action: 'key.create', before: null, after: audited(created.key), ...actor(ctx) });
        return { ...created, key: await withReserved(created.key, budgets) };
      },
    },
    {
      method: 'GET',
      path: ID,
      guard: 'session',
      handle: async (_ctx, [raw]) => ({ key: await withReserved(await manager().get(id(raw)), budgets) }),
    },
    {
      method: 'PATCH',
      path: ID,
      guard: 'csrf',
      handle: async (ctx, [raw]) => {
        const m = manager();
        const change = await m.update(id(raw), await readJson(ctx));
        audit.record({ action: 'key.update', before: audited(change.before), after: audited(change.after), ...actor(ctx) });
        return { key: await withReserved(change.after, budgets) };
      },
    },
    {
      method: 'DELETE',
      path: ID,
      guard: 'csrf',
      handle: async (ctx, [raw]) => {
        const change = await manager().revoke(id(raw));
        if (change.before)
          audit.record({ action: 'key.revoke', before: audited(change.before), after: audited(change.after), ...actor(ctx) });
        return { key: await withReserved(change.after, budgets) };
      },
    },
    {
      method: 'POST',
      path: /^\/keys\/([^/]+)\/rotate$/,
      guard: 'csrf',
      handle: async (ctx, [raw]) => {
        const m = manager();
        const rotated = await m.rotate(id(raw), await optionalJson(ctx));
        audit.record({ action: 'key.rotate', before: audited(rotated.before), after: audited(rotated.key), ...actor(ctx) });
        return { key: await withReserved(rotated.key, budgets), secret: rotated.secret };
      },
    },
  ];
}
