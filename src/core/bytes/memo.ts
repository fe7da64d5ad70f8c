import { toHex } from './hex.ts';

/**
 * A bounded least-recently-used memo keyed by exact bytes, for pure functions of untrusted bytes
 * that recur (the same vendor keys and certificates in every image). Results must be immutable.
 */
export function memoByBytes<T>(fn: (bytes: Uint8Array) => T, max = 64): (bytes: Uint8Array) => T {
  const cache = new Map<string, T>();
  return (bytes) => {
    const id = toHex(bytes);
    if (cache.has(id)) {
      const v = cache.get(id)!;
      cache.delete(id);
      cache.set(id, v);
      return v;
    }
    const v = fn(bytes.slice());
    cache.set(id, v);
    if (cache.size > max) cache.delete(cache.keys().next().value!);
    return v;
  };
}
