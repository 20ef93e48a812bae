#!/usr/bin/env node
// `node scripts/up-to-date.mjs <output> <input>...`: exits 0 when <output> exists and is newer than every
// input (a file, or every file under a directory), 1 otherwise. `npm run build` uses it to skip the dashboard
// build (type check, bundle, brotli) when nothing changed, so `npm start` does not rebuild it every time.
// (admin-web/package.json runs it with stderr discarded, so where scripts/ is absent, as in the container build,
// the failed check just means: build.)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [output, ...inputs] = process.argv.slice(2);
if (!output || inputs.length === 0) {
  console.error('usage: node scripts/up-to-date.mjs <output> <input>...');
  process.exit(2);
}

function newest(path) {
  let info;
  try {
    info = statSync(path);
  } catch {
    return 0; // an input that does not exist (yet) changes nothing
  }
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs; // a removed file changes the directory's own time
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

let built;
try {
  built = statSync(output).mtimeMs;
} catch {
  process.exit(1);
}
const changed = inputs.find((input) => newest(input) >= built);
if (changed) process.exit(1);
console.log(`${output} is newer than its sources; skipping the build`);
