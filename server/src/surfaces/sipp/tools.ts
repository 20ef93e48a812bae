/**
 * Function tools on the Sipp `/v1/chat` route (docs/api.md#tools-on-v1chat):
 * `tools`, `tool_choice`, assistant `tool_calls` and `tool` messages in the
 * request; `tool_calls` in the answer and `tool_call` stream events. A body
 * without any of them is the plain Sipp chat, parsed by the shared schema
 * (unchanged byte for byte: no `tool_call` event is ever sent to it).
 */
import { ChatRequestSchema } from '@sipp/shared';
import { z } from 'zod';
import type { Message, ToolCall, ToolChoice, ToolDefinition } from '../../targets/target.js';

const ToolCallSchema = z.strictObject({
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  /** The JSON text of the arguments object, as the answer gives it. */
  arguments: z.string(),
});

const ToolMessageSchema = z.discriminatedUnion('role', [
  z.looseObject({ role: z.literal('system'), content: z.string() }),
  z.looseObject({ role: z.literal('user'), content: z.string() }),
  z.looseObject({ role: z.literal('assistant'), content: z.string(), tool_calls: z.array(ToolCallSchema).max(128).nullish() }),
  z.looseObject({ role: z.literal('tool'), tool_call_id: z.string().min(1).max(256), content: z.string() }),
]);

export const SippToolChatSchema = ChatRequestSchema.extend({
  messages: z.array(ToolMessageSchema).min(1),
  tools: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(256),
        description: z.string().nullish(),
        parameters: z.record(z.string(), z.unknown()).nullish(),
      }),
    )
    .max(128)
    .nullish(),
  tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.strictObject({ name: z.string().min(1) })]).nullish(),
});

/** Whether a `/v1/chat` body uses tools (then SippToolChatSchema parses it). */
export function usesTools(body: Record<string, unknown>): boolean {
  if (body.tools != null || body.tool_choice != null) return true;
  const messages = body.messages;
  return (
    Array.isArray(messages) &&
    messages.some((m) => typeof m === 'object' && m !== null && ((m as any).role === 'tool' || (m as any).tool_calls != null))
  );
}

export function toolMessages(messages: z.infer<typeof SippToolChatSchema>['messages']): Message[] {
  // Only the fields of the protocol travel on: extra per-message fields are never forwarded.
  return messages.map((m): Message => {
    switch (m.role) {
      case 'assistant': {
        const calls: ToolCall[] | undefined = m.tool_calls?.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
        return calls?.length
          ? { role: 'assistant', content: m.content, toolCalls: calls }
          : { role: 'assistant', content: m.content };
      }
      case 'tool':
        return { role: 'tool', toolCallId: m.tool_call_id, content: m.content };
      default:
        return { role: m.role, content: m.content };
    }
  });
}

export function toolOptions(b: z.infer<typeof SippToolChatSchema>): { tools?: ToolDefinition[]; toolChoice?: ToolChoice } {
  const out: { tools?: ToolDefinition[]; toolChoice?: ToolChoice } = {};
  if (b.tools?.length) {
    out.tools = b.tools.map((t) => {
      const d: ToolDefinition = { name: t.name };
      if (t.description != null) d.description = t.description;
      if (t.parameters != null) d.parameters = t.parameters;
      return d;
    });
  }
  const c = b.tool_choice;
  if (c != null) out.toolChoice = typeof c === 'string' ? { type: c } : { type: 'tool', name: c.name };
  return out;
}
