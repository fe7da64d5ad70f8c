/**
 * The emulated NIC's flash chip and fuses: hardware, not firmware. A NOR flash with 4 KiB erase
 * sectors (erased bytes read 0xFF; programming can only clear bits), stored sparsely in 64 KiB
 * pages; 64 one-time-programmable fuses. Every program and erase goes through the fault hooks, so a
 * test can cut the power or fail an operation at any chosen point.
 */

export const SECTOR = 4096;
const PAGE = 64 * 1024;
// The flash map, as wasm/firmware/hw.ts has it (docs/protocol.md §8.1): two boot records, the
// identity and its backup copy, the download journal, the attestation key twice, then the two banks.
export const BOOT_RECORD_A = 0x0000;
export const BOOT_RECORD_B = 0x1000;
export const DEVICE_INFO = 0x2000;
export const DEVICE_INFO_BACKUP = 0x3000;
/** The download journal's two sectors (wasm/firmware/journal.ts). */
export const JOURNAL_A = 0x4000;
export const JOURNAL_B = 0x5000;
/** The attestation key's two copies (wasm/firmware/attest.ts, issue #14). */
export const ATTEST_A = 0x6000;
export const ATTEST_B = 0x7000;
export const BANK_BASE = 0x10000;

/** Thrown from inside a flash operation when the emulated power is cut: it unwinds the firmware. */
export class PowerLoss extends Error {
  override name = 'PowerLoss';
  constructor(readonly where: string) {
    super(`power lost during ${where}`);
  }
}

export type FlashOp = { kind: 'write' | 'erase'; addr: number; len: number };

/**
 * Hooks the fault injector installs. `before` may return an error status (the operation fails and
 * nothing changes), 'tear' (power is lost half-way: the first half of the operation happens, then
 * PowerLoss is thrown), or throw PowerLoss itself (power lost before the operation).
 */
export interface FlashHooks {
  before?(op: FlashOp): FlashStatus | 'tear' | void;
}

export const FLASH_OK = 0;
export const FLASH_ERR_WRITE = 1;
export const FLASH_ERR_ERASE = 2;
export const FLASH_ERR_RANGE = 3;
export type FlashStatus = typeof FLASH_OK | typeof FLASH_ERR_WRITE | typeof FLASH_ERR_ERASE | typeof FLASH_ERR_RANGE;

export interface FlashTiming {
  /** Milliseconds to erase one 4 KiB sector. */
  readonly eraseMsPerSector: number;
  /** Milliseconds to program one KiB. */
  readonly programMsPerKiB: number;
}

export class Flash {
  readonly size: number;
  readonly bankSize: number;
  readonly #pages = new Map<number, Uint8Array>();
  hooks: FlashHooks = {};
  /**
   * Told after every change to the flash contents (a program, an erase, the half of a torn one):
   * a write-through store (the gadget bridge's state file) persists exactly these bytes. `erased`:
   * the range was erased (all 0xFF), so a store need not read it back.
   */
  onChange: ((addr: number, len: number, erased?: boolean) => void) | undefined;
  /** Busy time the last operations would have taken on real silicon (ms), collected by the timing model. */
  busyMs = 0;
  timing: FlashTiming = { eraseMsPerSector: 0, programMsPerKiB: 0 };
  /** Counts, for tests and benchmarks. */
  readonly stats = { writes: 0, erases: 0, bytesWritten: 0 };

  constructor(bankSize: number) {
    if (bankSize % PAGE !== 0 || bankSize <= 0) throw new RangeError(`"bankSize" expected a positive multiple of ${PAGE}, got ${bankSize}`);
    this.bankSize = bankSize;
    this.size = BANK_BASE + 2 * bankSize;
  }

  bankAddr(bank: 0 | 1): number {
    return BANK_BASE + bank * this.bankSize;
  }

  #inRange(addr: number, len: number): boolean {
    return Number.isInteger(addr) && Number.isInteger(len) && addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  read(addr: number, len: number): Uint8Array | undefined {
    if (!this.#inRange(addr, len)) return undefined;
    const out = new Uint8Array(len).fill(0xff);
    for (let at = 0; at < len; ) {
      const a = addr + at;
      const page = this.#pages.get(Math.floor(a / PAGE));
      const off = a % PAGE;
      const n = Math.min(len - at, PAGE - off);
      if (page) out.set(page.subarray(off, off + n), at);
      at += n;
    }
    return out;
  }

  /** NOR programming: bits go from 1 to 0 only (programming over unerased data ANDs it). */
  write(addr: number, data: Uint8Array): FlashStatus {
    if (!this.#inRange(addr, data.length)) return FLASH_ERR_RANGE;
    const hook = this.hooks.before?.({ kind: 'write', addr, len: data.length });
    if (hook === 'tear') {
      this.#program(addr, data.subarray(0, data.length >> 1));
      this.onChange?.(addr, data.length >> 1);
      throw new PowerLoss(`a ${data.length}-byte flash write at 0x${addr.toString(16)}`);
    }
    if (hook) return hook;
    this.#program(addr, data);
    this.onChange?.(addr, data.length);
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
    this.busyMs += (data.length / 1024) * this.timing.programMsPerKiB;
    return FLASH_OK;
  }

  #program(addr: number, data: Uint8Array): void {
    for (let at = 0; at < data.length; ) {
      const a = addr + at;
      const idx = Math.floor(a / PAGE);
      const off = a % PAGE;
      const n = Math.min(data.length - at, PAGE - off);
      const page = this.#pages.get(idx);
      if (!page) {
        // an erased page (all 1s): programming it is a copy (1 AND d = d)
        const fresh = new Uint8Array(PAGE).fill(0xff, 0, off);
        fresh.set(data.subarray(at, at + n), off);
        fresh.fill(0xff, off + n);
        this.#pages.set(idx, fresh);
      } else andInto(page, off, data, at, n);
      at += n;
    }
  }

  erase(addr: number, len: number): FlashStatus {
    if (!this.#inRange(addr, len) || addr % SECTOR !== 0 || len % SECTOR !== 0) return FLASH_ERR_RANGE;
    const hook = this.hooks.before?.({ kind: 'erase', addr, len });
    if (hook === 'tear') {
      this.#erase(addr, Math.floor(len / SECTOR / 2) * SECTOR);
      this.onChange?.(addr, Math.floor(len / SECTOR / 2) * SECTOR, true);
      throw new PowerLoss(`erasing ${len} bytes at 0x${addr.toString(16)}`);
    }
    if (hook) return hook;
    this.#erase(addr, len);
    this.onChange?.(addr, len, true);
    this.stats.erases++;
    this.busyMs += (len / SECTOR) * this.timing.eraseMsPerSector;
    return FLASH_OK;
  }

  #erase(addr: number, len: number): void {
    for (let a = addr; a < addr + len; ) {
      const idx = Math.floor(a / PAGE);
      const off = a % PAGE;
      const n = Math.min(addr + len - a, PAGE - off);
      if (off === 0 && n === PAGE) this.#pages.delete(idx);
      else this.#pages.get(idx)?.fill(0xff, off, off + n);
      a += n;
    }
  }

  /**
   * Fault injection: a cell goes bad. XORs the byte at `addr` with `mask` behind the firmware's back
   * (no hooks, no timing; a write-through store is told). Programming can only clear bits, so a bit
   * that flips from 0 to 1 needs this.
   */
  corrupt(addr: number, mask: number): void {
    if (!this.#inRange(addr, 1) || !Number.isInteger(mask) || mask < 1 || mask > 0xff) throw new RangeError(`"corrupt" expected an address in the flash and a mask 1..255, got 0x${addr.toString(16)}, ${mask}`);
    const idx = Math.floor(addr / PAGE);
    let page = this.#pages.get(idx);
    if (!page) this.#pages.set(idx, (page = new Uint8Array(PAGE).fill(0xff)));
    page[addr % PAGE]! ^= mask;
    this.onChange?.(addr, 1);
  }

  /** The non-erased pages, for persistence. */
  snapshot(): { bankSize: number; pages: [number, Uint8Array][] } {
    return { bankSize: this.bankSize, pages: this.pageViews().map(([i, p]) => [i, p.slice()]) };
  }

  /**
   * The non-erased pages in ascending order, as views of the flash itself (no copy): valid until
   * the next flash change, for a caller that writes them out at once (a state file of a NIC with a
   * 200 MiB image is not copied twice in memory to be saved).
   */
  pageViews(): [number, Uint8Array][] {
    // ascending page order (the Map keeps insertion order, which erase/re-program cycles shuffle)
    return [...this.#pages.entries()].filter(([, p]) => !isErased(p)).sort(([a], [b]) => a - b);
  }

  static restore(s: { bankSize: number; pages: readonly (readonly [number, Uint8Array])[] }): Flash {
    const f = new Flash(s.bankSize);
    for (const [i, p] of s.pages) {
      if (p.length !== PAGE || i < 0 || i * PAGE >= f.size) throw new RangeError(`flash page ${i} is malformed`);
      f.#pages.set(i, p.slice());
    }
    return f;
  }
}

/** 64 one-time-programmable fuses; a burnt fuse never returns to 0. */
export class Fuses {
  #bits = new Uint8Array(8);
  hooks: { beforeBurn?(bit: number): FlashStatus | void } = {};
  /** Told after a fuse is burnt (see Flash.onChange). */
  onBurn: ((bit: number) => void) | undefined;

  read(): Uint8Array {
    return this.#bits.slice();
  }
  burn(bit: number): FlashStatus {
    if (!Number.isInteger(bit) || bit < 0 || bit > 63) return FLASH_ERR_RANGE;
    const hook = this.hooks.beforeBurn?.(bit);
    if (hook) return hook;
    this.#bits[bit >> 3]! |= 1 << (bit & 7);
    this.onBurn?.(bit);
    return FLASH_OK;
  }
  static restore(bytes: Uint8Array): Fuses {
    const f = new Fuses();
    f.#bits.set(bytes.subarray(0, 8));
    return f;
  }
}

/** True when every byte is 0xFF (a word at a time: an erase can report a whole 64 MiB bank). */
export function isErased(p: Uint8Array): boolean {
  const w = new Uint32Array(p.buffer, p.byteOffset, p.byteOffset % 4 === 0 ? p.length >> 2 : 0);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0xffffffff) return false;
  for (let i = w.length << 2; i < p.length; i++) if (p[i] !== 0xff) return false;
  return true;
}

/** dst[off..off+n) &= src[at..at+n), a word at a time where both sides are 4-byte aligned. */
function andInto(dst: Uint8Array, off: number, src: Uint8Array, at: number, n: number): void {
  let i = 0;
  if ((dst.byteOffset + off) % 4 === 0 && (src.byteOffset + at) % 4 === 0) {
    const words = n >>> 2;
    const d = new Uint32Array(dst.buffer, dst.byteOffset + off, words);
    const s = new Uint32Array(src.buffer, src.byteOffset + at, words);
    for (let w = 0; w < words; w++) d[w]! &= s[w]!;
    i = words << 2;
  }
  for (; i < n; i++) dst[off + i]! &= src[at + i]!;
}
