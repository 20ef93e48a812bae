#!/usr/bin/env node
// The `sipp-gateway` command that npm links at install time (`npx sipp-gateway …`
// in a checkout). It is committed, unlike the compiled CLI in dist/, so npm can
// link it before anything is built; it only loads the built CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write(
    'sipp-gateway: error: the gateway is not built yet (server/dist/src/cli.js is missing); ' +
      'run `npm run build` first, from the repository root\n',
  );
  process.exit(1);
}
await import(cli.href);
