/**
 * The NIC's non-volatile state as bytes: what survives a power cycle (flash pages and fuses) plus
 * the identity it was manufactured with. Used for the CLI's --state file and the page's IndexedDB,
 * so a reload is a reboot, not a factory reset. Decoding is strict: a damaged state file is an
 * error naming what is wrong, never a half-restored NIC.
 *
 *   "TFNS" | format u32 = 1 | jsonLength u32 | JSON { identity, bankSize, fuses (hex), pages [index…] }
 *   | one 64 KiB page per index, in order
 */
import { identityTlvs, type Identity } from './factory.ts';
import type { NicState } from './nic.ts';

const MAGIC = 0x534e4654; // "TFNS"
const PAGE = 64 * 1024;
const JSON_MAX = 64 * 1024;
/** Two banks of at most 256 MiB plus the system area. */
const BANK_MAX = 256 * 1024 * 1024;

function metadata(s: Pick<NicState, 'identity' | 'bankSize' | 'fuses'>, pages: readonly number[]): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ identity: s.identity, bankSize: s.bankSize, fuses: Array.from(s.fuses, (b) => b.toString(16).padStart(2, '0')).join(''), pages }),
  );
}

function encode(json: Uint8Array, pages: readonly (Uint8Array | undefined)[]): Uint8Array {
  const out = new Uint8Array(12 + json.length + pages.length * PAGE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, 1, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  let at = 12 + json.length;
  for (const page of pages) {
    if (page) out.set(page, at);
    else out.fill(0xff, at, at + PAGE);
    at += PAGE;
  }
  return out;
}

/**
 * The same bytes as encodeState, handed to `write` in pieces (the header and metadata, then one
 * page at a time) straight from `pages` — views are fine: nothing is copied or kept.
 */
export function writeState(s: Omit<NicState, 'flash'> & { readonly flash: readonly (readonly [number, Uint8Array])[] }, write: (chunk: Uint8Array) => void): void {
  const json = metadata(s, s.flash.map(([i]) => i));
  const head = new Uint8Array(12 + json.length);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, 1, true);
  dv.setUint32(8, json.length, true);
  head.set(json, 12);
  write(head);
  for (const [, page] of s.flash) write(page);
}

export function encodeState(s: NicState): Uint8Array {
  return encode(
    metadata(s, s.flash.map(([i]) => i)),
    s.flash.map(([, p]) => p),
  );
}

/**
 * A state file with every flash page present (erased ones as 0xFF), so each page sits at a fixed
 * offset and a write-through store can rewrite one page, or the fuses, in place: the metadata keeps
 * its length because only the fuse hex changes. Still an ordinary state file for decodeState.
 */
export interface DenseState {
  readonly bytes: Uint8Array;
  /** Byte offset of flash page `index` in `bytes`. */
  pageOffset(index: number): number;
  /** The metadata bytes (at offset 12) for these fuses: same length as the file's. */
  metadata(fuses: Uint8Array): Uint8Array;
}

export function encodeDenseState(s: NicState): DenseState {
  const count = (0x10000 + 2 * s.bankSize) / PAGE;
  const byIndex = new Map(s.flash.map(([i, p]) => [i, p] as const));
  const pages = Array.from({ length: count }, (_, i) => i);
  const json = metadata(s, pages);
  const bytes = encode(
    json,
    pages.map((i) => byIndex.get(i)),
  );
  return {
    bytes,
    pageOffset: (index) => 12 + json.length + index * PAGE,
    metadata: (fuses) => {
      const m = metadata({ ...s, fuses }, pages);
      if (m.length !== json.length) throw new Error(`state metadata changed length (${json.length} → ${m.length})`);
      return m;
    },
  };
}

export { PAGE as STATE_PAGE_SIZE };

export type StateResult = { ok: true; value: NicState } | { ok: false; error: string };

export function decodeState(bytes: Uint8Array): StateResult {
  const fail = (error: string): StateResult => ({ ok: false, error: `not a valid emulated-NIC state: ${error}` });
  if (bytes.length < 12) return fail(`${bytes.length} bytes is shorter than the 12-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) return fail('wrong magic (expected "TFNS")');
  if (dv.getUint32(4, true) !== 1) return fail(`format ${dv.getUint32(4, true)} is not 1`);
  const jsonLen = dv.getUint32(8, true);
  if (jsonLen > JSON_MAX || 12 + jsonLen > bytes.length) return fail(`metadata length ${jsonLen} is out of range`);
  let meta: { identity?: Identity; bankSize?: unknown; fuses?: unknown; pages?: unknown };
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + jsonLen)));
  } catch {
    return fail('metadata is not JSON');
  }
  const { identity, bankSize, fuses, pages } = meta;
  if (typeof bankSize !== 'number' || !Number.isInteger(bankSize) || bankSize <= 0 || bankSize % PAGE !== 0 || bankSize > BANK_MAX) return fail(`bank size ${String(bankSize)} is invalid`);
  if (typeof fuses !== 'string' || !/^[0-9a-f]{16}$/.test(fuses)) return fail('fuses must be 8 bytes of hex');
  if (!Array.isArray(pages) || !pages.every((p) => Number.isInteger(p) && p >= 0)) return fail('page list is invalid');
  const maxPage = (0x10000 + 2 * bankSize) / PAGE;
  if (pages.some((p: number, i: number) => p >= maxPage || (i > 0 && p <= pages[i - 1]))) return fail('page indices must be increasing and inside the flash');
  try {
    if (!identity || typeof identity !== 'object') throw new Error('missing');
    identityTlvs(identity); // validates every field
  } catch (e) {
    return fail(`identity is invalid (${(e as Error).message})`);
  }
  if (bytes.length !== 12 + jsonLen + pages.length * PAGE) return fail(`expected ${12 + jsonLen + pages.length * PAGE} bytes for ${pages.length} pages, got ${bytes.length}`);
  const flash: [number, Uint8Array][] = [];
  let at = 12 + jsonLen;
  for (const p of pages as number[]) {
    flash.push([p, bytes.slice(at, at + PAGE)]);
    at += PAGE;
  }
  return {
    ok: true,
    value: { format: 1, identity: identity as Identity, bankSize, flash, fuses: Uint8Array.from({ length: 8 }, (_, i) => parseInt((fuses as string).slice(2 * i, 2 * i + 2), 16)) },
  };
}

/**
 * One change of the NIC's non-volatile state, as a write-through store records it as it happens
 * (the CLI's state journal, the page's IndexedDB journal): bytes programmed at `addr`, `len` bytes
 * erased at `addr`, or the fuses' new value. A list of them replayed in order onto the state saved
 * before them is the state at the moment the last one was recorded: a process killed or a page
 * reloaded after them is a power loss of the NIC then.
 */
export type FlashOp =
  | { readonly kind: 'program'; readonly addr: number; readonly bytes: Uint8Array }
  | { readonly kind: 'erase'; readonly addr: number; readonly len: number }
  | { readonly kind: 'fuses'; readonly bytes: Uint8Array };

/** Watches `nic`'s flash and fuses and reports each change as a FlashOp; returns the detach. */
export function watchFlash(nic: { readonly flash: { onChange: ((addr: number, len: number, erased?: boolean) => void) | undefined; read(addr: number, len: number): Uint8Array | undefined }; readonly fuses: { onBurn: ((bit: number) => void) | undefined; read(): Uint8Array } }, put: (op: FlashOp) => void): () => void {
  nic.flash.onChange = (addr, len, erased) => {
    if (len === 0) return;
    // an erase says so (a whole bank, 64 MiB, need not be read back and scanned)
    if (erased) return put({ kind: 'erase', addr, len });
    const bytes = nic.flash.read(addr, len);
    if (bytes) put({ kind: 'program', addr, bytes });
  };
  nic.fuses.onBurn = () => put({ kind: 'fuses', bytes: nic.fuses.read() });
  return () => {
    nic.flash.onChange = undefined;
    nic.fuses.onBurn = undefined;
  };
}

/** `state` with `ops` applied in order (copies: the state given is not changed). Refuses an op outside the flash. */
export function applyFlashOps(state: NicState, ops: Iterable<FlashOp>): NicState {
  const pages = new Map<number, Uint8Array>(state.flash.map(([i, p]) => [i, Uint8Array.from(p)]));
  let fuses = Uint8Array.from(state.fuses);
  const size = 0x10000 + 2 * state.bankSize;
  const write = (addr: number, len: number, bytes: Uint8Array | undefined) => {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > size) throw new RangeError(`a flash change at ${addr} of ${len} bytes is outside the ${size}-byte flash`);
    for (let o = 0; o < len; ) {
      const a = addr + o;
      const index = Math.floor(a / PAGE);
      const off = a % PAGE;
      const n = Math.min(len - o, PAGE - off);
      let page = pages.get(index);
      if (!page) pages.set(index, (page = new Uint8Array(PAGE).fill(0xff)));
      if (bytes) page.set(bytes.subarray(o, o + n), off);
      else page.fill(0xff, off, off + n);
      o += n;
    }
  };
  for (const op of ops) {
    if (op.kind === 'fuses') {
      if (op.bytes.length !== fuses.length) throw new RangeError(`fuses expected ${fuses.length} bytes, got ${op.bytes.length}`);
      fuses = Uint8Array.from(op.bytes);
    } else if (op.kind === 'erase') write(op.addr, op.len, undefined);
    else write(op.addr, op.bytes.length, op.bytes);
  }
  return { ...state, flash: [...pages.entries()].sort((a, b) => a[0] - b[0]), fuses };
}
