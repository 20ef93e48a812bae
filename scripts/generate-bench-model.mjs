#!/usr/bin/env node
/**
 * Writes a model of a real model's SIZE for the GPU bench (`npm run bench`,
 * section `local`, docs/benchmark.md): the architecture and tensor shapes of
 * TinyLlama 1.1B (llama, 22 layers, 2048 wide, grouped-query attention 32/4
 * heads, 5632 feed-forward, 32,000-token vocabulary), with Q8_0 weights
 * (what a deployment commonly serves) drawn from a CSPRNG. It does the same
 * arithmetic per token as the real model, so tokens/s are comparable; the
 * text it writes is noise. Use it where no real GGUF file can be fetched
 * (the bench's GPU machine has no network); point BENCH_LOCAL_MODEL at a real
 * file when there is one.
 *
 * The vocabulary is the demo model's (scripts/generate-demo-model.mjs), padded
 * with plain word pieces to 32,000; the output rows of control tokens are zero,
 * so a generation runs to max_tokens like the demo model's.
 *
 * Usage: node scripts/generate-bench-model.mjs <output path> [layers]
 */
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildVocab, ggufHeader, llamaMetadata, llamaTensors, TT } from './generate-demo-model.mjs';

const HP = { embd: 2048, layers: 22, heads: 32, headsKv: 4, ff: 5632, contextLength: 2048, rmsEps: 1e-5, ropeBase: 10000 };
const VOCAB = 32000;
const ALIGNMENT = 32;
const GGML_TYPE_F32 = 0;
const GGML_TYPE_Q8_0 = 8;
const Q8_BLOCK = 32; // weights per block
const Q8_BYTES = 34; // f16 scale + 32 × int8
const SCALE_F16 = 0x0c00; // 2^-12: int8 noise × scale ≈ N(0, 0.018), a trained model's range

const out = resolve(process.argv[2] ?? 'models/bench-1b-q8_0.gguf');
const hp = { ...HP, layers: Number(process.argv[3] ?? HP.layers) };
const { embd, heads, headsKv, ff, layers } = hp;
const kvDim = (embd / heads) * headsKv;

const vocab = buildVocab();
for (let i = 0; vocab.tokens.length < VOCAB; i++) {
  vocab.tokens.push(`\u2581w${i}`);
  vocab.scores.push(-100 - i * 1e-4);
  vocab.types.push(TT.normal);
}
const controlIds = vocab.types.flatMap((t, id) => (t === TT.control || t === TT.unknown ? [id] : []));
const metadata = llamaMetadata({ name: 'sipp-bench-1b-q8_0', fileType: 7 /* MOSTLY_Q8_0 */, hp, vocab });

// Norm weights stay F32 (ones); every matrix is Q8_0.
const tensors = llamaTensors({ embd, kvDim, ff, layers, nVocab: VOCAB }).map(([name, dims, scale]) => {
  const n = dims.reduce((a, b) => a * b, 1);
  const q = scale !== 'ones';
  return [name, dims, q ? GGML_TYPE_Q8_0 : GGML_TYPE_F32, q ? (n / Q8_BLOCK) * Q8_BYTES : n * 4];
});

function tensorData([name, dims, type, length]) {
  if (type === GGML_TYPE_F32) return Buffer.from(new Float32Array(length / 4).fill(1).buffer);
  const buf = randomFillSync(Buffer.allocUnsafe(length));
  for (let at = 0; at < length; at += Q8_BYTES) buf.writeUInt16LE(SCALE_F16, at);
  if (name === 'output.weight') {
    const row = (dims[0] / Q8_BLOCK) * Q8_BYTES;
    for (const id of controlIds) buf.fill(0, id * row, (id + 1) * row); // scale 0: logit 0
  }
  return buf;
}

const { w, offsets } = ggufHeader(metadata, tensors);
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const fd = openSync(tmp, 'w');
let written = 0;
const put = (buf) => {
  writeSync(fd, buf);
  written += buf.length;
};
put(w.toBuffer());
const dataStart = written;
tensors.forEach((t, i) => {
  const target = dataStart + offsets[i];
  if (written < target) put(Buffer.alloc(target - written));
  put(tensorData(t));
});
if (written % ALIGNMENT) put(Buffer.alloc(ALIGNMENT - (written % ALIGNMENT)));
closeSync(fd);
renameSync(tmp, out);
console.log(`wrote ${out} (${(written / 2 ** 30).toFixed(2)} GiB, ${layers} layers, Q8_0)`);
