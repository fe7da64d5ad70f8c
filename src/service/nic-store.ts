/**
 * Where the emulated NICs' non-volatile state lives between page loads: IndexedDB database
 * "trustflash", object store "nics", key = serial, value = encodeState bytes. A reload restores
 * the flash and fuses and reboots the NIC, as unplugging and replugging real hardware would.
 *
 * Write-through (issue #13): between two saves, every flash change is appended to the object store
 * "journal" ({ serial, ops: FlashOp[] }, auto-increment keys, index "serial") as it happens, so a
 * page closed or reloaded in the middle of an update is a power loss of the NIC then, not a lost
 * run; a save writes the state and drops that NIC's journal in one transaction. Version 1 of the
 * database (no journal) is upgraded in place.
 */
import type { FlashOp } from '../emulator/persist.ts';

export interface NicStore {
  /** Every saved NIC, in serial order. */
  loadAll(): Promise<{ serial: string; bytes: Uint8Array }[]>;
  /** The NIC's state; its journal is dropped in the same transaction. */
  save(serial: string, bytes: Uint8Array): Promise<void>;
  /** Appends flash changes made since the last save (absent: no write-through). */
  append?(serial: string, ops: readonly FlashOp[]): Promise<void>;
  /** The changes appended since the last save, in order. */
  journal?(serial: string): Promise<FlashOp[]>;
}

export const NIC_DB = 'trustflash';
export const NIC_STORE = 'nics';
export const JOURNAL_STORE = 'journal';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export function indexedDbNicStore(factory: IDBFactory = indexedDB): NicStore {
  let db: Promise<IDBDatabase> | undefined;
  const open = () =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const r = factory.open(NIC_DB, 2);
      r.onupgradeneeded = () => {
        if (!r.result.objectStoreNames.contains(NIC_STORE)) r.result.createObjectStore(NIC_STORE);
        if (!r.result.objectStoreNames.contains(JOURNAL_STORE)) r.result.createObjectStore(JOURNAL_STORE, { autoIncrement: true }).createIndex('serial', 'serial');
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error(`IndexedDB "${NIC_DB}" could not be opened`));
      r.onblocked = () => reject(new Error(`IndexedDB "${NIC_DB}" is blocked by another tab holding an older version`));
    }));
  return {
    async loadAll() {
      const tx = (await open()).transaction(NIC_STORE, 'readonly');
      const store = tx.objectStore(NIC_STORE);
      const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
      const out: { serial: string; bytes: Uint8Array }[] = [];
      keys.forEach((k, i) => {
        const v = values[i];
        if (typeof k === 'string' && v instanceof Uint8Array) out.push({ serial: k, bytes: v });
      });
      return out.sort((a, b) => a.serial.localeCompare(b.serial));
    },
    async save(serial, bytes) {
      const tx = (await open()).transaction([NIC_STORE, JOURNAL_STORE], 'readwrite');
      tx.objectStore(NIC_STORE).put(bytes, serial);
      const journal = tx.objectStore(JOURNAL_STORE);
      // deleted inside this transaction's own callbacks (it must not go inactive before)
      const cursor = journal.index('serial').openKeyCursor(IDBKeyRange.only(serial));
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return;
        journal.delete(c.primaryKey);
        c.continue();
      };
      await done(tx);
    },
    async append(serial, ops) {
      const tx = (await open()).transaction(JOURNAL_STORE, 'readwrite');
      tx.objectStore(JOURNAL_STORE).add({ serial, ops });
      await done(tx);
    },
    async journal(serial) {
      const tx = (await open()).transaction(JOURNAL_STORE, 'readonly');
      const rows = (await request(tx.objectStore(JOURNAL_STORE).index('serial').getAll(IDBKeyRange.only(serial)))) as { ops: FlashOp[] }[];
      return rows.flatMap((r) => r.ops);
    },
  };
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
  });
}

/** In memory: for unit tests, and when IndexedDB is unavailable (the NIC then forgets on reload). */
export function memoryNicStore(): NicStore & { readonly saved: Map<string, Uint8Array>; readonly journals: Map<string, FlashOp[]> } {
  const saved = new Map<string, Uint8Array>();
  const journals = new Map<string, FlashOp[]>();
  return {
    saved,
    journals,
    async loadAll() {
      return [...saved.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([serial, bytes]) => ({ serial, bytes }));
    },
    async save(serial, bytes) {
      saved.set(serial, bytes.slice());
      journals.delete(serial);
    },
    async append(serial, ops) {
      journals.set(serial, [...(journals.get(serial) ?? []), ...ops]);
    },
    async journal(serial) {
      return [...(journals.get(serial) ?? [])];
    },
  };
}
