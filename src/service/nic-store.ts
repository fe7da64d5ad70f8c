/**
 * Where the emulated NICs' non-volatile state lives between page loads: IndexedDB database
 * "trustflash", object store "nics", key = serial, value = encodeState bytes. A reload restores
 * the flash and fuses and reboots the NIC, as unplugging and replugging real hardware would.
 */

export interface NicStore {
  /** Every saved NIC, in serial order. */
  loadAll(): Promise<{ serial: string; bytes: Uint8Array }[]>;
  save(serial: string, bytes: Uint8Array): Promise<void>;
}

export const NIC_DB = 'trustflash';
export const NIC_STORE = 'nics';

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
      const r = factory.open(NIC_DB, 1);
      r.onupgradeneeded = () => {
        if (!r.result.objectStoreNames.contains(NIC_STORE)) r.result.createObjectStore(NIC_STORE);
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
      const tx = (await open()).transaction(NIC_STORE, 'readwrite');
      tx.objectStore(NIC_STORE).put(bytes, serial);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
      });
    },
  };
}

/** In memory: for unit tests, and when IndexedDB is unavailable (the NIC then forgets on reload). */
export function memoryNicStore(): NicStore & { readonly saved: Map<string, Uint8Array> } {
  const saved = new Map<string, Uint8Array>();
  return {
    saved,
    async loadAll() {
      return [...saved.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([serial, bytes]) => ({ serial, bytes }));
    },
    async save(serial, bytes) {
      saved.set(serial, bytes.slice());
    },
  };
}
