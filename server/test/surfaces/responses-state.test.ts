/**
 * Stored Responses API responses beyond one gateway: the memory store's TTL
 * and `max_stored` bound (injected clock, exact boundaries), owner isolation
 * in the store itself, and a stored chain continuing on a second gateway over
 * a real redis-server (retrieve, input_items and delete on either replica,
 * private to the token that created it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { createResponseStore, ownerOf, type StoredResponse } from '../../src/surfaces/responses/store.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const entry = (text: string): StoredResponse => ({ response: { id: text, output: [] }, input: [] });

describe('memory response store', () => {
  it('expires an entry exactly at store_ttl_seconds', async () => {
    let now = 1_000;
    const store = createResponseStore({ ttlMs: 500, maxStored: 10, kv: null, now: () => now });
    await store.put('o', 'r1', entry('a'));
    now = 1_499;
    assert.equal((await store.get('o', 'r1'))?.response.id, 'a');
    now = 1_500;
    assert.equal(await store.get('o', 'r1'), null);
  });

  it('keeps at most max_stored, dropping the oldest first', async () => {
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 2, kv: null });
    await store.put('o', 'r1', entry('1'));
    await store.put('o', 'r2', entry('2'));
    await store.put('o', 'r3', entry('3'));
    assert.equal(await store.get('o', 'r1'), null);
    assert.equal((await store.get('o', 'r2'))?.response.id, '2');
    assert.equal((await store.get('o', 'r3'))?.response.id, '3');
  });

  it('drops the oldest first across many evictions, a re-put entry counting as new and a deleted one skipped', async () => {
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 3, kv: null });
    const live = async (): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) if (await store.get('o', `r${i}`)) ids.push(`r${i}`);
      return ids;
    };
    for (let i = 0; i < 20; i++) await store.put('o', `r${i}`, entry(String(i)));
    assert.deepEqual(await live(), ['r17', 'r18', 'r19']);
    await store.put('o', 'r17', entry('17 again')); // now the newest
    await store.put('o', 'r20', entry('20'));
    assert.deepEqual(await live(), ['r17', 'r19', 'r20']);
    assert.equal(await store.delete('o', 'r19'), true);
    await store.put('o', 'r21', entry('21'));
    assert.deepEqual(await live(), ['r17', 'r20', 'r21']);
    await store.put('o', 'r22', entry('22')); // r17 (put again before r20) is now the oldest
    assert.deepEqual(await live(), ['r20', 'r21', 'r22']);
    // Emptied, then filled again: the order starts over.
    for (const id of ['r20', 'r21', 'r22']) await store.delete('o', id);
    for (let i = 30; i < 35; i++) await store.put('o', `r${i}`, entry(String(i)));
    assert.deepEqual(await live(), ['r32', 'r33', 'r34']);
  });

  it('keeps at most max_stored_mb of JSON text, dropping the oldest first', async () => {
    const size = JSON.stringify(entry('1')).length;
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 100, maxStoredBytes: 2 * size, kv: null });
    await store.put('o', 'r1', entry('1'));
    await store.put('o', 'r2', entry('2'));
    assert.equal((await store.get('o', 'r1'))?.response.id, '1');
    await store.put('o', 'r3', entry('3'));
    assert.equal(await store.get('o', 'r1'), null);
    assert.equal((await store.get('o', 'r2'))?.response.id, '2');
    // Deleting frees its bytes: two more fit again.
    assert.equal(await store.delete('o', 'r2'), true);
    await store.put('o', 'r4', entry('4'));
    assert.equal((await store.get('o', 'r3'))?.response.id, '3');
    assert.equal((await store.get('o', 'r4'))?.response.id, '4');
  });

  it('counts max_stored_mb in UTF-8 bytes of the stored text', async () => {
    // 'é' is one UTF-16 unit but two UTF-8 bytes: two such entries are over a bound that fits them by length.
    const e = (id: string): StoredResponse => ({ response: { id, text: 'é'.repeat(100) }, input: [] });
    const units = JSON.stringify(e('1')).length;
    const utf8 = Buffer.byteLength(JSON.stringify(e('1')));
    assert.ok(utf8 > units);
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 100, maxStoredBytes: 2 * units, kv: null });
    await store.put('o', 'r1', e('1'));
    await store.put('o', 'r2', e('2'));
    assert.equal(await store.get('o', 'r1'), null);
    assert.equal((await store.get('o', 'r2'))?.response.text, 'é'.repeat(100));
  });

  it('keeps every entry intact beside its neighbours, small and large, through deletes and evictions', async () => {
    // Each entry is a buffer of its own, small or large; each must read back exactly as put.
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 150, kv: null });
    const big = 'x'.repeat(100 * 1024);
    const value = (i: number): StoredResponse => ({
      response: { id: `r${i}`, output: [], text: i === 50 ? big : `ünïcode ${i} ${'y'.repeat(i * 13)}` },
      input: [{ type: 'message', id: `m${i}`, role: 'user', content: [{ type: 'input_text', text: `in ${i}` }] }],
    });
    for (let i = 0; i < 200; i++) await store.put('o', `r${i}`, value(i));
    assert.equal(await store.delete('o', 'r120'), true);
    for (let i = 0; i < 200; i++) {
      const got = await store.get('o', `r${i}`);
      if (i < 50 || i === 120) assert.equal(got, null, `r${i}`);
      else assert.deepEqual(got, value(i), `r${i}`);
    }
  });

  it('is keyed by owner: another owner neither reads nor deletes it', async () => {
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 10, kv: null });
    const a = ownerOf('caller-a');
    const b = ownerOf('caller-b');
    assert.notEqual(a, b);
    assert.ok(!a.includes('caller-a'));
    await store.put(a, 'r1', entry('x'));
    assert.equal(await store.get(b, 'r1'), null);
    assert.equal(await store.delete(b, 'r1'), false);
    assert.equal((await store.get(a, 'r1'))?.response.id, 'x');
    assert.equal(await store.delete(a, 'r1'), true);
    assert.equal(await store.get(a, 'r1'), null);
  });

  it('stores a copy: changing the object afterwards does not change what is stored', async () => {
    const store = createResponseStore({ ttlMs: 60_000, maxStored: 10, kv: null });
    const e = entry('orig');
    await store.put('o', 'r1', e);
    e.response.id = 'changed';
    assert.equal((await store.get('o', 'r1'))?.response.id, 'orig');
  });
});

describe('[responses] reaches the gateway', () => {
  it('max_stored = 1 on the memory backend: the second response pushes out the first', async () => {
    const upstream = await startFakeOpenAI();
    const toml = chatGatewayToml(upstream.url, { extra: '[responses]\nmax_stored = 1' });
    const gw = await startTestGateway({
      toml,
      env: {
        TEST_ADMIN_PASSWORD: 'admin-pw-responses-bound',
        T: 'tok-responses-bound-0123456789',
        UPSTREAM_KEY: upstream.apiKey,
      },
    });
    try {
      const client = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: 'tok-responses-bound-0123456789', maxRetries: 0 });
      const r1 = await client.responses.create({ model: 'chat', input: 'one' });
      assert.equal((await client.responses.retrieve(r1.id)).id, r1.id);
      const r2 = await client.responses.create({ model: 'chat', input: 'two' });
      await assert.rejects(client.responses.retrieve(r1.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      assert.equal((await client.responses.retrieve(r2.id)).id, r2.id);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});

describe('a stored chain continues on a second gateway over Redis', () => {
  const TOKEN_A = 'tok-responses-fleet-a-0123456789';
  const TOKEN_B = 'tok-responses-fleet-b-9876543210';
  let redis: TestRedis;
  let upstream: FakeOpenAI;
  let gws: TestGateway[] = [];

  before(async () => {
    [redis, upstream] = await Promise.all([startRedis(), startFakeOpenAI()]);
    const toml = chatGatewayToml(upstream.url, {
      extra: `[state]
backend = "redis"
key_prefix = "resp-test:"
[responses]
store_ttl_seconds = 600
[[tokens]]
env = "T_B"
caller = "other"`,
    });
    const env = {
      TEST_ADMIN_PASSWORD: 'admin-pw-responses-fleet',
      T: TOKEN_A,
      T_B: TOKEN_B,
      UPSTREAM_KEY: upstream.apiKey,
      SIPP_GATEWAY_REDIS_URL: redis.url,
    };
    gws = await Promise.all([startTestGateway({ toml, env }), startTestGateway({ toml, env })]);
  });
  after(async () => {
    await Promise.all(gws.map((g) => g.stop()));
    await Promise.all([redis?.stop(), upstream?.close()]);
  });

  it('create on one replica; chain, retrieve, list and delete on the other; another token gets 404', async () => {
    const on = (i: number, token = TOKEN_A) => new OpenAI({ baseURL: `${gws[i]!.publicUrl}/v1`, apiKey: token, maxRetries: 0 });
    const r1 = await on(0).responses.stream({ model: 'chat', input: 'first' }).finalResponse();
    const r2 = await on(1).responses.create({ model: 'chat', input: 'second', previous_response_id: r1.id });
    assert.deepEqual(upstream.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'Gateway ready' },
      { role: 'user', content: 'second' },
    ]);
    assert.equal((await on(0).responses.retrieve(r2.id)).previous_response_id, r1.id);
    const page = await on(0).responses.inputItems.list(r2.id, { order: 'asc' });
    assert.equal(page.data.length, 3);

    await assert.rejects(on(1, TOKEN_B).responses.retrieve(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(on(0, TOKEN_B).responses.delete(r1.id), (e: unknown) => e instanceof OpenAI.NotFoundError);

    await on(1).responses.delete(r1.id);
    await assert.rejects(on(0).responses.retrieve(r1.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    // Neither the token nor the caller label is part of a stored key.
    const keys = await redisKeys(redis);
    assert.ok(
      keys.some((k) => k.startsWith('resp-test:responses:')),
      keys.join(' '),
    );
    for (const k of keys) assert.ok(!k.includes(TOKEN_A) && !k.includes('other'), k);
  });
});

async function redisKeys(redis: TestRedis): Promise<string[]> {
  const { Redis } = await import('ioredis');
  const c = new Redis(redis.url);
  try {
    return await c.keys('*');
  } finally {
    c.disconnect();
  }
}
