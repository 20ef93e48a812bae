/**
 * `aliases` on `[[targets]]` and `[[groups]]` (docs/configuration.md#aliases):
 * the model names agents send (`claude-sonnet-4-5`, `gpt-5`) resolved to a
 * target or group. An entry is an exact name or a glob where `*` matches any
 * run of characters (`claude-*`). Resolution: a target or group name first,
 * then an exact alias, then the matching glob with the most literal characters
 * (the first listed on a tie). `check` refuses an alias that two targets or
 * groups claim, and an exact alias that is already a target or group name.
 */
import { z } from 'zod';

export const AliasesSchema = z
  .array(
    z
      .string()
      .min(1, 'must not be empty')
      .max(200)
      .refine((s) => s.trim() === s && !/\s/.test(s), 'must not contain whitespace')
      .refine((s) => s.replaceAll('*', '').length > 0, 'must have at least one character besides "*"'),
  )
  .refine((a) => new Set(a).size === a.length, 'must not repeat an alias')
  .optional();

interface Owner {
  name: string;
  aliases?: readonly string[] | undefined;
}

export const isGlob = (alias: string): boolean => alias.includes('*');

export function checkAliases(ctx: z.RefinementCtx, targets: readonly Owner[], groups: readonly Owner[]): void {
  const names = new Set([...targets, ...groups].map((o) => o.name));
  const claimed = new Map<string, string>();
  const visit = (owners: readonly Owner[], table: 'targets' | 'groups') => {
    owners.forEach((o, i) => {
      (o.aliases ?? []).forEach((alias, j) => {
        const path = [table, i, 'aliases', j];
        if (!isGlob(alias) && names.has(alias)) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `"${alias}" is already a target or group name (an alias may not shadow one)`,
          });
          return;
        }
        const other = claimed.get(alias);
        if (other !== undefined && other !== o.name) {
          ctx.addIssue({ code: 'custom', path, message: `alias "${alias}" is already claimed by "${other}"` });
          return;
        }
        claimed.set(alias, o.name);
      });
    });
  };
  visit(targets, 'targets');
  visit(groups, 'groups');
}

function globRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/** Resolves aliases to target or group names. */
export class AliasTable {
  private readonly exact = new Map<string, string>();
  private readonly globs: Array<{ glob: string; re: RegExp; literal: number; name: string }> = [];

  constructor(owners: readonly Owner[]) {
    for (const o of owners) {
      for (const alias of o.aliases ?? []) {
        if (isGlob(alias))
          this.globs.push({ glob: alias, re: globRegExp(alias), literal: alias.replaceAll('*', '').length, name: o.name });
        else this.exact.set(alias, o.name);
      }
    }
    // Most literal characters first; the sort is stable, so the first listed wins a tie.
    this.globs.sort((a, b) => b.literal - a.literal);
  }

  /** The target or group an alias names, or null when no alias matches. */
  resolve(model: string): string | null {
    const exact = this.exact.get(model);
    if (exact !== undefined) return exact;
    for (const g of this.globs) if (g.re.test(model)) return g.name;
    return null;
  }

  /** Exact aliases and the target or group each names, in configuration order (model listings). */
  exactAliases(): Array<[alias: string, name: string]> {
    return [...this.exact];
  }
}
