/**
 * The NIC firmware (wasm/firmware, built to generated/firmware-wasm.ts) bound to its hardware.
 * One instance is one power-on: its linear memory is the NIC's RAM, lost at every reset. The
 * emulator moves bytes in and out of the firmware's io buffer and never interprets them: the
 * firmware decides.
 */
import { FIRMWARE_WASM_BASE64 } from './generated/firmware-wasm.ts';
import { FLASH_OK, type Flash, type Fuses } from './flash.ts';

let compiled: Promise<WebAssembly.Module> | undefined;

function wasmBytes(): Uint8Array<ArrayBuffer> {
  const bin = atob(FIRMWARE_WASM_BASE64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function firmwareModule(): Promise<WebAssembly.Module> {
  return (compiled ??= WebAssembly.compile(wasmBytes()));
}

interface Exports {
  memory: WebAssembly.Memory;
  io(): number;
  io_size(): number;
  boot(): number;
  resume(): number;
  boot_status(): number;
  repairs(): number;
  mcc(instruction: number, handle: number, size: number): number;
  write_block(handle: number, offset: number, len: number): number;
  read_block(handle: number, offset: number, len: number): number;
  bad_block(): number;
  upload(offset: number, len: number): number;
  mcc_table(): number;
  mcc_table_shape(): number;
  set_handle_timeout(ms: number): void;
  set_erase_timing(msPerSector: number): void;
  status(): number;
  query(): number;
  maint(op: number, len: number): number;
  token_challenge(): number;
  token_apply(len: number): number;
  token_end(): void;
  receipt(len: number): number;
  has_attestation_key(): number;
}

export interface Hardware {
  readonly flash: Flash;
  readonly fuses: Fuses;
  /** Milliseconds, monotonic. */
  now(): number;
  random(bytes: Uint8Array): void;
}

export const BOOT_STATUS = {
  OK: 0,
  APPLIED_PENDING: 1,
  PENDING_REJECTED: 2,
  NO_DEVICE_INFO: 3,
  NO_RECORD: 4,
  FELL_BACK: 5,
  NO_VALID_IMAGE: 6,
} as const;
export const BOOT_STATUS_NAMES: Record<number, string> = {
  0: 'booted the active image',
  1: 'booted the new image (pending image applied)',
  2: 'the pending image was damaged: kept the previous image',
  3: 'no manufacturing data: the device was never programmed',
  4: 'no valid boot record',
  5: 'the active image was damaged: fell back to the other bank',
  6: 'no valid image in either bank',
};

/** What the firmware repaired at its last boot or resume (wasm/firmware/main.ts REPAIRED_*), bit by bit. */
export const REPAIRS = {
  IDENTITY_COPY: 1,
  IDENTITY_MIGRATED: 2,
  RECORD: 4,
  MIRROR: 8,
  MIRROR_FAILED: 16,
  ATTEST_COPY: 32,
} as const;
export const REPAIR_NOTES: Record<number, string> = {
  1: 'rewrote a damaged identity copy from the other copy',
  2: 'rewrote the single identity sector of an earlier layout as two checksummed copies',
  4: 'rewrote the second boot record',
  8: 'copied the running image into the other bank, so a fallback image exists',
  16: 'could not copy the running image into the other bank (retried at the next boot)',
  32: 'rewrote a damaged attestation-key copy from the other copy',
};

/** Why the firmware made no receipt (wasm/firmware/attest.ts NO_RECEIPT_*). */
export const NO_RECEIPT = { NOT_BOOTED: 1, BAD_NONCE: 2, NO_KEY: 3, SIGN_FAILED: 4 } as const;
export const NO_RECEIPT_TEXT: Record<number, string> = {
  1: 'the NIC has not booted firmware',
  2: 'a receipt nonce must be exactly 32 bytes',
  3: 'this NIC has no attestation key (it was made before device receipts existed): it cannot sign receipts',
  4: 'the receipt signature failed its own check: nothing was released',
};

export type ReceiptAnswer = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly reason: number };

/** The firmware's 28-byte STATUS answer (docs/protocol.md), as raw fields. */
export interface RawStatus {
  state: number;
  error: number;
  result: number;
  flags: number;
  handle: number;
  received: number;
  componentSize: number;
  expectedTotal: number;
  elapsedMs: number;
  bootStatus: number;
}

export class NicFirmware {
  readonly #x: Exports;

  private constructor(x: Exports) {
    this.#x = x;
  }

  /** Powers on: a fresh instance (fresh RAM) bound to the hardware. Call boot() or resume() next. */
  static async powerOn(hw: Hardware): Promise<NicFirmware> {
    let mem: WebAssembly.Memory | undefined;
    const bytes = (ptr: number, len: number) => new Uint8Array(mem!.buffer, ptr, len);
    const imports = {
      env: {
        flash_read: (addr: number, ptr: number, len: number) => {
          const data = hw.flash.read(addr >>> 0, len >>> 0);
          if (!data) return 3;
          bytes(ptr, len).set(data);
          return FLASH_OK;
        },
        // the flash copies what it programs, and nothing keeps `data` after the call: a view of the firmware's memory is enough
        flash_write: (addr: number, ptr: number, len: number) => hw.flash.write(addr >>> 0, bytes(ptr, len >>> 0)),
        flash_erase: (addr: number, len: number) => hw.flash.erase(addr >>> 0, len >>> 0),
        flash_bank_size: () => hw.flash.bankSize,
        otp_read: (ptr: number) => {
          bytes(ptr, 8).set(hw.fuses.read());
          return 0;
        },
        otp_burn: (bit: number) => hw.fuses.burn(bit),
        now_ms: () => hw.now(),
        random_fill: (ptr: number, len: number) => hw.random(bytes(ptr, len)),
        abort: () => {
          throw new Error('the NIC firmware aborted');
        },
      },
    };
    const inst = await WebAssembly.instantiate(await firmwareModule(), imports);
    const x = inst.exports as unknown as Exports;
    mem = x.memory;
    return new NicFirmware(x);
  }

  #io(len: number): Uint8Array {
    return new Uint8Array(this.#x.memory.buffer, this.#x.io(), len);
  }

  get ioSize(): number {
    return this.#x.io_size();
  }
  boot(): number {
    return this.#x.boot();
  }
  resume(): number {
    return this.#x.resume();
  }
  bootStatus(): number {
    return this.#x.boot_status();
  }
  /** REPAIRS bits: what the last boot() or resume() repaired. */
  repairs(): number {
    return this.#x.repairs();
  }
  mcc(instruction: number, handle: number, size: number): number {
    return this.#x.mcc(instruction, handle >>> 0, size >>> 0);
  }
  writeBlock(handle: number, offset: number, data: Uint8Array): number {
    if (data.length > 65536) return 7;
    this.#io(data.length).set(data);
    return this.#x.write_block(handle >>> 0, offset >>> 0, data.length);
  }
  /** The hash block (format v2) the last download was refused at, or undefined. */
  badBlock(): number | undefined {
    const b = this.#x.bad_block();
    return b >= 0 ? b : undefined;
  }
  readBlock(handle: number, offset: number, len: number): Uint8Array {
    const n = this.#x.read_block(handle >>> 0, offset >>> 0, Math.min(len, 65536));
    return this.#io(n).slice();
  }
  upload(offset: number, len: number): Uint8Array {
    const n = this.#x.upload(offset >>> 0, Math.min(len, 65536));
    return this.#io(n).slice();
  }
  /** The STATUS error byte alone (docs/protocol.md §4.2): what the DATA path reads after every block, without decoding the rest. */
  statusError(): number {
    return this.#io(this.#x.status())[1]!;
  }
  statusBytes(): Uint8Array {
    return this.#io(this.#x.status()).slice();
  }
  status(): RawStatus {
    const b = this.statusBytes();
    const v = new DataView(b.buffer);
    return {
      state: b[0]!,
      error: b[1]!,
      result: b[2]!,
      flags: b[3]!,
      handle: v.getUint32(4, true),
      received: v.getUint32(8, true),
      componentSize: v.getUint32(12, true),
      expectedTotal: v.getUint32(16, true),
      elapsedMs: v.getUint32(20, true),
      bootStatus: v.getUint32(24, true),
    };
  }
  queryBytes(): Uint8Array {
    return this.#io(this.#x.query()).slice();
  }
  maint(op: number, data: Uint8Array = new Uint8Array(0)): number {
    if (data.length > 4096) return 7;
    this.#io(data.length).set(data);
    return this.#x.maint(op, data.length);
  }
  tokenChallenge(): Uint8Array {
    return this.#io(this.#x.token_challenge()).slice();
  }
  tokenApply(token: Uint8Array): number {
    if (token.length > 4096) return 8;
    this.#io(token.length).set(token);
    return this.#x.token_apply(token.length);
  }
  tokenEnd(): void {
    this.#x.token_end();
  }
  /** A signed receipt for `nonce` (docs/protocol.md §4.11), or why there is none (NO_RECEIPT). */
  receipt(nonce: Uint8Array): ReceiptAnswer {
    if (nonce.length > 4096) return { ok: false, reason: NO_RECEIPT.BAD_NONCE };
    this.#io(nonce.length).set(nonce);
    const n = this.#x.receipt(nonce.length);
    return n > 0 ? { ok: true, bytes: this.#io(n).slice() } : { ok: false, reason: -n };
  }
  get hasAttestationKey(): boolean {
    return this.#x.has_attestation_key() !== 0;
  }
  /**
   * The MCC dispatch table in the NIC's RAM (wasm/firmware/mcc-table.ts: `rows` states ×
   * `columns` action codes), as a live view. RAM is corruptible on real hardware too; the table
   * test changes one cell through it to prove it notices (tests/unit/device/mcc-table.test.ts).
   */
  mccTable(): { readonly rows: number; readonly columns: number; readonly cells: Uint8Array } {
    const shape = this.#x.mcc_table_shape();
    const rows = shape >>> 8;
    const columns = shape & 0xff;
    return { rows, columns, cells: new Uint8Array(this.#x.memory.buffer, this.#x.mcc_table(), rows * columns) };
  }
  setHandleTimeout(ms: number): void {
    this.#x.set_handle_timeout(ms);
  }
  setEraseTiming(msPerSector: number): void {
    this.#x.set_erase_timing(msPerSector);
  }
}
