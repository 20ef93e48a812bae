#!/usr/bin/env node
// Import-cycle check for server/src, run by `npm run lint` (README.md#developer-loop).
// Two rules, from madge's import graph (type-only imports count: they tie the layers together too):
//   1. no file imports a file that imports it back (directly or through others);
//   2. no folder of server/src imports a folder that imports it back, so the layers point one way.
//      A top-level file (gateway.ts, listen.ts, errors.ts …) counts as a folder of its own.
// Exits 1 and names every cycle found.
import madge from 'madge';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'server/src');
const result = await madge(src, {
  fileExtensions: ['ts'],
  tsConfig: join(root, 'server/tsconfig.json'),
  detectiveOptions: { ts: { skipTypeImports: false }, tsx: { skipTypeImports: false } },
});
const graph = result.obj();
let failed = false;

for (const cycle of result.circular()) {
  failed = true;
  console.error(`import cycle between files: ${[...cycle, cycle[0]].join(' → ')}`);
}

const folderOf = (file) => (file.includes('/') ? `${file.slice(0, file.indexOf('/'))}/` : file);
/** folder → folder → one example import, for the message. */
const edges = new Map();
for (const [file, deps] of Object.entries(graph)) {
  const from = folderOf(file);
  for (const dep of deps) {
    const to = folderOf(dep);
    if (from === to) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${file} → ${dep}`);
  }
}
// Strongly connected components (Tarjan); each one with more than one folder is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
let counter = 0;
const components = [];
function visit(v) {
  index.set(v, counter);
  low.set(v, counter);
  counter += 1;
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) components.push(component.sort());
  }
}
for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
for (const component of components) {
  failed = true;
  const inside = new Set(component);
  const examples = component.flatMap((from) =>
    [...(edges.get(from) ?? [])].filter(([to]) => inside.has(to)).map(([, example]) => `    ${example}`),
  );
  console.error(`server/src folders import each other: ${component.join(', ')}\n${examples.join('\n')}`);
}

if (failed) process.exit(1);
console.log(`import cycles: none (${Object.keys(graph).length} files in server/src)`);
