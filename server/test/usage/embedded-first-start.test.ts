/**
 * The embedded database's first start (docs/usage.md#backends): PGlite creates
 * its files in a thread of its own that ends before the database opens for use,
 * so the ~550 MB its WebAssembly heap grows to while creating them is given
 * back. Measured on the process's resident memory: about 650 MB more without
 * that thread, about 150–250 MB with it; the bound sits between the two.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../../src/usage/database.js';
import { migrate } from '../../src/usage/migrations.js';

const dir = mkdtempSync(join(tmpdir(), 'sipp-first-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a first start creates the files and does not keep the memory it took to create them', async () => {
  const dataDir = join(dir, 'usage-db');
  const before = process.memoryUsage().rss;
  const db = await openDatabase({ backend: 'embedded', dataDir });
  try {
    assert.ok(existsSync(join(dataDir, 'PG_VERSION')), 'the database files were created');
    assert.ok((await migrate(db)).applied.length > 0, 'the new database was migrated');
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(grown < 450, `resident memory grew by ${grown.toFixed(0)} MB on a first start (bound 450 MB)`);
  } finally {
    await db.close();
  }
  // A second open finds the files and skips the creating thread.
  const again = await openDatabase({ backend: 'embedded', dataDir });
  try {
    assert.deepEqual((await migrate(again)).applied, []);
  } finally {
    await again.close();
  }
});
