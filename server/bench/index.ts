/**
 * `npm run bench`: the sections of sections.ts in order, printed as Markdown
 * and written to bench-results/latest.md, headed by the machine and its load.
 * Numbers are ratios from one run; never assertions.
 *
 *   BENCH_ONLY=overhead,state    run the named sections (see sections.ts)
 *   BENCH_SECONDS                seconds per measurement (overhead.ts lists its own knobs)
 *   BENCH_BASELINE=<git ref>     measure an older checkout beside this build (overhead)
 *   BENCH_GATEWAY_NODE_OPTIONS   node flags for every gateway process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { SECTIONS } from './sections.js';

const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const unknown = only?.filter((n) => !SECTIONS.some((s) => s.name === n)) ?? [];
if (unknown.length) {
  process.stderr.write(`bench: unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
})();
const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
const sections: string[] = [
  `## Benchmark (${new Date().toISOString()})`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; this build: ${commit}. Load average (1 / 5 / 15 min) at the start: ${la()}.`,
  '',
];
for (const s of SECTIONS) {
  if (only ? !only.includes(s.name) : !s.byDefault) continue;
  const { run } = await s.load();
  sections.push(await run());
  sections.push(`Load average after "${s.name}": ${la()}.`, '');
}
const report = sections.join('\n');
process.stdout.write(`${report}\n`);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/latest.md', report);
