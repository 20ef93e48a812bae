/**
 * Serves the Vite-built SPA from the asset directory. Paths are decoded one
 * segment at a time and anything that could step outside the directory
 * (`..`, `.`, encoded slashes or backslashes, NUL, symlinks pointing out) is a
 * 404. Unknown paths without an extension fall back to index.html (client-side
 * routing); unknown paths with one are a 404.
 *
 * The build writes `<file>.br` and `<file>.gz` beside every compressible
 * asset; a client that accepts them gets the precompressed file with
 * `Content-Encoding` (brotli preferred), and every such answer says
 * `Vary: Accept-Encoding`. Nothing is compressed per request.
 */
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { Context } from 'koa';
import { AdminError } from '../../errors.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Precompressed variants the build writes, in order of preference. */
const ENCODINGS: Array<[string, string]> = [
  ['br', '.br'],
  ['gzip', '.gz'],
];
const COMPRESSIBLE = /^(text\/|application\/(json|javascript|manifest\+json)|image\/svg\+xml)/;

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

const escapeAttr = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Safe path segments of `rel` ("/a/b.js" → ["a","b.js"]), or null for anything suspicious. */
export function safeSegments(rel: string): string[] | null {
  if (rel.includes('\\') || rel.includes('\0')) return null;
  const out: string[] = [];
  for (const raw of rel.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '.' || seg === '..' || /[\\/\0]/.test(seg) || seg.includes(':')) return null;
    out.push(seg);
  }
  return out;
}

export interface StaticAssets {
  serve(ctx: Context, rel: string): Promise<void>;
  readonly root: string;
}

export function createStaticAssets(root: string, basePath: string): StaticAssets {
  let realRoot: Promise<string | null> | null = null;
  const rootReal = () => (realRoot ??= realpath(root).catch(() => null));
  const notBuilt = () => new AdminError('not_found', 'dashboard assets are not built (npm run build -w admin-web)');

  async function resolveInside(segments: string[]): Promise<string | null> {
    const base = await rootReal();
    if (base === null) return null;
    try {
      const real = await realpath(join(base, ...segments));
      if (!real.startsWith(base + sep)) return null;
      const st = await stat(real);
      return st.isFile() ? real : null;
    } catch {
      return null;
    }
  }

  async function serveIndex(ctx: Context): Promise<void> {
    const file = await resolveInside(['index.html']);
    if (!file) throw notBuilt();
    const html = await readFile(file, 'utf8');
    const base = escapeAttr(basePath);
    // Asset URLs become absolute under the admin route so deep links work at
    // any depth; the SPA reads its base path from the meta tag.
    const body = html
      .replace(/(\s(?:src|href))="\.\/(?!\/)/g, `$1="${base}/`)
      .replace('</head>', `  <meta name="sipp-admin-base" content="${base}">\n  </head>`);
    ctx.status = 200;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  }

  return {
    root,
    async serve(ctx, rel) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new AdminError('not_found', 'not found');
      const segments = safeSegments(rel);
      if (segments === null) throw new AdminError('not_found', 'not found');
      if (segments.length === 0 || (segments.length === 1 && segments[0] === 'index.html')) return serveIndex(ctx);
      const last = segments[segments.length - 1]!;
      if (!last.includes('.')) return serveIndex(ctx);
      const original = await resolveInside(segments);
      if (!original) throw new AdminError('not_found', 'not found');
      let file = original;
      const type = contentTypeOf(original);
      if (COMPRESSIBLE.test(type)) {
        ctx.vary('Accept-Encoding');
        for (const [encoding, ext] of ENCODINGS) {
          if (ctx.acceptsEncodings(encoding, 'identity') !== encoding) continue;
          const packed = await resolveInside([...segments.slice(0, -1), last + ext]);
          if (packed) {
            file = packed;
            ctx.set('Content-Encoding', encoding);
            break;
          }
        }
      }
      const st = await stat(file);
      ctx.status = 200;
      ctx.type = type;
      ctx.set('Cache-Control', segments[0] === 'assets' && segments.length > 1 ? IMMUTABLE : 'no-cache');
      if (ctx.method === 'HEAD') {
        ctx.body = Buffer.alloc(0);
        ctx.length = st.size;
      } else {
        ctx.body = createReadStream(file);
        ctx.length = st.size;
      }
    },
  };
}
