/** The shell commands the README shows, read from README.md itself. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Lines of the first ```sh block under the `## heading` (continuations joined, comments kept). */
export function readmeShellBlock(repoRoot: string, heading: string): string[] {
  const text = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = text.indexOf(`\n## ${heading}\n`);
  if (section < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const m = /```sh\n([\s\S]*?)```/.exec(text.slice(section));
  if (!m) throw new Error(`README.md "## ${heading}" has no sh block`);
  return m[1]!
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** Every ```<lang> block under the heading line `heading` (e.g. "### With the OpenAI or Anthropic SDK"), up to the next heading. */
export function readmeCodeBlocks(repoRoot: string, heading: string, lang: string): string[] {
  const text = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "${heading}" heading`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,6} /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

export interface CurlExample {
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The comment line that follows it in the README, if any. */
  comment?: string;
}

/** The `curl` commands of a block, as requests (only the options the README uses: -s -N -H -d). */
export function curlExamples(lines: string[]): CurlExample[] {
  const out: CurlExample[] = [];
  lines.forEach((line, i) => {
    const cmd = line.replace(/\s+#.*$/, '').trim();
    if (!cmd.startsWith('curl ')) return;
    const url = /(http:\/\/\S+)/.exec(cmd)?.[1];
    if (!url) throw new Error(`no URL in: ${line}`);
    const headers: Record<string, string> = {};
    for (const h of cmd.matchAll(/-H '([^']*)'/g)) {
      const [name, ...rest] = h[1]!.split(':');
      headers[name!.trim().toLowerCase()] = rest.join(':').trim();
    }
    const body = /-d '([^']*)'/.exec(cmd)?.[1];
    const next = lines[i + 1]?.trim();
    out.push({ url, headers, body, comment: next?.startsWith('#') ? next : undefined });
  });
  return out;
}
