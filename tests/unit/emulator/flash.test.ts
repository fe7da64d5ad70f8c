/**
 * The flash model's NOR semantics (src/emulator/flash.ts): programming only clears bits (the result
 * is old AND new), an erased page reads all 1s, and writes that straddle 64 KiB pages or start at
 * any alignment give the same bytes as a byte-by-byte reference model.
 */
import { describe, expect, it } from 'vitest';
import { Flash, SECTOR } from '../../../src/emulator/flash.ts';

const PAGE = 65536;

/** A byte-per-cell reference: what NOR flash does, with no pages and no word tricks. */
function reference(size: number) {
  const cells = new Uint8Array(size).fill(0xff);
  return {
    cells,
    write: (addr: number, d: Uint8Array) => d.forEach((b, i) => (cells[addr + i]! &= b)),
    erase: (addr: number, len: number) => cells.fill(0xff, addr, addr + len),
  };
}

/** The first index where a and b differ, -1 when they are equal (a deep compare of 256 KiB is slow). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('flash model: programming ANDs, at every alignment', () => {
  it('writes over erased, half-written and written pages, from unaligned views, match the reference cell by cell', () => {
    const flash = new Flash(4 * PAGE);
    const ref = reference(flash.size);
    let seed = 7;
    // offsets around page edges and word boundaries; lengths that end mid-word and span pages
    for (const addr of [0, 1, 2, 3, 4, 4093, PAGE - 3, PAGE, PAGE + 5, 2 * PAGE - 1, 3 * PAGE + 2]) {
      for (const len of [1, 3, 4, 7, 4096, PAGE + 9]) {
        if (addr + len > flash.size) continue;
        // the data as a view at an odd offset of a larger buffer, as the firmware's memory hands it
        const backing = bytes(len + 3, seed++);
        const data = backing.subarray(addr % 3, (addr % 3) + len);
        expect(flash.write(addr, data)).toBe(0);
        ref.write(addr, data);
      }
    }
    expect(firstDifference(flash.read(0, flash.size)!, ref.cells)).toBe(-1);
    // an erase brings back 1s, and the next write over it is a plain copy again
    flash.erase(PAGE, SECTOR * 3);
    ref.erase(PAGE, SECTOR * 3);
    const d = bytes(SECTOR * 3, 99);
    flash.write(PAGE + 1, d.subarray(1));
    ref.write(PAGE + 1, d.subarray(1));
    expect(firstDifference(flash.read(0, flash.size)!, ref.cells)).toBe(-1);
  });

  it('a bit once cleared stays cleared until an erase: writing 0xFF over data changes nothing', () => {
    const flash = new Flash(PAGE);
    flash.write(100, new Uint8Array([0x0f, 0xf0, 0x00, 0x5a]));
    flash.write(100, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    flash.write(101, new Uint8Array([0x3c]));
    expect([...flash.read(100, 4)!]).toEqual([0x0f, 0x30, 0x00, 0x5a]);
  });
});
