/**
 * Helpers over message content (string or parts) shared by targets that only
 * take text. Callers must have refused image parts already (capabilities).
 */
import type { Content } from './target.js';

/** The text of a content value: a string as is, text parts joined without separator. */
export function contentText(content: Content): string {
  if (typeof content === 'string') return content;
  let text = '';
  for (const part of content) if (part.type === 'text') text += part.text;
  return text;
}
