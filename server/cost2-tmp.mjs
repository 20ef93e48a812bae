import v8 from 'node:v8'; import { createRequire } from 'node:module';
const req = createRequire(import.meta.url);
gc(); gc(); const h0 = v8.getHeapStatistics().used_heap_size;
let prev = h0;
for (const m of process.argv.slice(2)) {
  await import(m);
  gc(); gc(); const h = v8.getHeapStatistics().used_heap_size;
  console.log(m.padEnd(50), '+' + ((h - prev) / 1048576).toFixed(2), 'cum', ((h - h0) / 1048576).toFixed(2)); prev = h;
}
