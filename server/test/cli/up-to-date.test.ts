/**
 * `npm run build` skips the dashboard build when admin-web/dist is newer than its sources
 * (scripts/up-to-date.mjs), so `npm start` does not spend its time rebuilding an unchanged dashboard.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'scripts/up-to-date.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sipp-up-to-date-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `path` (under the temp dir) with its modification time `secondsAgo` seconds in the past. */
function file(path: string, secondsAgo: number): string {
  const full = join(dir, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, path);
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(full, t, t);
  return full;
}
const upToDate = (output: string, ...inputs: string[]) =>
  spawnSync(process.execPath, [SCRIPT, output, ...inputs], { encoding: 'utf8' }).status;

describe('scripts/up-to-date.mjs', () => {
  it('says up to date (0) only when the output is newer than every input file, nested ones included', () => {
    const src = join(dir, 'a/src');
    file('a/src/deep/view.tsx', 100);
    file('a/src/main.tsx', 100);
    const config = file('a/vite.config.ts', 100);
    const out = file('a/dist/index.html', 50);
    // Directories get their own time too (a removed file changes it): set them in the past.
    for (const d of ['a/src', 'a/src/deep']) utimesSync(join(dir, d), Date.now() / 1000 - 100, Date.now() / 1000 - 100);
    assert.equal(upToDate(out, src, config, join(dir, 'a/not-there')), 0);
    file('a/src/deep/view.tsx', 10); // edited after the build
    assert.equal(upToDate(out, src, config), 1);
    assert.equal(upToDate(join(dir, 'a/dist/missing.html'), config), 1, 'no output yet');
  });

  it('guards the dashboard build in admin-web/package.json', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'admin-web/package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.match(
      pkg.scripts.build!,
      /^node \.\.\/scripts\/up-to-date\.mjs dist\/index\.html .*\bsrc\b.*\.\.\/shared\/dist.* \|\| npm run build:always$/,
    );
    assert.match(pkg.scripts['build:always']!, /vite build/);
  });
});
