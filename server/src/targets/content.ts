/**
 * Helpers over message content (string or parts) for targets that only take
 * text. The capability check (capabilities.ts) refuses image parts before such
 * a target is called; `requireText` is the target's own guard behind it.
 */
import { GatewayError } from '../errors.js';
import type { Content } from './target.js';

/** The text of a content value: a string as is, text parts joined without separator. */
export function contentText(content: Content): string {
  if (typeof content === 'string') return content;
  let text = '';
  for (const part of content) if (part.type === 'text') text += part.text;
  return text;
}

/**
 * The text of message `index`'s content; an image part is a 400 naming it
 * (`messages.<i>.content.<j>`), never dropped.
 */
export function requireText(content: Content, index: number, targetType: string): string {
  if (typeof content !== 'string') {
    const j = content.findIndex((part) => part.type !== 'text');
    if (j >= 0)
      throw new GatewayError('invalid_request', `messages.${index}.content.${j}: ${targetType} targets do not support images`);
  }
  return contentText(content);
}
