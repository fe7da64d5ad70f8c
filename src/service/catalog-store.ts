/**
 * Where the page keeps the release catalog between loads: IndexedDB database "trustflash-catalog"
 * (its own database, so adding it upgrades neither the NICs' "trustflash" nor "trustflash-history"
 * and old databases load unchanged), object store "catalog" with two keys: "current" (the catalog
 * file loaded last: its name and bytes) and "seen" (the highest catalog sequence seen, per vendor
 * root and PSID; catalog-verify.ts rollbackKey). "seen" outlives the catalog: removing a catalog
 * does not forget what was seen, or dropping an older one after a removal would be a rollback.
 * Every value carries the schema version it was written with (`v`); one this version does not
 * know is refused with a sentence, never guessed at.
 */
import { idbDone, idbOpener, idbRequest } from './idb.ts';

export const CATALOG_DB = 'trustflash-catalog';
export const CATALOG_SCHEMA = 1;
const STORE = 'catalog';

export interface KeptCatalog {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface StoredCatalog {
  readonly current: KeptCatalog | undefined;
  readonly seen: Readonly<Record<string, number>>;
  /** Stored values this version cannot read, one sentence each. */
  readonly refused: readonly string[];
  /**
   * The raw stored values that were refused (whole or in part), to be kept under another key before
   * anything is written back: "set aside" means kept, never overwritten by the next save.
   */
  readonly setAside?: { readonly current?: unknown; readonly seen?: unknown };
}

export interface CatalogStore {
  load(): Promise<StoredCatalog>;
  /** Writes the current catalog (or none) and the sequences seen, in one transaction. */
  save(current: KeptCatalog | undefined, seen: Readonly<Record<string, number>>): Promise<void>;
}

const wrap = <T>(value: T) => ({ v: CATALOG_SCHEMA, value });

function unwrap(raw: unknown, what: string): { ok: true; value: unknown } | { ok: false; reason: string } | undefined {
  if (raw === undefined) return undefined;
  const v = typeof raw === 'object' && raw !== null ? (raw as { v?: unknown }).v : undefined;
  if (v === CATALOG_SCHEMA) return { ok: true, value: (raw as { value: unknown }).value };
  return { ok: false, reason: `the stored ${what} has a schema this TrustFlash does not read (${JSON.stringify(v ?? null)}; it reads ${CATALOG_SCHEMA}); it was set aside` };
}

/** The stored values, checked: anything malformed is refused (named), not half-used. */
export function readStoredCatalog(currentRaw: unknown, seenRaw: unknown): StoredCatalog {
  const refused: string[] = [];
  let current: KeptCatalog | undefined;
  const c = unwrap(currentRaw, 'catalog');
  if (c && !c.ok) refused.push(c.reason);
  else if (c?.ok) {
    const k = c.value as Partial<KeptCatalog>;
    if (typeof k?.name === 'string' && k.bytes instanceof Uint8Array) current = { name: k.name, bytes: k.bytes };
    else refused.push('the stored catalog is malformed; it was set aside');
  }
  const currentRefused = refused.length > 0;
  const seen: Record<string, number> = {};
  const s = unwrap(seenRaw, 'catalog sequences');
  let seenRefused = false;
  if (s && !s.ok) {
    refused.push(s.reason);
    seenRefused = true;
  } else if (s?.ok) {
    const o = s.value;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      refused.push('the stored catalog sequences are malformed; they were set aside');
      seenRefused = true;
    } else {
      let bad = 0;
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && /^[0-9a-f]{64}\//.test(k)) seen[k] = v;
        else bad++;
      }
      if (bad) {
        refused.push(`${bad} stored catalog sequence${bad === 1 ? ' was' : 's were'} malformed; the record was set aside and the readable ones kept`);
        seenRefused = true;
      }
    }
  }
  const setAside = { ...(currentRefused ? { current: currentRaw } : {}), ...(seenRefused ? { seen: seenRaw } : {}) };
  return { current, seen, refused, ...(currentRefused || seenRefused ? { setAside } : {}) };
}

export function indexedDbCatalogStore(factory: IDBFactory = indexedDB): CatalogStore {
  const open = idbOpener(factory, CATALOG_DB, 1, (db) => {
    if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
  });
  return {
    async load() {
      const store = (await open()).transaction(STORE, 'readonly').objectStore(STORE);
      const [current, seen] = await Promise.all([idbRequest(store.get('current')), idbRequest(store.get('seen'))]);
      const read = readStoredCatalog(current, seen);
      if (read.setAside) {
        // kept under its own key before any save can overwrite it (a newer TrustFlash may read it again)
        const tx = (await open()).transaction(STORE, 'readwrite');
        const at = new Date().toISOString();
        if ('current' in read.setAside) tx.objectStore(STORE).put(read.setAside.current, `aside ${at} current`);
        if ('seen' in read.setAside) tx.objectStore(STORE).put(read.setAside.seen, `aside ${at} seen`);
        await idbDone(tx);
      }
      return read;
    },
    async save(current, seen) {
      const tx = (await open()).transaction(STORE, 'readwrite');
      const store = tx.objectStore(STORE);
      if (current) store.put(wrap({ name: current.name, bytes: current.bytes }), 'current');
      else store.delete('current');
      store.put(wrap({ ...seen }), 'seen');
      await idbDone(tx);
    },
  };
}

/** For tests and browsers without IndexedDB: the same contract, for the page's lifetime. */
export function memoryCatalogStore(initial: { current?: KeptCatalog; seen?: Record<string, number> } = {}): CatalogStore {
  let current = initial.current;
  let seen = { ...(initial.seen ?? {}) };
  return {
    load: async () => ({ current, seen: { ...seen }, refused: [] }),
    save: async (c, s) => {
      current = c;
      seen = { ...s };
    },
  };
}
