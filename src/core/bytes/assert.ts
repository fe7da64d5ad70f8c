/**
 * Caller-mistake checks. These throw TypeError / RangeError with one message shape,
 * `"<name>" expected <what>, got <actual>`; bad *untrusted* bytes are never reported this way
 * (they are results, see image/parse.ts and verify/).
 */

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  if (typeof value === 'string') return `string(${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)})`;
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : `${typeof value} ${String(value)}`;
}

export function abytes(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${name}" expected Uint8Array, got ${describe(value)}`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`"${name}" expected Uint8Array(${length}), got Uint8Array(${value.length})`);
  }
}

export function aint(name: string, value: unknown, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`"${name}" expected an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`"${name}" expected an integer in ${min}..${max}, got ${value}`);
}
