/**
 * The page's IndexedDB plumbing, shared by its stores (nic-store.ts, history-store.ts,
 * catalog-store.ts): a request or a transaction as a promise, and a database opened once and
 * reopened after a newer TrustFlash in another tab upgraded it.
 */

/** The request's result, or its error. */
export function idbRequest<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

/** Resolves when the transaction has committed; rejects if it fails or is aborted. */
export function idbDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
  });
}

/**
 * Opens database `name` at `version` on first use, creating what `upgrade` creates, and keeps it
 * open. A newer TrustFlash in another tab that upgrades the database gets it (this connection
 * closes), and the next use opens it again.
 */
export function idbOpener(factory: IDBFactory, name: string, version: number, upgrade: (db: IDBDatabase) => void): () => Promise<IDBDatabase> {
  let db: Promise<IDBDatabase> | undefined;
  return () =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const r = factory.open(name, version);
      r.onupgradeneeded = () => upgrade(r.result);
      r.onsuccess = () => {
        r.result.onversionchange = () => {
          r.result.close();
          db = undefined;
        };
        resolve(r.result);
      };
      r.onerror = () => reject(r.error ?? new Error(`IndexedDB "${name}" could not be opened`));
      r.onblocked = () => reject(new Error(`IndexedDB "${name}" is blocked by another tab holding an older version`));
    }));
}
