/**
 * Honest attribution in the request record (docs/dashboard.md#reasons):
 *  - a request whose `model` names a target or group is counted under it even
 *    when it is refused before any attempt (authorization, admission, a drained
 *    target, an open circuit, a group with no member available);
 *  - a request refused before the token check (blocklist, rate limit) that
 *    carries a valid token is recorded under its caller. The token is looked
 *    up only after the refusal is decided, for the record alone: the check
 *    order, the answer and what the refusal costs stay the same (one
 *    timing-safe digest comparison per configured token).
 */
import type { Router } from '../../routing/router.js';
import type { Authenticator } from '../../security/bearer.js';
import type { RequestContext } from '../request-context.js';
import type { PipelineModule } from '../stages.js';

export function attribution(router: Pick<Router, 'known'>): PipelineModule {
  return {
    name: 'attribution',
    beforeRun(rc) {
      rc.state.model = rc.request.model;
      rc.state.asked = router.known(rc.request.model);
    },
  };
}

/** Records the caller of a request being refused before the token check; never authorizes anything. */
export type RecordCaller = (rc: RequestContext) => void;

export function recordCaller(authenticate: Authenticator): RecordCaller {
  return (rc) => {
    if (rc.state.caller !== null || rc.credential === undefined) return;
    rc.state.caller = authenticate(rc.credential)?.label ?? null;
  };
}
