/** A growable little-endian writer; the mirror of ByteReader. Values are trusted (they come from our own model). */
export class ByteWriter {
  #buf: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #len = 0;

  /** `capacity`: the bytes the caller expects to write (a hint; the writer grows past it). */
  constructor(capacity = 256) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#len;
  }

  #grow(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = Math.max(256, this.#buf.length * 2);
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.#grow(1);
    this.#view.setUint8(this.#len, v);
    this.#len += 1;
    return this;
  }
  u16(v: number): this {
    this.#grow(2);
    this.#view.setUint16(this.#len, v, true);
    this.#len += 2;
    return this;
  }
  u32(v: number): this {
    this.#grow(4);
    this.#view.setUint32(this.#len, v, true);
    this.#len += 4;
    return this;
  }
  u64(v: number): this {
    this.#grow(8);
    this.#view.setUint32(this.#len, v % 0x1_0000_0000, true);
    this.#view.setUint32(this.#len + 4, Math.floor(v / 0x1_0000_0000), true);
    this.#len += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#grow(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }
  /** Overwrites a u16 already written (for length fields known only afterwards). */
  patchU16(at: number, v: number): this {
    this.#view.setUint16(at, v, true);
    return this;
  }
  /** Overwrites a u32 already written (for length fields known only afterwards). */
  patchU32(at: number, v: number): this {
    this.#view.setUint32(at, v, true);
    return this;
  }
  /**
   * The bytes written. When they fill the capacity exactly they are handed over without a copy, and
   * the writer starts over empty, so no later call can touch the returned bytes.
   */
  finish(): Uint8Array {
    if (this.#len !== this.#buf.length) return this.#buf.slice(0, this.#len);
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    this.#view = new DataView(this.#buf.buffer);
    this.#len = 0;
    return out;
  }
}
