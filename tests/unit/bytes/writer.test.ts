import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../../src/core/bytes/writer.ts';

describe('ByteWriter', () => {
  it('writes little-endian fields and grows past its capacity hint', () => {
    for (const capacity of [0, 1, 4, 256]) {
      const w = new ByteWriter(capacity);
      w.u8(0xaa).u16(0x1234).u32(0xdeadbeef).u64(2 ** 40 + 5).bytes(new Uint8Array(300).fill(7));
      const out = w.finish();
      expect(out.length).toBe(1 + 2 + 4 + 8 + 300);
      expect([...out.subarray(0, 7)]).toEqual([0xaa, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde]);
      expect([...out.subarray(7, 15)]).toEqual([5, 0, 0, 0, 0, 1, 0, 0]);
      expect(out.subarray(15).every((b) => b === 7)).toBe(true);
    }
  });

  it('hands over an exactly filled buffer without a copy, and later writes never touch it', () => {
    const w = new ByteWriter(8).u32(1).u32(2);
    const out = w.finish();
    expect(out.buffer.byteLength).toBe(8);
    // the writer starts over: what follows lands in a new buffer
    w.u32(0xffffffff).patchU32(0, 0xffffffff);
    expect([...out]).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    expect([...w.finish()]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('copies out a partly filled buffer, so the writer may go on', () => {
    const w = new ByteWriter(16).u32(1);
    const first = w.finish();
    w.patchU32(0, 9).u32(3);
    expect([...first]).toEqual([1, 0, 0, 0]);
    expect([...w.finish()]).toEqual([9, 0, 0, 0, 3, 0, 0, 0]);
  });
});
