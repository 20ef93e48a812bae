/**
 * Where runtime controls persist: nowhere (memory), a JSON file (memory +
 * `file`) or Redis hashes (redis; one field per control and per blocklist
 * entry, so concurrent changes on different replicas never overwrite each
 * other). Redis publishes every change so the other replicas reload at once.
 */
import type { Redis } from 'ioredis';
import { foldChange, parseControlsDoc, type BlockEntry, type ControlChange, type ControlsDoc } from './controls.js';
import { readControlsFile, writeControlsFile, writeControlsFileSync } from './file-controls-store.js';

export interface ControlsStore {
  /** The stored overrides; null when nothing is stored. */
  load(): Promise<ControlsDoc | null>;
  save(change: ControlChange): Promise<void>;
  /** Calls `listener` when another replica changed something (redis only). */
  watch(listener: () => void): void;
}

export const noControlsStore: ControlsStore = {
  load: async () => null,
  save: async () => {},
  watch: () => {},
};

/** Reads the file at construction (start-up errors are thrown there) and proves it is writable. */
export function createFileControlsStore(path: string): ControlsStore {
  let doc: ControlsDoc = readControlsFile(path) ?? { blocklist: [] };
  writeControlsFileSync(path, doc);
  let chain: Promise<void> = Promise.resolve();
  return {
    load: async () => structuredClone(doc),
    save(change) {
      doc = foldChange(doc, change);
      const snapshot = structuredClone(doc);
      // Writes run one after another so an older document never lands last.
      const write = chain.then(() => writeControlsFile(path, snapshot));
      chain = write.catch(() => {});
      return write;
    },
    watch: () => {},
  };
}

/** Deletes the blocklist hash's expired entries (KEYS[1]: the hash; ARGV[1]: now, epoch ms). */
const DROP_EXPIRED_BLOCKS = `
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, e = pcall(cjson.decode, all[i + 1])
  if ok and type(e) == 'table' and type(e.expiresAt) == 'number' and e.expiresAt <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return 0
`;

export function createRedisControlsStore(redis: Redis, subscriber: Redis, prefix: string): ControlsStore {
  const controlsKey = `${prefix}controls`;
  const blocklistKey = `${prefix}blocklist`;
  const drainsKey = `${prefix}drains`;
  const channel = `${prefix}controls:changed`;
  return {
    async load() {
      type Reply = [Error | null, Record<string, string>];
      const results = (await redis.multi().hgetall(controlsKey).hgetall(blocklistKey).hgetall(drainsKey).exec()) as
        Reply[] | null;
      if (!results) throw new Error('transaction aborted');
      const [[e1, controls], [e2, blocked], [e3, drains]] = results as [Reply, Reply, Reply];
      if (e1 || e2 || e3) throw e1 ?? e2 ?? e3;
      const raw: Record<string, unknown> = {
        blocklist: Object.values(blocked ?? {}).map((v: string) => JSON.parse(v) as BlockEntry),
        drained: Object.keys(drains ?? {}),
      };
      if (controls?.rate_limit) raw.rateLimit = JSON.parse(controls.rate_limit);
      if (controls?.concurrency) raw.concurrencyLimit = JSON.parse(controls.concurrency);
      return parseControlsDoc(raw);
    },
    async save(change) {
      const m = redis.multi();
      switch (change.kind) {
        case 'rate_limit':
          m.hset(controlsKey, 'rate_limit', JSON.stringify(change.settings));
          break;
        case 'concurrency':
          m.hset(controlsKey, 'concurrency', JSON.stringify(change.limit));
          break;
        case 'block':
          // Expired blocks are dropped as new ones come, so the hash does not grow with them.
          m.eval(DROP_EXPIRED_BLOCKS, 1, blocklistKey, Date.now());
          m.hset(blocklistKey, change.entry.ip, JSON.stringify(change.entry));
          break;
        case 'unblock':
          m.hdel(blocklistKey, change.ip);
          break;
        case 'drain':
          m.hset(drainsKey, change.target, '1');
          break;
        case 'release':
          m.hdel(drainsKey, change.target);
          break;
      }
      m.publish(channel, change.kind);
      const results = await m.exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('transaction aborted');
    },
    watch(listener) {
      subscriber.subscribe(channel).catch(() => {});
      subscriber.on('message', (ch: string) => {
        if (ch === channel) listener();
      });
    },
  };
}

export { foldChange };
