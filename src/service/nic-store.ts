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
import { idbDone, idbOpener, idbRequest } from './idb.ts';

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

export function indexedDbNicStore(factory: IDBFactory = indexedDB): NicStore {
  const open = idbOpener(factory, NIC_DB, 2, (db) => {
    if (!db.objectStoreNames.contains(NIC_STORE)) db.createObjectStore(NIC_STORE);
    if (!db.objectStoreNames.contains(JOURNAL_STORE)) db.createObjectStore(JOURNAL_STORE, { autoIncrement: true }).createIndex('serial', 'serial');
  });
  return {
    async loadAll() {
      const tx = (await open()).transaction(NIC_STORE, 'readonly');
      const store = tx.objectStore(NIC_STORE);
      const [keys, values] = await Promise.all([idbRequest(store.getAllKeys()), idbRequest(store.getAll())]);
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
      await idbDone(tx);
    },
    async append(serial, ops) {
      const tx = (await open()).transaction(JOURNAL_STORE, 'readwrite');
      tx.objectStore(JOURNAL_STORE).add({ serial, ops });
      await idbDone(tx);
    },
    async journal(serial) {
      const tx = (await open()).transaction(JOURNAL_STORE, 'readonly');
      const rows = (await idbRequest(tx.objectStore(JOURNAL_STORE).index('serial').getAll(IDBKeyRange.only(serial)))) as { ops: FlashOp[] }[];
      return rows.flatMap((r) => r.ops);
    },
  };
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
