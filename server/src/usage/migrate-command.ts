/**
 * `sipp-gateway db migrate --config FILE` (docs/usage.md#schema): applies the
 * usage database's migrations and prints the version. Reads the PostgreSQL URL
 * from the variable `[database] url_env` names; never prints it.
 */
import type { GatewayConfig } from '../config/schema.js';
import { openDatabase } from './database.js';
import { databaseTarget } from './index.js';
import { migrate } from './migrations.js';

export async function migrateCommand(config: GatewayConfig, env: NodeJS.ProcessEnv): Promise<string> {
  if (!config.database) throw new Error('the configuration has no [database] table: there is no usage database to migrate');
  const db = await openDatabase(databaseTarget(config.database, env));
  try {
    const r = await migrate(db);
    return r.applied.length > 0
      ? `usage database (${db.backend}) migrated: applied ${r.applied.join(', ')}; schema version ${r.current}\n`
      : `usage database (${db.backend}) is up to date: schema version ${r.current}\n`;
  } finally {
    await db.close();
  }
}
