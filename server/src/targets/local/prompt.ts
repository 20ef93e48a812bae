/**
 * Prompt construction for local targets.
 * - query: the raw prompt, tokenized as plain text (special-token syntax in the
 *   prompt is NOT parsed), with BOS when the model wants one;
 * - chat: the model's own chat template (GGUF `tokenizer.chat_template`,
 *   resolved by node-llama-cpp to a matching built-in wrapper or a Jinja
 *   renderer). A GGUF without a template falls back to node-llama-cpp's
 *   GeneralChatWrapper ("### System message" / "### Human" / "### Assistant").
 */
import type { Message } from '../target.js';
import { toChatHistory } from './tools.js';
import {
  GeneralChatWrapper,
  LlamaText,
  SpecialToken,
  SpecialTokensText,
  resolveChatWrapper,
  type ChatWrapper,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';

export interface PreparedPrompt {
  tokens: Token[];
  /** Extra token ids that end generation (chat template end-of-turn tokens). */
  stopTokens: Set<Token>;
  /** Extra stop strings (chat template text triggers). */
  stopStrings: string[];
}

export interface ChatTemplateInfo {
  wrapper: ChatWrapper;
  /** "model" = from the GGUF metadata; "fallback" = GeneralChatWrapper because the GGUF has none. */
  source: 'model' | 'fallback';
}

export function resolveChatTemplate(model: LlamaModel): ChatTemplateInfo {
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  if (typeof template === 'string' && template.trim() !== '') {
    return { wrapper: resolveChatWrapper(model, { warningLogs: false }), source: 'model' };
  }
  return { wrapper: new GeneralChatWrapper(), source: 'fallback' };
}

export function prepareQuery(model: LlamaModel, prompt: string): PreparedPrompt {
  const text = model.tokenize(prompt, false);
  const bos = model.tokens.bos;
  const tokens = model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...text] : text;
  return { tokens, stopTokens: new Set(), stopStrings: [] };
}

export function prepareChat(model: LlamaModel, chat: ChatTemplateInfo, messages: readonly Message[]): PreparedPrompt {
  // Text only: images are refused by the capability check before a local target
  // is called; should one get here anyway it is still a 400, never dropped.
  // Tool calls and results render in the wrapper's function-calling syntax (tools.ts).
  const { history } = toChatHistory(messages);
  const state = chat.wrapper.generateContextState({ chatHistory: history });
  const tokens = state.contextText.tokenize(model.tokenizer);
  const stopTokens = new Set<Token>();
  const stopStrings: string[] = [];
  for (const trigger of state.stopGenerationTriggers) {
    addTrigger(model, LlamaText(trigger), stopTokens, stopStrings);
  }
  return { tokens, stopTokens, stopStrings };
}

function addTrigger(model: LlamaModel, trigger: LlamaText, stopTokens: Set<Token>, stopStrings: string[]): void {
  const values = trigger.values;
  if (values.length === 1 && (values[0] instanceof SpecialToken || values[0] instanceof SpecialTokensText)) {
    const toks = values[0].tokenize(model.tokenizer);
    if (toks.length === 1) {
      stopTokens.add(toks[0]!);
      return;
    }
  }
  const plain = values.every((v) => typeof v === 'string');
  if (plain) {
    const s = values.join('');
    if (s) stopStrings.push(s);
  }
}
