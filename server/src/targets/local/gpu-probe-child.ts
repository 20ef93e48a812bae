/**
 * The child of gpu-probe.ts: `node gpu-probe-child.js <backend> <model path>`.
 * Loads the model with one layer on the backend and decodes one token; exit 0
 * means the backend ran. A kernel the driver cannot run aborts this process,
 * not the gateway.
 */
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [backend, modelPath] = process.argv.slice(2);
try {
  if (!backend || !modelPath) throw new Error('usage: gpu-probe-child <backend> <model path>');
  const gpu = backend === 'cpu' ? false : (backend as 'cuda' | 'metal' | 'vulkan');
  const llama = await getLlama({ gpu, build: 'never', skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, gpuLayers: gpu ? 1 : 0 });
  const context = await model.createContext({ contextSize: 64, sequences: 1, batchSize: 8 });
  const first = model.tokens.bos ?? model.tokenize('a')[0]!;
  for await (const token of context.getSequence().evaluate([first], { temperature: 0 })) {
    void token;
    break;
  }
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  process.exit(0);
} catch (err) {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
