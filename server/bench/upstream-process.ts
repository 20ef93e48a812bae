/**
 * A fake OpenAI-compatible upstream in its own process for the benchmark, so
 * the gateway, the upstream and the load generator do not share an event loop.
 * Prints its base URL as one JSON line, then serves until killed.
 */
import { startFakeOpenAI } from '../test/support/fake-openai.js';

const upstream = await startFakeOpenAI({ record: false, apiKey: 'sk-bench-upstream-key' });
process.stdout.write(`${JSON.stringify({ url: upstream.url, apiKey: upstream.apiKey })}\n`);
process.on('SIGTERM', () => {
  void upstream.close().then(() => process.exit(0));
});
