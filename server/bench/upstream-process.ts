/**
 * A fake provider upstream in its own process for the benchmark, so the
 * gateway, the upstream and the load generator do not share an event loop.
 * `node upstream-process.js [openai|anthropic|responses]` (default openai;
 * `responses` is the OpenAI Responses API). Prints its base URL as one JSON
 * line, then serves until killed.
 */
import { startFakeAnthropic } from '../test/support/fake-anthropic.js';
import { startFakeResponsesApi } from '../test/support/fake-openai-responses.js';
import { startFakeOpenAI } from '../test/support/fake-openai.js';

const upstream =
  process.argv[2] === 'anthropic'
    ? await startFakeAnthropic({ record: false, apiKey: 'sk-ant-bench-upstream-key' })
    : process.argv[2] === 'responses'
      ? await startFakeResponsesApi('sk-bench-responses-upstream-key')
      : await startFakeOpenAI({ record: false, apiKey: 'sk-bench-upstream-key' });
process.stdout.write(`${JSON.stringify({ url: upstream.url, apiKey: upstream.apiKey })}\n`);
process.on('SIGTERM', () => {
  void upstream.close().then(() => process.exit(0));
});
