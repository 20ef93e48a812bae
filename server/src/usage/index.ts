/**
 * Usage history (docs/usage.md): every finished public request becomes a row,
 * written by the background writer, never on the request path. The gateway
 * starts it when `[database]` is configured; `sipp-gateway db migrate` uses
 * the same opening and migrations.
 */
import { join } from 'node:path';
import type { RequestRecord } from '@sipp/shared';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from '../telemetry/prom.js';
import type { DatabaseConfig } from '../config/database.js';
import type { RequestObserver } from '../telemetry/observer.js';
import { openDatabase, type DatabaseTarget, type UsageDatabase } from './database.js';
import { migrate } from './migrations.js';
import { insertBatch, newRowId, type UsageRow } from './rows.js';
import { UsageSpool } from './spool.js';
import { UsageWriter } from './writer.js';

/** Where the configured database is; reads the Postgres URL from the environment (never logged). */
export function databaseTarget(cfg: DatabaseConfig, env: NodeJS.ProcessEnv): DatabaseTarget {
  if (cfg.backend === 'embedded') return { backend: 'embedded', dataDir: join(cfg.data_dir, 'usage-db') };
  const url = env[cfg.url_env!];
  if (!url) throw new Error(`environment variable ${cfg.url_env} is not set (the PostgreSQL URL for [database])`);
  return { backend: 'postgres', url };
}

/** The row a finished request becomes. */
export function usageRow(r: RequestRecord): UsageRow {
  return {
    rowId: newRowId(),
    time: r.time,
    requestId: r.requestId,
    keyId: r.keyId ?? null,
    caller: r.caller,
    api: r.api,
    operation: r.operation,
    model: r.model,
    target: r.target,
    status: r.status,
    code: r.code,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens ?? 0,
    cacheWriteTokens: r.cacheWriteTokens ?? 0,
    costUsd: r.costUsd ?? 0,
    latencyMs: r.durationMs,
    ttftMs: r.ttftMs,
    stream: r.stream,
  };
}

export interface UsageService extends RequestObserver {
  writer: UsageWriter;
  /** The open database (resolves once it opened and migrated; rejects while it cannot). */
  database(): Promise<UsageDatabase>;
  close(): Promise<void>;
}

const RETENTION_EVERY_MS = 3_600_000;

export function startUsage(cfg: DatabaseConfig, deps: { env: NodeJS.ProcessEnv; log: Logger; registry: Registry }): UsageService {
  const target = databaseTarget(cfg, deps.env);
  const written = new Counter({
    name: 'sipp_gateway_usage_rows_written_total',
    help: 'Usage rows written to the usage database.',
    registers: [deps.registry],
  });
  const dropped = new Counter({
    name: 'sipp_gateway_usage_rows_dropped_total',
    help: 'Usage rows lost because the database was unreachable and the on-disk spool was full.',
    registers: [deps.registry],
  });
  let ready: Promise<UsageDatabase> | null = null;
  let opened: UsageDatabase | null = null;
  // Opens and migrates on first use, and again after a failure: a database
  // that is down at start is picked up once it answers.
  const database = (): Promise<UsageDatabase> => {
    ready ??= (async () => {
      opened ??= await openDatabase(target);
      const m = await migrate(opened);
      if (m.applied.length > 0) deps.log.info({ applied: m.applied, version: m.current }, 'usage database migrated');
      return opened;
    })().catch((err: unknown) => {
      ready = null;
      throw err;
    });
    return ready;
  };
  const spool = new UsageSpool(join(cfg.data_dir, 'usage-spool'), cfg.spool_max_mb * 1024 * 1024);
  const writer = new UsageWriter({
    write: async (rows) => {
      const db = await database();
      return db.transaction((tx) => insertBatch(tx, rows));
    },
    spool,
    log: deps.log,
    flushIntervalMs: cfg.flush_interval_ms,
    batchRows: cfg.batch_rows,
    onWritten: (n) => written.inc(n),
    onDropped: (n) => dropped.inc(n),
  });
  new Gauge({
    name: 'sipp_gateway_usage_rows_queued',
    help: 'Usage rows waiting in memory for the next batch.',
    registers: [deps.registry],
    collect() {
      this.set(writer.queued);
    },
  });
  // Start opening now (in the background: requests never wait for it).
  database().catch((err: unknown) =>
    deps.log.warn({ err: { message: (err as Error).message } }, 'usage database not reachable yet; rows are spooled'),
  );
  const retention = setInterval(() => void applyRetention(), RETENTION_EVERY_MS);
  retention.unref();
  async function applyRetention(): Promise<void> {
    try {
      const db = await database();
      await db.query(`DELETE FROM usage_rows WHERE time < now() - make_interval(days => $1)`, [cfg.raw_retention_days]);
      await db.query(`DELETE FROM usage_rollups WHERE bucket < now() - make_interval(days => $1)`, [cfg.rollup_retention_days]);
    } catch (err) {
      deps.log.warn({ err: { message: (err as Error).message } }, 'usage retention skipped');
    }
  }
  return {
    writer,
    database,
    onRequest(r) {
      writer.add(usageRow(r));
    },
    async close() {
      clearInterval(retention);
      await writer.close();
      await opened?.close().catch(() => {});
    },
  };
}
