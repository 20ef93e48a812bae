/**
 * `[[groups]]` (target groups with a routing strategy and a retry policy) and
 * `[targets.circuit]` (a target's circuit breaker). Cross-field rules (names
 * shared with targets, members that exist, no nested groups) run in
 * checkGroups from the config's superRefine.
 */
import { GROUP_STRATEGIES, RETRY_ON } from '@sipp/shared';
import { z } from 'zod';
import { AliasesSchema } from './aliases.js';

export const CircuitSchema = z.strictObject({
  failure_threshold: z.number().int('must be an integer').min(1, 'must be ≥ 1').max(1_000_000).default(5),
  open_seconds: z.number().positive('must be > 0').max(86_400).default(30),
});

const RetrySchema = z
  .strictObject({
    attempts: z.number().int('must be an integer').min(1, 'must be ≥ 1 (1 = no retry)').max(100).default(1),
    backoff_ms: z.number().int('must be an integer').min(0, 'must be ≥ 0').max(600_000).default(100),
    max_backoff_ms: z.number().int('must be an integer').min(0, 'must be ≥ 0').max(600_000).default(2000),
    on: z
      .array(z.enum(RETRY_ON))
      .refine((a) => new Set(a).size === a.length, 'must not repeat a value')
      .default([...RETRY_ON]),
  })
  .superRefine((r, ctx) => {
    if (r.max_backoff_ms < r.backoff_ms)
      ctx.addIssue({ code: 'custom', path: ['max_backoff_ms'], message: 'must be ≥ backoff_ms' });
  });

const memberName = z.string().min(1, 'must not be empty');

export const GroupSchema = z
  .strictObject({
    name: z
      .string()
      .min(1, 'must not be empty')
      .refine((s) => s.trim() === s && s.trim().length > 0, 'must not be blank or have leading or trailing whitespace'),
    strategy: z.enum(GROUP_STRATEGIES).default('fallback'),
    targets: z
      .array(memberName)
      .min(1, 'must list at least one target')
      .refine((a) => new Set(a).size === a.length, 'must not list a target twice'),
    weights: z.array(z.number().positive('must be > 0').max(1_000_000)).optional(),
    retry: RetrySchema.default(() => RetrySchema.parse({})),
    aliases: AliasesSchema,
  })
  .superRefine((g, ctx) => {
    if (g.strategy === 'weighted') {
      if (!g.weights) ctx.addIssue({ code: 'custom', path: ['weights'], message: 'is required when strategy = "weighted"' });
      else if (g.weights.length !== g.targets.length) {
        ctx.addIssue({ code: 'custom', path: ['weights'], message: `must have one weight per target (${g.targets.length})` });
      }
    } else if (g.weights) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: 'is only allowed when strategy = "weighted"' });
    }
  });

type Group = z.infer<typeof GroupSchema>;

export function checkGroups(ctx: z.RefinementCtx, targets: ReadonlyArray<{ name: string }>, groups: readonly Group[]): void {
  const targetNames = new Set(targets.map((t) => t.name));
  const groupNames = new Set<string>();
  groups.forEach((g, i) => {
    if (targetNames.has(g.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['groups', i, 'name'],
        message: `"${g.name}" is already a target name (groups and targets share one namespace)`,
      });
    } else if (groupNames.has(g.name)) {
      ctx.addIssue({ code: 'custom', path: ['groups', i, 'name'], message: `duplicate group name "${g.name}"` });
    }
    groupNames.add(g.name);
  });
  groups.forEach((g, i) => {
    g.targets.forEach((member, j) => {
      if (targetNames.has(member)) return;
      const message = groupNames.has(member)
        ? `"${member}" is a group; groups may not contain groups`
        : `unknown target "${member}"`;
      ctx.addIssue({ code: 'custom', path: ['groups', i, 'targets', j], message });
    });
  });
}
