/**
 * One gateway for the OpenAI / Anthropic surface tests: fake OpenAI and
 * Anthropic servers behind targets of every provider type (`gpt` openai,
 * `compat` openai_compatible, `claude` anthropic), a fallback group `smart`
 * (claude, then gpt), optionally a local target `demo` on the generated demo
 * model; a full-access token and one restricted to `claude`.
 */
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { demoTargetToml } from '../local/models.js';

export const TOKEN = 'tok-surfaces-full-0123456789';
export const RESTRICTED = 'tok-surfaces-claude-only-987';
export const ADMIN_PASSWORD = 'admin-pw-surfaces-never-shown';

export interface SurfaceRig {
  openai: FakeOpenAI;
  anthropic: FakeAnthropic;
  gw: TestGateway;
  /** Base URL for the SDKs (`…/v1` for OpenAI; the origin for Anthropic). */
  openaiBase: string;
  anthropicBase: string;
  /** Every secret that must never show up in a response or log line. */
  secrets: string[];
  close(): Promise<void>;
}

export async function startSurfaceRig(options: { local?: boolean; top?: string } = {}): Promise<SurfaceRig> {
  const openai = await startFakeOpenAI({ apiKey: 'sk-openai-surfaces-secret-1' });
  const anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-surfaces-secret-2' });
  const local = options.local ? demoTargetToml({ context_size: 256, parallel: 2, default_max_tokens: 16 }) : '';
  const gw = await startTestGateway({
    toml: `max_request_bytes = 65536
${options.top ?? ''}
${BASE_TOML}
[[tokens]]
env = "T_FULL"
caller = "full"
[[tokens]]
env = "T_CLAUDE"
caller = "claude-only"
targets = ["claude"]
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 2
[[targets]]
name = "compat"
type = "openai_compatible"
model = "m"
token_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 2
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
timeout_seconds = 2
${local}
[[groups]]
name = "smart"
targets = ["claude", "gpt"]
`,
    env: {
      TEST_ADMIN_PASSWORD: ADMIN_PASSWORD,
      T_FULL: TOKEN,
      T_CLAUDE: RESTRICTED,
      OPENAI_KEY: openai.apiKey,
      ANTHROPIC_KEY: anthropic.apiKey,
    },
  });
  return {
    openai,
    anthropic,
    gw,
    openaiBase: `${gw.publicUrl}/v1`,
    anthropicBase: gw.publicUrl,
    secrets: [TOKEN, RESTRICTED, ADMIN_PASSWORD, openai.apiKey, anthropic.apiKey],
    async close() {
      await gw.stop();
      await openai.close();
      await anthropic.close();
    },
  };
}

/** The request log lines (`"msg":"request"`) written so far, parsed. */
export function requestRecords(gw: TestGateway): any[] {
  return gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
}
