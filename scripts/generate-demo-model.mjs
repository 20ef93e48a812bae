#!/usr/bin/env node
/**
 * Writes the project's own tiny demo model: a valid GGUF v3 file with the
 * llama architecture, a llama/SentencePiece-style vocabulary, a ChatML chat
 * template and deterministic pseudo-random F32 weights (seeded PRNG), so tests
 * and the quick start need nothing from outside.
 *
 * The weights are random: the model babbles. It exists to exercise the real
 * llama.cpp code paths (tokenizer, batching, sampling, streaming, embeddings).
 *
 * Usage: node scripts/generate-demo-model.mjs [output path]   (default models/demo.gguf)
 * Same input → byte-identical output.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HP = {
  contextLength: 2048,
  embd: 64,
  layers: 2,
  heads: 4,
  headsKv: 4,
  ff: 176,
  rmsEps: 1e-5,
  ropeBase: 10000,
};
const ALIGNMENT = 32;
const END_MARKER = 16;
const EOS_GAIN = 3;
const SEED = 0x5eed_2025;

// ---------------------------------------------------------------- vocabulary
const WORDS = `the a an and or but if then so of to in on at by for with from as is are was were be been
it its this that these those there here he she they we you i me him her them us my your his our their
who what when where why how not no yes all any some many more most other one two three four five
time day year way man woman child world life hand part place case week work home story gateway model
token request answer question stream query chat embed local server client small big little good new
old first last long great high right left same own next early young important few public private
said says say go went come came see saw know knew think make made take took get got give gave find
found tell told ask asked use used want wanted look looked run ran call called try tried need felt
once upon there lived happy sad friend friends play played together garden tree sun moon star sky
water fire light dark night morning evening cat dog bird fish house door window road river city
hello world test testing data fast slow quick brown fox jumps over lazy end`
  .split(/\s+/)
  .filter(Boolean);
const CHARS = [
  ...'abcdefghijklmnopqrstuvwxyz',
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
  ...'.,;:!?\'"()-',
  'é',
  'ü',
  'ß',
  'ñ',
  '€',
  '→',
  '日',
  '本',
  '語',
];

/** Token types as llama.cpp defines them. */
export const TT = { normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6 };

export function buildVocab() {
  const tokens = [];
  const scores = [];
  const types = [];
  const seen = new Set();
  const add = (piece, score, type) => {
    if (seen.has(piece)) return;
    seen.add(piece);
    tokens.push(piece);
    scores.push(score);
    types.push(type);
  };
  add('<unk>', 0, TT.unknown);
  add('<s>', 0, TT.control);
  add('</s>', 0, TT.control);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, TT.byte);
  add('<|im_start|>', 0, TT.control);
  add('<|im_end|>', 0, TT.control);
  const SP = '\u2581';
  add(SP, -1, TT.normal);
  for (const c of CHARS) add(c, -2, TT.normal);
  add('\n', -2, TT.normal);
  // Every prefix of "▁word" so SentencePiece's greedy pair merges reach whole words.
  let rank = 0;
  for (const w of WORDS) {
    const full = SP + w;
    for (let i = 2; i <= full.length; i++) add(full.slice(0, i), -3 - rank * 0.001 + i, TT.normal);
    for (let i = 2; i <= w.length; i++) add(w.slice(0, i), -4 - rank * 0.001 + i, TT.normal);
    rank++;
  }
  return { tokens, scores, types };
}

// ---------------------------------------------------------------- PRNG (mulberry32 + Box-Muller)
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = Math.max(next(), 1e-12);
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

// ---------------------------------------------------------------- GGUF writer
export const GGUF_TYPE = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };
const GGML_TYPE_F32 = 0;

export class ByteWriter {
  chunks = [];
  length = 0;
  push(buf) {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  pad(alignment) {
    const rem = this.length % alignment;
    if (rem) this.push(Buffer.alloc(alignment - rem));
  }
  toBuffer() {
    return Buffer.concat(this.chunks, this.length);
  }
}

export function writeValue(w, kind, value) {
  switch (kind) {
    case 'u32':
      w.u32(GGUF_TYPE.UINT32);
      w.u32(value);
      break;
    case 'f32':
      w.u32(GGUF_TYPE.FLOAT32);
      w.f32(value);
      break;
    case 'bool':
      w.u32(GGUF_TYPE.BOOL);
      w.push(Buffer.from([value ? 1 : 0]));
      break;
    case 'str':
      w.u32(GGUF_TYPE.STRING);
      w.str(value);
      break;
    case 'str[]':
      w.u32(GGUF_TYPE.ARRAY);
      w.u32(GGUF_TYPE.STRING);
      w.u64(value.length);
      for (const s of value) w.str(s);
      break;
    case 'f32[]':
      w.u32(GGUF_TYPE.ARRAY);
      w.u32(GGUF_TYPE.FLOAT32);
      w.u64(value.length);
      for (const v of value) w.f32(v);
      break;
    case 'i32[]':
      w.u32(GGUF_TYPE.ARRAY);
      w.u32(GGUF_TYPE.INT32);
      w.u64(value.length);
      for (const v of value) w.i32(v);
      break;
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The GGUF metadata of a llama-architecture model with this project's vocabulary and ChatML template. */
export function llamaMetadata({ name, fileType, hp, vocab }) {
  const headDim = hp.embd / hp.heads;
  return [
    ['general.architecture', 'str', 'llama'],
    ['general.name', 'str', name],
    ['general.file_type', 'u32', fileType],
    ['general.alignment', 'u32', ALIGNMENT],
    ['llama.vocab_size', 'u32', vocab.tokens.length],
    ['llama.context_length', 'u32', hp.contextLength],
    ['llama.embedding_length', 'u32', hp.embd],
    ['llama.block_count', 'u32', hp.layers],
    ['llama.feed_forward_length', 'u32', hp.ff],
    ['llama.attention.head_count', 'u32', hp.heads],
    ['llama.attention.head_count_kv', 'u32', hp.headsKv],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', hp.rmsEps],
    ['llama.rope.dimension_count', 'u32', headDim],
    ['llama.rope.freq_base', 'f32', hp.ropeBase],
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
}

/**
 * A llama model's tensors as [name, ggml dims, init scale ('ones' for norm weights)];
 * ggml dims: ne[0] is the row length (input features), ne[1] the rows (output features).
 */
export function llamaTensors({ embd, kvDim, ff, layers, nVocab }) {
  const tensors = [
    ['token_embd.weight', [embd, nVocab], 0.5],
    ['output_norm.weight', [embd], 'ones'],
    ['output.weight', [embd, nVocab], 0.5],
  ];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      [p + 'attn_norm.weight', [embd], 'ones'],
      [p + 'attn_q.weight', [embd, embd], 0.15],
      [p + 'attn_k.weight', [embd, kvDim], 0.15],
      [p + 'attn_v.weight', [embd, kvDim], 0.15],
      [p + 'attn_output.weight', [embd, embd], 0.15],
      [p + 'ffn_norm.weight', [embd], 'ones'],
      [p + 'ffn_gate.weight', [embd, ff], 0.15],
      [p + 'ffn_up.weight', [embd, ff], 0.15],
      [p + 'ffn_down.weight', [ff, embd], 0.1],
    );
  }
  return tensors;
}

/**
 * The GGUF v3 header (magic, metadata, tensor infos) padded to the alignment,
 * for tensors given as [name, dims, ggml type, byte length]; `offsets` are each
 * tensor's place in the data section that follows.
 */
export function ggufHeader(metadata, tensors) {
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
  const offsets = tensors.map(([, , , length]) => {
    const at = offset;
    offset = Math.ceil((offset + length) / ALIGNMENT) * ALIGNMENT;
    return at;
  });
  tensors.forEach(([name, dims, type], i) => {
    w.str(name);
    w.u32(dims.length);
    for (const d of dims) w.u64(d);
    w.u32(type);
    w.u64(offsets[i]);
  });
  w.pad(ALIGNMENT);
  return { w, offsets };
}

export function buildDemoModel() {
  const vocab = buildVocab();
  const nVocab = vocab.tokens.length;
  const controlIds = vocab.types.flatMap((t, id) => (t === TT.control || t === TT.unknown ? [id] : []));
  const { embd, layers, heads, headsKv, ff } = HP;
  const headDim = embd / heads;
  const kvDim = headDim * headsKv;

  const metadata = llamaMetadata({ name: 'sipp-demo-tiny', fileType: 0, hp: HP, vocab });

  const tensors = llamaTensors({ embd, kvDim, ff, layers, nVocab });

  const rand = prng(SEED);
  const datas = tensors.map(([name, dims, scale]) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const arr = new Float32Array(n);
    for (let i = 0; i < n; i++) arr[i] = scale === 'ones' ? 1 : rand() * scale;
    if (name === 'output.weight') {
      // Zero logits for <unk>, <s>, </s> and the chat markers: random weights would
      // otherwise end or derail generations at arbitrary points. The demo model
      // therefore runs until max_tokens or a stop sequence.
      for (const id of controlIds) arr.fill(0, id * embd, (id + 1) * embd);
    }
    return Buffer.from(arr.buffer);
  });
  // The one learned behaviour: after the word "end" comes </s>. Embedding
  // dimension 0 is reserved for "▁end" (zero for every other token) and the
  // </s> output row reads only that dimension; the residual stream carries it
  // to the output, so "end" is followed by </s> and nothing else triggers it.
  const embdData = new Float32Array(datas[0].buffer, datas[0].byteOffset, embd * nVocab);
  const outData = new Float32Array(datas[2].buffer, datas[2].byteOffset, embd * nVocab);
  const endId = vocab.tokens.indexOf('\u2581end');
  const eosId = 2;
  for (let t = 0; t < nVocab; t++) embdData[t * embd] = t === endId ? END_MARKER : 0;
  outData.fill(0, eosId * embd, (eosId + 1) * embd);
  outData[eosId * embd] = EOS_GAIN;

  const { w, offsets } = ggufHeader(
    metadata,
    tensors.map(([name, dims], i) => [name, dims, GGML_TYPE_F32, datas[i].length]),
  );
  const dataStart = w.length;
  datas.forEach((d, i) => {
    const target = dataStart + offsets[i];
    if (w.length < target) w.push(Buffer.alloc(target - w.length));
    w.push(d);
  });
  w.pad(ALIGNMENT);
  return w.toBuffer();
}

export function writeDemoModel(outPath) {
  const buf = buildDemoModel();
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.${process.pid}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, outPath); // atomic: concurrent test processes never see a partial file
  return buf.length;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const out = resolve(process.argv[2] ?? resolve(repoRoot, 'models/demo.gguf'));
  const bytes = writeDemoModel(out);
  console.log(`wrote ${out} (${bytes} bytes)`);
}
