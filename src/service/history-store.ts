/**
 * Where the update history and the audit log live between page loads and app updates: IndexedDB
 * database "trustflash-history" (apart from the NICs' "trustflash", so neither upgrade blocks the
 * other), object stores "history" (past updates, key = id), "markers" ("session started", key =
 * id, deleted with the result), "audit" (the hash-chained JSON lines, key = [chain, seq]) and
 * "aside" (a stored audit log that failed verification, kept for review). Every stored value
 * carries the schema version it was written with (`v`); `readStored` migrates or refuses it.
 */
import type { Outcome } from '../core/update/session.ts';
import { idbDone, idbOpener, idbRequest } from './idb.ts';

/** The schema version this app writes. Bump it with a migration in `readStored`. */
export const HISTORY_SCHEMA = 1;
export const HISTORY_DB = 'trustflash-history';

/** What happened: a session's outcome, a session cut off by a reload, or a reboot that applied a pending image. */
export type HistoryOutcome = Outcome | 'interrupted' | 'power-cycled';

/** One past update, as `fwupdmgr get-history` lists it. */
export interface HistoryEntry {
  readonly id: string;
  /** ISO 8601, when it started (a reboot: when it happened). */
  readonly time: string;
  readonly serial: string;
  readonly psid?: string;
  readonly device: 'emulated' | 'usb';
  readonly file: string;
  readonly size?: number;
  /** What ran before and after ("28.39.1002", "28.39.1002 (pending 28.40.1000)"). */
  readonly before?: string;
  readonly after?: string;
  readonly outcome: HistoryOutcome;
  readonly message: string;
}

/** Persisted before a session runs, deleted with its result: one left over means the page went away mid-update. */
export type SessionMarker = Omit<HistoryEntry, 'outcome' | 'message' | 'after'>;

export interface StoredEntries {
  readonly entries: HistoryEntry[];
  /** Records this version cannot read, one sentence each (kept in the store, not shown). */
  readonly refused: string[];
}

export interface HistoryStore {
  begin(marker: SessionMarker): Promise<void>;
  /** Writes the entry and deletes its marker, in one transaction. */
  finish(entry: HistoryEntry): Promise<void>;
  add(entry: HistoryEntry): Promise<void>;
  entries(): Promise<StoredEntries>;
  markers(): Promise<SessionMarker[]>;
  dropMarker(id: string): Promise<void>;
  /** The stored audit log of `chain`, JSON lines in seq order ('' when none). */
  auditText(chain: string): Promise<string>;
  appendAudit(chain: string, seq: number, line: string): Promise<void>;
  /** Moves the stored chain to "aside" (with why), so a new chain can start. */
  setAuditAside(chain: string, reason: string): Promise<void>;
}

type Read<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * A stored value, migrated to this schema or refused with a sentence. Only schema 1 exists so far;
 * a value without a version predates versioning (never written by a release) and one from a newer
 * TrustFlash (an app downgrade) is not guessed at.
 */
export function readStored<T>(raw: unknown, what: string): Read<T> {
  const v = typeof raw === 'object' && raw !== null ? (raw as { v?: unknown }).v : undefined;
  if (v === HISTORY_SCHEMA) return { ok: true, value: (raw as { value: T }).value };
  if (typeof v === 'number' && v > HISTORY_SCHEMA) return { ok: false, reason: `${what} was written by a newer TrustFlash (schema ${v}; this version reads up to ${HISTORY_SCHEMA}): kept, not shown; update the app to read it` };
  return { ok: false, reason: `${what} has no schema version this TrustFlash knows (${JSON.stringify(v ?? null)}; it reads ${HISTORY_SCHEMA}): kept, not shown` };
}

const wrap = <T>(value: T) => ({ v: HISTORY_SCHEMA, value });

function readAll<T>(rows: unknown[], what: string): { values: T[]; refused: string[] } {
  const values: T[] = [];
  const refused: string[] = [];
  rows.forEach((raw, i) => {
    const r = readStored<T>(raw, `${what} ${i + 1}`);
    if (r.ok) values.push(r.value);
    else refused.push(r.reason);
  });
  return { values, refused };
}

const byTime = (a: { time: string }, b: { time: string }) => a.time.localeCompare(b.time);

/** In memory: unit tests, and a browser without IndexedDB (the history then ends with the page). */
export function memoryHistoryStore(): HistoryStore & { readonly raw: { history: Map<string, unknown>; markers: Map<string, unknown>; audit: Map<string, string[]>; aside: string[] } } {
  const raw = { history: new Map<string, unknown>(), markers: new Map<string, unknown>(), audit: new Map<string, string[]>(), aside: [] as string[] };
  return {
    raw,
    async begin(m) {
      raw.markers.set(m.id, wrap(m));
    },
    async finish(e) {
      raw.history.set(e.id, wrap(e));
      raw.markers.delete(e.id);
    },
    async add(e) {
      raw.history.set(e.id, wrap(e));
    },
    async entries() {
      const { values, refused } = readAll<HistoryEntry>([...raw.history.values()], 'history record');
      return { entries: values.sort(byTime), refused };
    },
    async markers() {
      return readAll<SessionMarker>([...raw.markers.values()], 'session marker').values.sort(byTime);
    },
    async dropMarker(id) {
      raw.markers.delete(id);
    },
    async auditText(chain) {
      const lines = raw.audit.get(chain) ?? [];
      return lines.length ? lines.join('\n') + '\n' : '';
    },
    async appendAudit(chain, seq, line) {
      const lines = raw.audit.get(chain) ?? [];
      lines[seq] = line;
      raw.audit.set(chain, lines);
    },
    async setAuditAside(chain, reason) {
      raw.aside.push(`${reason}\n${(raw.audit.get(chain) ?? []).join('\n')}`);
      raw.audit.delete(chain);
    },
  };
}

const STORES = ['history', 'markers', 'audit', 'aside'] as const;

export function indexedDbHistoryStore(factory: IDBFactory = indexedDB): HistoryStore {
  const open = idbOpener(factory, HISTORY_DB, 1, (db) => {
    for (const name of STORES) if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, name === 'aside' ? { autoIncrement: true } : undefined);
  });
  const write = async (stores: (typeof STORES)[number][], fn: (tx: IDBTransaction) => void) => {
    const tx = (await open()).transaction(stores, 'readwrite');
    fn(tx);
    await idbDone(tx);
  };
  const all = async (store: (typeof STORES)[number]) => idbRequest((await open()).transaction(store, 'readonly').objectStore(store).getAll());
  const range = (chain: string) => IDBKeyRange.bound([chain, 0], [chain, Number.MAX_SAFE_INTEGER]);
  return {
    begin: (m) => write(['markers'], (tx) => tx.objectStore('markers').put(wrap(m), m.id)),
    finish: (e) =>
      write(['history', 'markers'], (tx) => {
        tx.objectStore('history').put(wrap(e), e.id);
        tx.objectStore('markers').delete(e.id);
      }),
    add: (e) => write(['history'], (tx) => tx.objectStore('history').put(wrap(e), e.id)),
    async entries() {
      const { values, refused } = readAll<HistoryEntry>(await all('history'), 'history record');
      return { entries: values.sort(byTime), refused };
    },
    markers: async () => readAll<SessionMarker>(await all('markers'), 'session marker').values.sort(byTime),
    dropMarker: (id) => write(['markers'], (tx) => tx.objectStore('markers').delete(id)),
    async auditText(chain) {
      const rows = await idbRequest((await open()).transaction('audit', 'readonly').objectStore('audit').getAll(range(chain)));
      const lines = readAll<string>(rows, 'audit record').values;
      return lines.length ? lines.join('\n') + '\n' : '';
    },
    appendAudit: (chain, seq, line) => write(['audit'], (tx) => tx.objectStore('audit').put(wrap(line), [chain, seq])),
    async setAuditAside(chain, reason) {
      const text = await this.auditText(chain);
      await write(['audit', 'aside'], (tx) => {
        tx.objectStore('aside').add(wrap({ chain, reason, time: new Date().toISOString(), text }));
        tx.objectStore('audit').delete(range(chain));
      });
    },
  };
}
