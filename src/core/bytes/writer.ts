/** A growable little-endian writer; the mirror of ByteReader. Values are trusted (they come from our own model). */
export class ByteWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  #grow(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
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
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
