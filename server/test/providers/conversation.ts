/** Request fixtures shared by the provider translation tests: one conversation using every message kind. */
import type { Message } from '../../src/targets/target.js';

/** A 1×1 PNG. */
export const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** A tool-using conversation in the internal model: every message kind once. */
export const TOOL_CONVERSATION: Message[] = [
  { role: 'system', content: [{ type: 'text', text: 'You are terse.' }] },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'What is in these pictures, and the weather in Paris?' },
      { type: 'image', source: { kind: 'url', url: 'https://img.example/cat.png', detail: 'low' } },
      { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: PNG_B64 } },
    ],
  },
  {
    role: 'assistant',
    content: '',
    toolCalls: [
      { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_2', name: 'get_time', arguments: '{"tz":"Europe/Paris"}' },
    ],
  },
  { role: 'tool', toolCallId: 'call_1', content: '18°C, cloudy' },
  { role: 'tool', toolCallId: 'call_2', content: [{ type: 'text', text: 'timezone unknown' }], isError: true },
  { role: 'assistant', content: 'Checked.', toolCalls: [{ id: 'call_3', name: 'get_weather', arguments: '{}' }] },
];

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
