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
import { ByteWriter, buildVocab, CHATML_TEMPLATE, TT, writeValue } from './generate-demo-model.mjs';

const HP = { embd: 2048, layers: 22, heads: 32, headsKv: 4, ff: 5632, vocab: 32000, context: 2048 };
const ALIGNMENT = 32;
const GGML_TYPE_F32 = 0;
const GGML_TYPE_Q8_0 = 8;
const Q8_BLOCK = 32; // weights per block
const Q8_BYTES = 34; // f16 scale + 32 × int8
const SCALE_F16 = 0x0c00; // 2^-12: int8 noise × scale ≈ N(0, 0.018), a trained model's range

const out = resolve(process.argv[2] ?? 'models/bench-1b-q8_0.gguf');
const layers = Number(process.argv[3] ?? HP.layers);
const { embd, heads, headsKv, ff } = HP;
const headDim = embd / heads;
const kvDim = headDim * headsKv;

const vocab = buildVocab();
for (let i = 0; vocab.tokens.length < HP.vocab; i++) {
  vocab.tokens.push(`\u2581w${i}`);
  vocab.scores.push(-100 - i * 1e-4);
  vocab.types.push(TT.normal);
}
const controlIds = vocab.types.flatMap((t, id) => (t === TT.control || t === TT.unknown ? [id] : []));

const metadata = [
  ['general.architecture', 'str', 'llama'],
  ['general.name', 'str', 'sipp-bench-1b-q8_0'],
  ['general.file_type', 'u32', 7], // MOSTLY_Q8_0
  ['general.alignment', 'u32', ALIGNMENT],
  ['llama.vocab_size', 'u32', HP.vocab],
  ['llama.context_length', 'u32', HP.context],
  ['llama.embedding_length', 'u32', embd],
  ['llama.block_count', 'u32', layers],
  ['llama.feed_forward_length', 'u32', ff],
  ['llama.attention.head_count', 'u32', heads],
  ['llama.attention.head_count_kv', 'u32', headsKv],
  ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5],
  ['llama.rope.dimension_count', 'u32', headDim],
  ['llama.rope.freq_base', 'f32', 10000],
  ['tokenizer.ggml.model', 'str', 'llama'],
  ['tokenizer.ggml.tokens', 'str[]', vocab.tokens],
  ['tokenizer.ggml.scores', 'f32[]', vocab.scores],
  ['tokenizer.ggml.token_type', 'i32[]', vocab.types],
  ['tokenizer.ggml.unknown_token_id', 'u32', 0],
  ['tokenizer.ggml.bos_token_id', 'u32', 1],
  ['tokenizer.ggml.eos_token_id', 'u32', 2],
  ['tokenizer.ggml.add_bos_token', 'bool', true],
  ['tokenizer.ggml.add_eos_token', 'bool', false],
  ['tokenizer.chat_template', 'str', CHATML_TEMPLATE],
];

// [name, ggml dims (ne[0] = row length), quantized]
const tensors = [
  ['token_embd.weight', [embd, HP.vocab], true],
  ['output_norm.weight', [embd], false],
  ['output.weight', [embd, HP.vocab], true],
];
for (let l = 0; l < layers; l++) {
  const p = `blk.${l}.`;
  tensors.push(
    [p + 'attn_norm.weight', [embd], false],
    [p + 'attn_q.weight', [embd, embd], true],
    [p + 'attn_k.weight', [embd, kvDim], true],
    [p + 'attn_v.weight', [embd, kvDim], true],
    [p + 'attn_output.weight', [embd, embd], true],
    [p + 'ffn_norm.weight', [embd], false],
    [p + 'ffn_gate.weight', [embd, ff], true],
    [p + 'ffn_up.weight', [embd, ff], true],
    [p + 'ffn_down.weight', [ff, embd], true],
  );
}
const count = (dims) => dims.reduce((a, b) => a * b, 1);
const bytesOf = ([, dims, q]) => (q ? (count(dims) / Q8_BLOCK) * Q8_BYTES : count(dims) * 4);

function tensorData([name, dims, q]) {
  if (!q) return Buffer.from(new Float32Array(count(dims)).fill(1).buffer); // norm weights
  const blocks = count(dims) / Q8_BLOCK;
  const buf = randomFillSync(Buffer.allocUnsafe(blocks * Q8_BYTES));
  for (let b = 0; b < blocks; b++) buf.writeUInt16LE(SCALE_F16, b * Q8_BYTES);
  if (name === 'output.weight') {
    const perRow = embd / Q8_BLOCK;
    for (const id of controlIds) buf.fill(0, id * perRow * Q8_BYTES, (id + 1) * perRow * Q8_BYTES); // scale 0: logit 0
  }
  return buf;
}

const w = new ByteWriter();
w.push(Buffer.from('GGUF', 'ascii'));
w.u32(3);
w.u64(tensors.length);
w.u64(metadata.length);
for (const [key, kind, value] of metadata) {
  w.str(key);
  writeValue(w, kind, value);
}
let offset = 0;
const offsets = tensors.map((t) => {
  const at = offset;
  offset = Math.ceil((offset + bytesOf(t)) / ALIGNMENT) * ALIGNMENT;
  return at;
});
tensors.forEach(([name, dims, q], i) => {
  w.str(name);
  w.u32(dims.length);
  for (const d of dims) w.u64(d);
  w.u32(q ? GGML_TYPE_Q8_0 : GGML_TYPE_F32);
  w.u64(offsets[i]);
});
w.pad(ALIGNMENT);

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
