/**
 * Layers one way (docs/architecture.md#layers): no folder of server/src imports
 * a folder that imports it back, the surface contract lives in surfaces/ (no
 * surface imports public/), and every error class is defined in errors.ts.
 * Reads the TypeScript sources, type-only imports included.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The layer of a source file: its top folder under src/, or the root file itself. */
const layer = (file: string) => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? `${rel.split('/')[0]}/` : rel;
};

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/g)].map((m) =>
    normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts'))),
  );
}

const files = sources(SRC);
const edges = new Map<string, Map<string, string>>();
for (const file of files) {
  for (const target of importsOf(file)) {
    const [a, b] = [layer(file), layer(target)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    edges.get(a)!.set(b, `${relative(SRC, file)} → ${relative(SRC, target)}`);
  }
}

describe('layers', () => {
  it('no folder (or root module) imports one that imports it back, directly or through others', () => {
    // Tarjan's strongly connected components over the layer graph.
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const cycles: string[][] = [];
    let n = 0;
    const visit = (v: string) => {
      index.set(v, n);
      low.set(v, n++);
      stack.push(v);
      for (const w of edges.get(v)?.keys() ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1) cycles.push(scc);
      }
    };
    for (const v of edges.keys()) if (!index.has(v)) visit(v);
    const explain = cycles.map((c) => c.flatMap((a) => c.filter((b) => edges.get(a)?.has(b)).map((b) => edges.get(a)!.get(b)!)));
    assert.deepEqual(explain, []);
  });

  it('surfaces/ does not import public/ (the surface contract is surfaces/surface.ts)', () => {
    assert.equal(edges.get('surfaces/')?.get('public/'), undefined);
  });

  it('every error class is defined in errors.ts', () => {
    const elsewhere = files
      .filter((f) => relative(SRC, f) !== 'errors.ts')
      .flatMap((f) =>
        [...readFileSync(f, 'utf8').matchAll(/class (\w+) extends (?:\w*Error)\b/g)].map((m) => `${relative(SRC, f)}: ${m[1]}`),
      );
    assert.deepEqual(elsewhere, []);
  });
});
