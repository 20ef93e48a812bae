/**
 * The route table (src/routes.ts) is the one source of the routes: the tables
 * in docs/api.md (public routes: path, key, method) and docs/configuration.md
 * (`[routes]`: key, default, listener) must say the same, and the derived
 * config defaults, surface registry and admin view must cover every entry.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.js';
import { PUBLIC_ROUTE_KEYS, ROUTE_KEYS, ROUTES } from '../../src/routes.js';
import { publicRoutes } from '../../src/surfaces/index.js';

const doc = (name: string) => readFileSync(new URL(`../../../../docs/${name}`, import.meta.url), 'utf8');

/** The rows of the first markdown table after `heading` (or at the top when heading is null), as cells. */
function tableAfter(text: string, heading: string | null): string[][] {
  const from = heading === null ? 0 : text.indexOf(heading);
  assert.ok(from >= 0, `no "${heading}" section`);
  const lines = text.slice(from).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

describe('route table and docs', () => {
  it('docs/api.md lists exactly the public routes of the table (path, key, method)', () => {
    const documented = new Map<string, { path: string; method: string }>();
    for (const [routes, method] of tableAfter(doc('api.md'), '# Public API')) {
      for (const m of routes!.matchAll(/`([^`]+)` \(`([a-z_]+)`\)/g)) documented.set(m[2]!, { path: m[1]!, method: method! });
    }
    const table = new Map(PUBLIC_ROUTE_KEYS.map((k) => [k, { path: ROUTES[k].path, method: ROUTES[k].methods.join(', ') }]));
    assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(table));
  });

  it('docs/configuration.md [routes] lists every key with its default and listener', () => {
    const documented = Object.fromEntries(
      tableAfter(doc('configuration.md'), '## `[routes]`').map(([key, path, listener]) => [
        key!.replaceAll('`', ''),
        { path: path!.replaceAll('`', ''), listener: listener!.split(' ')[0] },
      ]),
    );
    const table = Object.fromEntries(ROUTE_KEYS.map((k) => [k, { path: ROUTES[k].path, listener: ROUTES[k].listener }]));
    assert.deepEqual(documented, table);
  });

  it('config defaults and the surface registry derive from the table', () => {
    const defaults = ConfigSchema.shape.routes.parse(undefined);
    assert.deepEqual(defaults, Object.fromEntries(ROUTE_KEYS.map((k) => [k, ROUTES[k].path])));
    const mounted = publicRoutes(defaults)
      .filter((r) => r.method !== 'RESOURCE')
      .map((r) => [r.key, r.path, r.method]);
    assert.deepEqual(
      mounted,
      PUBLIC_ROUTE_KEYS.map((k) => [k, ROUTES[k].path, ROUTES[k].methods[0]]),
    );
  });
});
