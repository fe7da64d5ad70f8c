/**
 * A bounds-checked little-endian reader over untrusted bytes. Every read checks that the bytes
 * exist before touching them; a failed check throws {@link FormatFailure}, which the parser that
 * owns the reader turns into a typed result (it never escapes a public parse function).
 */

/** Where and why untrusted bytes failed to parse: the field's name and its absolute offset. */
export interface FormatError {
  readonly field: string;
  readonly offset: number;
  readonly message: string;
}

export class FormatFailure extends Error {
  constructor(readonly error: FormatError) {
    super(`${error.field} at offset ${error.offset}: ${error.message}`);
    this.name = 'FormatFailure';
  }
}

export function formatFail(field: string, offset: number, message: string): never {
  throw new FormatFailure({ field, offset, message });
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  /** Absolute offset of byte 0 of this reader within the whole image, for error messages. */
  readonly base: number;
  #pos = 0;

  constructor(bytes: Uint8Array, base = 0) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.base = base;
  }

  get position(): number {
    return this.#pos;
  }
  get remaining(): number {
    return this.#bytes.length - this.#pos;
  }
  /** Absolute offset of the next byte. */
  get offset(): number {
    return this.base + this.#pos;
  }

  #need(field: string, n: number): void {
    if (n > this.remaining) {
      formatFail(field, this.offset, `needs ${n} byte${n === 1 ? '' : 's'}, only ${this.remaining} left`);
    }
  }

  u8(field: string): number {
    this.#need(field, 1);
    return this.#view.getUint8(this.#pos++);
  }
  u16(field: string): number {
    this.#need(field, 2);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }
  u32(field: string): number {
    this.#need(field, 4);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }
  /** A u64 that must fit a safe integer (2^53 - 1); larger values are a format error, not a silent rounding. */
  u64(field: string): number {
    this.#need(field, 8);
    const lo = this.#view.getUint32(this.#pos, true);
    const hi = this.#view.getUint32(this.#pos + 4, true);
    if (hi > 0x1fffff) formatFail(field, this.offset, 'value exceeds 2^53 - 1');
    this.#pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }
  /** A view (not a copy) of the next n bytes. */
  bytes(field: string, n: number): Uint8Array {
    this.#need(field, n);
    const out = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  utf8(field: string, n: number): string {
    const at = this.offset;
    const raw = this.bytes(field, n);
    try {
      return utf8.decode(raw);
    } catch {
      return formatFail(field, at, 'is not valid UTF-8');
    }
  }
  /** A sub-reader over the next n bytes, keeping absolute offsets. */
  sub(field: string, n: number): ByteReader {
    const at = this.offset;
    return new ByteReader(this.bytes(field, n), at);
  }
  expectEnd(field: string): void {
    if (this.remaining !== 0) formatFail(field, this.offset, `${this.remaining} unexpected trailing byte${this.remaining === 1 ? '' : 's'}`);
  }
}
