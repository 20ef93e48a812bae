#!/usr/bin/env node
/**
 * sipp-gateway command line (README.md, docs/operations.md#running-it):
 *   sipp-gateway check --config FILE   validate only (no secrets, models, network)
 *   sipp-gateway serve --config FILE   run until SIGINT/SIGTERM, then drain and exit 0
 *   sipp-gateway db migrate --config FILE   apply the usage database's migrations
 *   sipp-gateway keys create|list|revoke|rotate --config FILE …   managed keys (docs/keys.md#cli)
 */
// First, for its side effect: the young generation and TurboFan are held while the CLI starts.
import { listening, startupDone } from './util/startup-heap.js';
import { parseArgs } from 'node:util';
import type { RunningGateway } from './gateway.js';
import { CliUsageError, ConfigError, StartupError } from './errors.js';
import { onParentGone, startedByNpm } from './util/parent-watch.js';
import { VERSION } from './version.js';

const USAGE = `usage: sipp-gateway <check|serve|db migrate|keys> --config FILE

  check --config FILE        validate the TOML configuration and exit
  serve --config FILE        start the gateway (secrets from the environment)
  db migrate --config FILE   apply the usage database's schema migrations ([database])
  keys …                     create, list, revoke and rotate managed API keys (sipp-gateway keys --help)

environment:
  LOG_LEVEL / RUST_LOG                      log level (RUST_LOG directive form accepted)
  SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS       drain period on SIGTERM/SIGINT (default 30)
  SIPP_GATEWAY_LOG_BUFFER_BYTES             log output held while stdout is blocked (default 8 MiB)
  SIPP_GATEWAY_ADMIN_ASSETS_DIR             admin dashboard asset directory override
  SIPP_GATEWAY_PUBLIC_BIND                  replaces the file's public_bind (host:port)
  SIPP_GATEWAY_MANAGEMENT_BIND              replaces the file's management_bind (host:port)
`;

function fail(message: string, code = 1): never {
  process.stderr.write(`sipp-gateway: error: ${message}\n`);
  process.exit(code);
}

function graceMs(env: NodeJS.ProcessEnv): number {
  const raw = env.SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS;
  if (raw === undefined || raw === '') return 30_000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail('SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS must be a number of seconds >= 0', 2);
  return n * 1000;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'keys') return keys(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`sipp-gateway ${VERSION}\n`);
    return;
  }
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  if (command !== 'check' && command !== 'serve' && command !== 'db') fail(`unknown command "${command}"\n${USAGE}`, 2);
  if (command === 'db' && positionals[1] !== 'migrate')
    fail(`unknown db command "${positionals[1] ?? ''}" (use: db migrate)\n${USAGE}`, 2);
  const extra = positionals[command === 'db' ? 2 : 1];
  if (extra !== undefined) fail(`unexpected argument "${extra}"`, 2);
  if (!values.config) fail(`${command} needs --config FILE`, 2);

  // The configuration's and the gateway's modules are imported only now, after startup-heap.ts took effect.
  const { bindOverridesFromEnv, loadConfigFile } = await import('./config/load.js');
  let config;
  try {
    config = await loadConfigFile(values.config, bindOverridesFromEnv(process.env));
  } catch (err) {
    if (err instanceof ConfigError) fail(`${values.config}: ${err.message}`);
    throw err;
  }
  if (command === 'check') {
    process.stdout.write(`configuration is valid: ${values.config}\n`);
    return;
  }
  if (command === 'db') {
    try {
      const { migrateCommand } = await import('./usage/migrate-command.js');
      process.stdout.write(await migrateCommand(config, process.env));
    } catch (err) {
      fail((err as Error).message);
    }
    return;
  }

  const grace = graceMs(process.env);
  const { startGateway } = await import('./gateway.js');
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({ config, graceMs: grace });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StartupError) fail(err.message);
    throw err;
  }
  // Requests may arrive now, while a local model may still load: the request path is optimized as usual.
  listening();
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`sipp-gateway: ${reason}, draining (up to ${grace / 1000}s)\n`);
    gateway.shutdown().then(
      () => process.exit(0),
      (err) => fail(`shutdown failed: ${(err as Error).message}`),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM received'));
  process.on('SIGINT', () => stop('SIGINT received'));
  if (startedByNpm(process.env)) onParentGone(() => stop('the npm process that started the gateway is gone'));
  try {
    await gateway.loaded;
  } catch (err) {
    await gateway.shutdown().catch(() => {});
    fail((err as Error).message);
  } finally {
    startupDone();
  }
}

/** `sipp-gateway keys …` (docs/keys.md#cli): its own options, see keys/cli.ts. */
async function keys(argv: string[]): Promise<void> {
  // Imported here, not at the top: `serve` never needs it (docs/operations.md#memory).
  const { KEYS_USAGE, keysCommand } = await import('./keys/cli.js');
  const { loadConfigFile } = await import('./config/load.js');
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(KEYS_USAGE);
    if (argv.length === 0) process.exitCode = 2;
    return;
  }
  try {
    process.stdout.write(await keysCommand(argv, (file) => loadConfigFile(file), process.env));
  } catch (err) {
    if (err instanceof CliUsageError) fail(`${err.message}\n${KEYS_USAGE}`, 2);
    if (err instanceof ConfigError) fail(err.message);
    fail((err as Error).message);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(`unexpected failure: ${(err as Error)?.message ?? String(err)}`);
});
