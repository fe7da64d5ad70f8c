import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../../src/core/bytes/writer.ts';

describe('ByteWriter', () => {
  it('writes little-endian fields and grows as it goes', () => {
    const w = new ByteWriter();
    w.u8(0xaa).u16(0x1234).u32(0xdeadbeef).u64(2 ** 40 + 5).bytes(new Uint8Array(300).fill(7));
    const out = w.finish();
    expect(out.length).toBe(1 + 2 + 4 + 8 + 300);
    expect([...out.subarray(0, 7)]).toEqual([0xaa, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde]);
    expect([...out.subarray(7, 15)]).toEqual([5, 0, 0, 0, 0, 1, 0, 0]);
    expect(out.subarray(15).every((b) => b === 7)).toBe(true);
  });

  it('finish copies out, so the writer may go on without touching what it returned', () => {
    const w = new ByteWriter().u32(1);
    const first = w.finish();
    w.patchU32(0, 9).u32(3);
    expect([...first]).toEqual([1, 0, 0, 0]);
    expect([...w.finish()]).toEqual([9, 0, 0, 0, 3, 0, 0, 0]);
  });
});
