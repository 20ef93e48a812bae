/**
 * `npm run bench`: provider-path overhead and local-model throughput, printed
 * as Markdown and written to bench-results/latest.md. Numbers are ratios from
 * one run (gateway vs direct); never assertions.
 *
 *   BENCH_ONLY=providers|responses|state|local   run one part (state: memory vs redis rate limiting)
 *   BENCH_SECONDS=5              seconds per provider measurement
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchProviders } from './providers.js';

const only = process.env.BENCH_ONLY;
const sections: string[] = [
  `## Benchmark (${new Date().toISOString()})`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.`,
  '',
];
if (!only || only === 'providers') {
  sections.push(await benchProviders({ seconds: Number(process.env.BENCH_SECONDS ?? 5) }));
}
if (!only || only === 'responses') {
  const { benchResponses } = await import('./responses.js');
  sections.push(await benchResponses({ seconds: Number(process.env.BENCH_SECONDS ?? 5) }));
}
if (!only || only === 'state') {
  const { benchStateBackends } = await import('./state.js');
  sections.push(await benchStateBackends({ seconds: Number(process.env.BENCH_SECONDS ?? 5) }));
}
if (!only || only === 'local') {
  const { benchLocal } = await import('./local.js');
  sections.push(await benchLocal());
}
if (only === 'usage')
  sections.push(await (await import('./usage.js')).benchUsage({ rows: Number(process.env.BENCH_USAGE_ROWS ?? 1_000_000) }));
const report = sections.join('\n');
process.stdout.write(`${report}\n`);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/latest.md', report);
