#!/usr/bin/env node
// `npm run test:one -- server/test/providers/openai.test.ts [more files…]`: runs test files from their
// TypeScript source through tsx, with no build (README.md#developer-loop). @sipp/shared resolves to its source
// too (the `source` export condition), and CLI tests start the CLI from source (server/test/support/paths.ts).
// Extra node --test options may come first, e.g. `npm run test:one -- --test-name-pattern=retries server/test/…`.
// CI (`npm test`) keeps testing the compiled output in server/dist.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const serverDir = resolve(root, 'server');
// npm runs scripts from the repository root; INIT_CWD is where `npm run` was typed.
const cwd = process.env.INIT_CWD ?? process.cwd();
const options = [];
const files = [];
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('-')) {
    options.push(arg);
    continue;
  }
  const candidates = [isAbsolute(arg) ? arg : resolve(cwd, arg), resolve(root, arg), resolve(serverDir, arg)];
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    console.error(`test:one: no such file: ${arg}`);
    process.exit(2);
  }
  if (!/\.tsx?$/.test(file)) {
    console.error(`test:one: ${arg} is not a TypeScript test file (give the source, e.g. server/test/providers/openai.test.ts)`);
    process.exit(2);
  }
  files.push(relative(serverDir, file));
}
if (files.length === 0) {
  console.error('usage: npm run test:one -- server/test/<dir>/<name>.test.ts [more files…]');
  process.exit(2);
}
const args = [
  '--import',
  import.meta.resolve('tsx'),
  '--conditions=source',
  '--test',
  '--test-timeout=600000',
  ...options,
  ...files,
];
const r = spawnSync(process.execPath, args, { cwd: serverDir, stdio: 'inherit' });
process.exit(r.status ?? 1);
