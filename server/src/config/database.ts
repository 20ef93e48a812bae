/**
 * [database]: where usage history lives (docs/usage.md). `check` validates
 * this table without connecting; the Postgres URL (it may hold a password) is
 * read from the environment variable named by `url_env` at `serve` and
 * `db migrate` time, never from the file.
 */
import { z } from 'zod';
import { envName } from './env-name.js';

export const DatabaseSchema = z
  .strictObject({
    backend: z.enum(['embedded', 'postgres']).default('embedded'),
    /** Embedded database files (and the spool): a directory, relative to the working directory. */
    data_dir: z.string().min(1, 'must not be empty').default('data'),
    url_env: envName.optional(),
    flush_interval_ms: z.number().int().min(10, 'must be >= 10').max(60_000).default(1000),
    batch_rows: z.number().int().min(1).max(50_000).default(5000),
    spool_max_mb: z.number().positive('must be > 0').max(1_000_000).default(256),
    raw_retention_days: z.number().int().min(1).max(36_500).default(30),
    rollup_retention_days: z.number().int().min(1).max(36_500).default(400),
  })
  .superRefine((d, ctx) => {
    if (d.backend === 'postgres' && d.url_env === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['url_env'],
        message: 'is required for backend = "postgres" (the environment variable that holds the PostgreSQL URL)',
      });
    }
    if (d.backend === 'embedded' && d.url_env !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url_env'], message: 'only applies to backend = "postgres"' });
    }
    if (d.rollup_retention_days < d.raw_retention_days) {
      ctx.addIssue({
        code: 'custom',
        path: ['rollup_retention_days'],
        message: 'must be >= raw_retention_days (rollups summarise the raw rows)',
      });
    }
  });

export type DatabaseConfig = z.infer<typeof DatabaseSchema>;
