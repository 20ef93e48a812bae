/**
 * The finished request's record (src/public/request-state.ts requestRecord):
 * `traceId` and `keyId` are members only when the request has them (the log
 * line and the observers see no `null` for them), and the outcome follows
 * the overrides in their order (shutdown cut, then the handler's override).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRequestState, requestRecord } from '../../src/public/request-state.js';

describe('requestRecord', () => {
  it('has traceId and keyId only when the request has them', () => {
    const plain = requestRecord(newRequestState('r1'), 200, null);
    assert.equal('traceId' in plain, false);
    assert.equal('keyId' in plain, false);
    assert.equal(plain.requestId, 'r1');
    assert.equal(plain.status, 200);

    const st = newRequestState('r2');
    st.traceId = 'abc123';
    st.keyId = 'key_1';
    const traced = requestRecord(st, 200, null);
    assert.equal(traced.traceId, 'abc123');
    assert.equal(traced.keyId, 'key_1');

    const onlyKey = newRequestState('r3');
    onlyKey.keyId = 'key_2';
    const keyed = requestRecord(onlyKey, 200, null);
    assert.equal(keyed.keyId, 'key_2');
    assert.equal('traceId' in keyed, false);
  });

  it('takes the shutdown cut over the handler’s override over the answer, and a refusal code as the reason', () => {
    const st = newRequestState('r4');
    st.statusOverride = 499;
    st.code = 'client_closed_request';
    assert.deepEqual(pick(requestRecord(st, 200, null)), { status: 499, code: 'client_closed_request', reason: null });
    st.cutStatus = 503;
    assert.deepEqual(pick(requestRecord(st, 200, null)), { status: 503, code: 'shutting_down', reason: null });
    const limited = newRequestState('r5');
    assert.deepEqual(pick(requestRecord(limited, 429, 'rate_limited')), {
      status: 429,
      code: 'rate_limited',
      reason: 'rate_limited',
    });
  });
});

const pick = (r: { status: number; code: string | null; reason: string | null }) => ({
  status: r.status,
  code: r.code,
  reason: r.reason,
});
