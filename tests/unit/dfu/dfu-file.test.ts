/** .dfu suffix and DfuSe parsing, on fwupd's real files (tests/vectors/dfu, MANIFEST.tsv written by an independent checker). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32, dfuCrc } from '../../../src/core/bytes/crc32.ts';
import { parseDfuFile, suffixMatches, writeDfuFile } from '../../../src/core/dfu/dfu-file.ts';

const DIR = 'tests/vectors/dfu';
const manifest = readFileSync(`${DIR}/MANIFEST.tsv`, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [file, bytes, format, suffix, crc] = l.split('\t');
    const [bcdDFU, vid, pid, bcdDevice, bLength] = suffix!.split(',');
    return { file: file!, bytes: Number(bytes), format: format!, bcdDFU: parseInt(bcdDFU!, 16), vid: parseInt(vid!, 16), pid: parseInt(pid!, 16), bcdDevice: parseInt(bcdDevice!, 16), bLength: Number(bLength), crc: crc! };
  });

describe('CRC-32', () => {
  it('matches the standard check value and DFU is its complement', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(dfuCrc(check)).toBe((0xcbf43926 ^ 0xffffffff) >>> 0);
  });
});

describe('fwupd DFU files', () => {
  it('has all 10 files listed', () => expect(manifest.length).toBe(10));
  for (const m of manifest) {
    it(`${m.file}: ${m.format}`, () => {
      const bytes = new Uint8Array(readFileSync(`${DIR}/${m.file}`));
      expect(bytes.length).toBe(m.bytes);
      const r = parseDfuFile(bytes);
      expect(r.ok, r.ok ? '' : JSON.stringify(r.error)).toBe(true);
      if (!r.ok) return;
      const s = r.value.suffix;
      expect([s.bcdDFU, s.idVendor, s.idProduct, s.bcdDevice, s.length]).toEqual([m.bcdDFU, m.vid, m.pid, m.bcdDevice, m.bLength]);
      if (m.file === 'fwupd/example.dfu') expect(new TextDecoder().decode(r.value.payload)).toBe('hello world\n');
      if (m.format.includes('metadata')) expect(r.value.metadata.size).toBeGreaterThan(0);
      if (m.file === 'fwupd/metadata.dfu') expect(Object.fromEntries(r.value.metadata)).toEqual({ key: 'value' });
      if (m.format.startsWith('DfuSe')) expect(r.value.dfuse?.targets.length).toBeGreaterThan(0);
    });
  }

  it('reads DfuSe targets, alt settings and element addresses', () => {
    const r = parseDfuFile(new Uint8Array(readFileSync(`${DIR}/fwupd/firmware.dfuse`)));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const t = r.value.dfuse!.targets;
    expect(t.map((x) => [x.name, x.alternateSetting, x.elements.map((e) => e.address)])).toEqual([
      ['one', 0, [0x08001234, 0x08005678]],
      ['two', 0, [0x08000000]],
    ]);
    expect(new TextDecoder().decode(t[0]!.elements[0]!.data)).toBe('hello world');
    const alt = parseDfuFile(new Uint8Array(readFileSync(`${DIR}/fwupd/dfuse.bin`)));
    if (!alt.ok) throw new Error('dfuse.bin');
    expect(alt.value.dfuse!.targets[0]!.alternateSetting).toBe(1);
    const ex = parseDfuFile(new Uint8Array(readFileSync(`${DIR}/fwupd/example.dfuse`)));
    if (!ex.ok) throw new Error('example.dfuse');
    expect(ex.value.dfuse!.targets[0]).toMatchObject({ name: 'ST', alternateSetting: 2 });
  });

  it('checks VID/PID against the device (0xFFFF matches any)', () => {
    const r = parseDfuFile(new Uint8Array(readFileSync(`${DIR}/fwupd/firmware.dfu`)));
    if (!r.ok) throw new Error('parse');
    expect(suffixMatches(r.value.suffix, { vendorId: 0x1234, productId: 0x4321 }).ok).toBe(true);
    const wrong = suffixMatches(r.value.suffix, { vendorId: 0x1209, productId: 0x7a01 });
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.reason).toMatch(/vendor id 1234, the device is 1209/);
    const any = parseDfuFile(new Uint8Array(readFileSync(`${DIR}/fwupd/example.dfu`)));
    if (any.ok) expect(suffixMatches(any.value.suffix, { vendorId: 0x1209, productId: 0x7a01 }).ok).toBe(true);
  });
});

describe('bad DFU files', () => {
  const good = new Uint8Array(readFileSync(`${DIR}/fwupd/firmware.dfuse`));
  it('every single-byte flip is refused or changes only payload bytes the CRC covers (so: refused)', () => {
    for (let i = 0; i < good.length; i++) {
      const t = good.slice();
      t[i]! ^= 0x01;
      const r = parseDfuFile(t);
      expect(r.ok, `byte ${i}`).toBe(false);
    }
  });
  it('truncations, garbage and a raw binary give clear errors, never throw', () => {
    for (let n = 0; n < good.length; n++) expect(parseDfuFile(good.subarray(0, n)).ok).toBe(false);
    const raw = parseDfuFile(new Uint8Array(1000).fill(0x42));
    expect(raw.ok).toBe(false);
    if (!raw.ok) expect(raw.error.message).toMatch(/not a \.dfu file/);
    let s = 1;
    for (let i = 0; i < 2000; i++) {
      const len = (s = (s * 1103515245 + 12345) >>> 0) % 400;
      const b = Uint8Array.from({ length: len }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24));
      expect(() => parseDfuFile(b)).not.toThrow();
    }
  });
  it('a suffix written here parses back', () => {
    const f = writeDfuFile(new Uint8Array([1, 2, 3]), { idVendor: 0x1209, idProduct: 0x7a01 });
    const r = parseDfuFile(f);
    expect(r.ok && [...r.value.payload]).toEqual([1, 2, 3]);
  });
});
