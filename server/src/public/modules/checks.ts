/**
 * The documented checks of the public pipeline (docs/api.md#errors), each a
 * pipeline module: blocklist → rate limit → token before the body;
 * authorization → route resolution → admission before the run. They take the
 * one object they read, nothing wider.
 */
import { GatewayError, InvalidFieldError } from '../../errors.js';
import type { Router } from '../../routing/router.js';
import type { Admission } from '../../security/admission.js';
import type { Authenticator } from '../../security/bearer.js';
import type { Blocklist } from '../../security/blocklist.js';
import type { RateDecision, RateLimiter } from '../../security/rate-limit.js';
import type { RequestContext } from '../request-context.js';
import { checkEmbedCapabilities, checkTextCapabilities } from '../../targets/capabilities.js';
import { checkRawImageUrls, checkTextRequest, type RequestPolicy } from '../../targets/request-checks.js';
import { forwardsTo } from '../forward.js';
import type { PipelineModule } from '../stages.js';
import type { RecordCaller } from './attribution.js';

export function blocklistCheck(blocklist: Pick<Blocklist, 'has'>, recordCaller?: RecordCaller): PipelineModule {
  return {
    name: 'blocklist',
    beforeBody(rc) {
      if (blocklist.has(rc.state.client)) {
        recordCaller?.(rc);
        throw new GatewayError('blocked', 'client address is blocked');
      }
    },
  };
}

export function rateLimitCheck(rateLimiter: Pick<RateLimiter, 'admit'>, recordCaller?: RecordCaller): PipelineModule {
  return {
    name: 'rate_limit',
    beforeBody(rc) {
      // A promise only from a shared bucket store; this process's buckets answer at once.
      const decision = rateLimiter.admit(rc.state.client);
      if (decision instanceof Promise) return decision.then((d) => refuse(d, rc));
      refuse(decision, rc);
    },
  };
  function refuse(decision: RateDecision, rc: RequestContext): void {
    if (!decision.ok) {
      recordCaller?.(rc);
      throw new GatewayError('rate_limited', 'rate limit exceeded; retry later', {
        'retry-after': String(decision.retryAfterSeconds),
      });
    }
  }
}

/** Sets `rc.caller` (and the record's caller label and managed key id) from the presented bearer token. */
export function tokenCheck(authenticate: Authenticator): PipelineModule {
  return {
    name: 'token',
    beforeBody(rc) {
      const caller = authenticate(rc.credential);
      if (!caller) {
        throw new GatewayError('authentication', 'missing, malformed or unknown bearer token', {
          'www-authenticate': 'Bearer',
        });
      }
      rc.caller = caller;
      rc.state.caller = caller.label;
      rc.state.keyId = caller.keyId ?? null;
    },
  };
}

/**
/**
 * Client mistakes any target would refuse (docs/api.md#client-mistakes-the-gateway-refuses):
 * part of field validation, so a 400 naming the field before authorization and any attempt.
 */
export function clientMistakesCheck(policy: RequestPolicy): PipelineModule {
  return {
    name: 'client_mistakes',
    beforeRun(rc) {
      const { request, fields } = rc;
      const mistake = request.call.operation === 'embed' ? null : checkTextRequest(request.call.text, policy);
      if (mistake) throw new InvalidFieldError(fields.field(mistake.field, request), mistake.message);
      // The body as sent goes to same-API members even when the parse above saw none of it: its URLs too.
      const raw = request.passthrough ? checkRawImageUrls(request.passthrough.body, policy) : null;
      if (raw) throw new InvalidFieldError(raw.field, raw.message);
    },
  };
}

/**
 * The token's target allowlist (`[[tokens]] targets`). An alias is allowed
 * when the target or group it resolves to is (docs/configuration.md#aliases).
 */
export function authorizationCheck(router?: Pick<Router, 'canonical'>): PipelineModule {
  return {
    name: 'authorization',
    beforeRun(rc) {
      const allowed = rc.caller?.allowed;
      const model = rc.request.model;
      if (allowed && !allowed.has(model) && !(router && allowed.has(router.canonical(model)))) {
        throw new GatewayError('authorization', `this token may not use target "${model}"`);
      }
    },
  };
}

/**
 * Resolves `model` to a target or group (404 when neither exists) and keeps the
 * members that support the operation and honour the request: members that
 * cannot (a field their type refuses) are skipped; when none can, the first
 * refusal is the answer (400 naming the field in the surface's naming).
 */
export function routeResolution(router: Pick<Router, 'resolve'>): PipelineModule {
  return {
    name: 'route',
    beforeRun(rc) {
      const { request, fields } = rc;
      const call = request.call;
      rc.state.model = request.model;
      const pt = request.passthrough;
      rc.route = router.resolve(request.model, call.operation, (target) => {
        // Same API: the body goes as sent, the provider validates it (docs/api.md#pass-through).
        if (pt && forwardsTo(target, pt.api)) {
          if (pt.only === undefined || pt.only === target.name) return null;
          return new InvalidFieldError('previous_response_id', `continues a response only target "${pt.only}" keeps`);
        }
        if (pt?.parseError) return pt.parseError as Error;
        const issue =
          call.operation === 'embed'
            ? checkEmbedCapabilities(call.embed, target.capabilities, target)
            : checkTextCapabilities(call.text, target.capabilities, target);
        if (!issue) return null;
        // "temperature must be …" reads "temperature: must be …" once the field leads.
        const detail = issue.message.startsWith(`${issue.field} `) ? issue.message.slice(issue.field.length + 1) : issue.message;
        return new InvalidFieldError(fields.field(issue.field, request), detail);
      });
    },
  };
}

/** `max_concurrent_requests`: holds a slot until the answer is complete. */
export function admissionCheck(admission: Pick<Admission, 'tryAcquire'>): PipelineModule {
  return {
    name: 'admission',
    beforeRun(rc) {
      const release = admission.tryAcquire();
      if (!release) {
        throw new GatewayError('admission', 'the gateway is at max_concurrent_requests; retry later', { 'retry-after': '1' });
      }
      rc.hold(release);
    },
  };
}
