/**
 * The sections of `npm run bench`, in report order: one line each, a name and
 * the module that runs it (its `run()` returns the section's Markdown).
 * `BENCH_ONLY=overhead,state` runs the named ones; a new section is one more
 * line here.
 */
export interface Section {
  name: string;
  /** Whether `npm run bench` without BENCH_ONLY runs it. */
  byDefault: boolean;
  load: () => Promise<{ run(): Promise<string> }>;
}

const seconds = () => Number(process.env.BENCH_SECONDS ?? 5);

export const SECTIONS: readonly Section[] = [
  { name: 'overhead', byDefault: true, load: () => import('./overhead.js').then((m) => ({ run: m.benchOverhead })) },
  // Stream time to first byte, direct against every pass-through and translated path (docs/architecture.md#streams).
  { name: 'ttfb', byDefault: true, load: () => import('./ttfb.js').then((m) => ({ run: m.benchTtfb })) },
  {
    name: 'responses',
    byDefault: true,
    load: () => import('./responses.js').then((m) => ({ run: () => m.benchResponses({ seconds: seconds() }) })),
  },
  {
    name: 'state',
    byDefault: true,
    load: () => import('./state.js').then((m) => ({ run: () => m.benchStateBackends({ seconds: seconds() }) })),
  },
  { name: 'local', byDefault: true, load: () => import('./local.js').then((m) => ({ run: m.benchLocal })) },
  // Tracing off vs sampling 1.0 and 0.1 (docs/operations.md#traces).
  {
    name: 'tracing',
    byDefault: true,
    load: () => import('./tracing.js').then((m) => ({ run: () => m.benchTracing({ seconds: seconds() }) })),
  },
  // Usage writer and spend queries on PostgreSQL (docs/usage.md#measured); only when selected.
  {
    name: 'usage',
    byDefault: false,
    load: () =>
      import('./usage.js').then((m) => ({
        run: () => m.benchUsage({ rows: Number(process.env.BENCH_USAGE_ROWS ?? 1_000_000) }),
      })),
  },
];
