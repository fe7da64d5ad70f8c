import { describe, expect, it } from 'vitest';
import { parseImage, parseImageHead } from '../../../src/core/image/parse.ts';
import { encodeManifest, encodeSigBlock, encodeSignedPart, writeImage } from '../../../src/core/image/write.ts';
import { HEADER_SIZE, LIMITS, SIG_ENTRY, type Manifest, type SigEntry } from '../../../src/core/image/layout.ts';
import { ByteWriter } from '../../../src/core/bytes/writer.ts';
import { compareVersions, parseVersion } from '../../../src/core/image/version.ts';
import { DRAFT, smallCertImage, smallBareImage } from '../helpers/demo.ts';

const manifest = (over: Partial<Manifest> = {}): Manifest => ({ ...DRAFT, payloadSize: 4, payloadSha256: new Uint8Array(32).fill(7), ...over });

/** An image with the given manifest bytes and entries (no real signatures: layout tests only). */
function assemble(manifestBytes: Uint8Array, entries: SigEntry[] = [], payload = new Uint8Array(4), headerPatch?: (h: DataView) => void): Uint8Array {
  const w = new ByteWriter().bytes(new TextEncoder().encode('TFWI')).u16(1).u16(16).u32(manifestBytes.length).u32(0);
  const header = w.finish();
  if (headerPatch) headerPatch(new DataView(header.buffer));
  const signed = new Uint8Array(header.length + manifestBytes.length);
  signed.set(header);
  signed.set(manifestBytes, header.length);
  return writeImage({ signed, entries, payload });
}

function tlv(entries: [number, Uint8Array][]): Uint8Array {
  const w = new ByteWriter();
  for (const [tag, v] of entries) w.u16(tag).u32(v.length).bytes(v);
  return w.finish();
}

function expectError(bytes: Uint8Array, field: RegExp, message?: RegExp) {
  const r = parseImage(bytes);
  expect(r.ok, 'should not parse').toBe(false);
  if (r.ok) return;
  expect(r.error.field).toMatch(field);
  if (message) expect(r.error.message).toMatch(message);
  expect(r.error.offset).toBeGreaterThanOrEqual(0);
  expect(r.error.offset).toBeLessThanOrEqual(bytes.length);
}

describe('versions', () => {
  it('parses and orders major.minor.subminor', () => {
    expect(parseVersion('14.22.4020')).toEqual([14, 22, 4020]);
    for (const bad of ['1.2', '1.2.3.4', '01.2.3', '1.2.65536', 'a.b.c', '', '1..2']) expect(parseVersion(bad), bad).toBeUndefined();
    expect(compareVersions('28.40.1000', '28.39.1002')).toBeGreaterThan(0);
    expect(compareVersions('28.40.1000', '28.40.1000')).toBe(0);
    expect(compareVersions('2.0.0', '10.0.0')).toBeLessThan(0);
  });
});

describe('round trip', () => {
  it('write(parse(x)) equals x for signed images', async () => {
    for (const img of [await smallCertImage(), await smallBareImage(0), await smallCertImage(5000, { minSecurityVersion: 1, expires: 2_000_000_000, releaseNotes: 'notes\nline 2', deviceIds: [], forbiddenVersions: [] })]) {
      const r = parseImage(img);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      const again = writeImage({ signed: encodeSignedPart(r.value.manifest), entries: r.value.entries, payload: r.value.payload });
      expect(Buffer.from(again).equals(Buffer.from(img))).toBe(true);
    }
  });

  it('keeps every manifest field', async () => {
    const m = manifest({ minSecurityVersion: 1, expires: 1_900_000_000, releaseNotes: 'é ✓', nextKeys: [new Uint8Array([0x30, 0x08, 0x30, 0x03, 0x06, 0x01, 0x2a, 0x03, 0x01, 0x00])], forbiddenVersions: ['1.2.3', '4.5.6'], deviceIds: [1, 0xffffffff], dev: true, secured: false, sequence: 2 ** 53 - 1, finalImage: true });
    const img = writeImage({ signed: encodeSignedPart(m), entries: [], payload: new Uint8Array(4) });
    const r = parseImage(img);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.manifest).toEqual(m);
  });

  it('omits empty optional lists and absent optional fields (one encoding per value)', () => {
    const a = encodeManifest(manifest({ deviceIds: [], forbiddenVersions: [], nextKeys: [] }));
    const b = encodeManifest(manifest({ deviceIds: [], forbiddenVersions: [], nextKeys: [], minSecurityVersion: undefined }));
    expect(a).toEqual(b);
  });
});

describe('parse errors name the field and offset', () => {
  const good = () => encodeManifest(manifest());
  it('header', () => {
    expectError(new Uint8Array(0), /header/);
    expectError(new Uint8Array(15), /header/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint8(0, 0x89)), /header\.magic/, /not a TrustFlash image/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint16(4, 3, true)), /header\.formatVersion/, /understands 1 and 2/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint16(6, 32, true)), /header\.headerSize/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint32(8, 0, true)), /header\.manifestSize/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint32(8, 0xffffffff, true)), /header\.manifestSize/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint32(8, 60000, true)), /manifest/, /truncated/);
    expectError(assemble(good(), [], undefined, (h) => h.setUint32(12, 1, true)), /header\.flags/);
  });

  it('manifest TLVs', () => {
    const m = good();
    expectError(assemble(tlv([[99, new Uint8Array(1)]])), /manifest\.tag/, /unknown tag 99/);
    expectError(assemble(tlv([[2, new TextEncoder().encode('P')], [1, new TextEncoder().encode('V')]])), /manifest\.vendor/, /out of order/);
    expectError(assemble(tlv([[1, new TextEncoder().encode('V')]])), /manifest\.product/, /required/);
    expectError(assemble(tlv([[1, new Uint8Array([0xff, 0xfe])]])), /manifest\.vendor/, /UTF-8/);
    expectError(assemble(tlv([[1, new TextEncoder().encode('V\u0007')]])), /manifest\.vendor/, /control/);
    expectError(assemble(tlv([[1, new Uint8Array(65)]])), /manifest\.vendor/, /outside/);
    expectError(assemble(tlv([[1, new Uint8Array(0)]])), /manifest\.vendor/);
    // a length that runs past the manifest
    const w = new ByteWriter().u16(1).u32(1000).bytes(new Uint8Array(3));
    expectError(assemble(w.finish()), /manifest\.vendor/, /needs 1000 bytes/);
    // bool must be 0 or 1: patch "secured" (tag 13) to 2
    const patched = m.slice();
    for (let p = 0; p < patched.length; ) {
      const dv = new DataView(patched.buffer);
      const tag = dv.getUint16(p, true);
      const len = dv.getUint32(p + 2, true);
      if (tag === 13) patched[p + 6] = 2;
      p += 6 + len;
    }
    expectError(assemble(patched), /manifest\.secured/, /0 or 1/);
  });

  it('lists and caps', () => {
    const many = (n: number) => manifest({ forbiddenVersions: Array.from({ length: n }, (_, i) => `1.0.${i}`) });
    expect(parseImage(writeImage({ signed: encodeSignedPart(many(32)), entries: [], payload: new Uint8Array(4) })).ok).toBe(true);
    expectError(writeImage({ signed: encodeSignedPart(many(33)), entries: [], payload: new Uint8Array(4) }), /manifest\.forbiddenVersions/, /at most 32/);
    const psids = manifest({ psids: Array.from({ length: 65 }, (_, i) => `P${i}`) });
    expectError(writeImage({ signed: encodeSignedPart(psids), entries: [], payload: new Uint8Array(4) }), /manifest\.psids/, /more than 64/);
    const bigPayload = manifest({ payloadSize: LIMITS.payloadMax + 1 });
    expectError(writeImage({ signed: encodeSignedPart(bigPayload), entries: [], payload: new Uint8Array(4) }), /manifest\.payloadSize/, /cap/);
  });

  it('signature block', () => {
    const signed = encodeSignedPart(manifest());
    const sig = (n: number): SigEntry => ({ type: SIG_ENTRY.SIGNATURE, alg: 1, keyId: new Uint8Array(32), signature: new Uint8Array(n) });
    const cert = (n: number): SigEntry => ({ type: SIG_ENTRY.CERTIFICATE, der: new Uint8Array(n) });
    const img = (entries: SigEntry[]) => writeImage({ signed, entries, payload: new Uint8Array(4) });
    expect(parseImage(img(Array.from({ length: 16 }, () => sig(256)))).ok).toBe(true);
    expectError(img(Array.from({ length: 17 }, () => sig(256))), /signatures\.entry\[16\]/, /more than 16/);
    expectError(img(Array.from({ length: 9 }, () => cert(100))), /signatures\.entry\[8\]/, /more than 8 certificates/);
    expectError(img([cert(40000), cert(30000)]), /signatures\.entry\[1\]\.length/, /chain exceeds/);
    expectError(img([sig(0)]), /signatures\.entry\[0\]\.length/);
    expectError(img([sig(1025)]), /signatures\.entry\[0\]\.length/);
    expectError(img([{ type: SIG_ENTRY.SIGNATURE, alg: 9, keyId: new Uint8Array(32), signature: new Uint8Array(8) }]), /algorithm/, /unknown signature algorithm 9/);
    const block = encodeSigBlock([sig(8)]);
    const badType = block.slice();
    badType[8] = 7;
    expectError(concat(signed, badType, new Uint8Array(4)), /signatures\.entry\[0\]\.type/, /unknown entry type 7/);
    const badReserved = block.slice();
    badReserved[10] = 1;
    expectError(concat(signed, badReserved, new Uint8Array(4)), /signatures\.entry\[0\]\.reserved/);
    const badMagic = block.slice();
    badMagic[0] = 0;
    expectError(concat(signed, badMagic, new Uint8Array(4)), /signatures\.magic/);
    const badSize = block.slice();
    new DataView(badSize.buffer).setUint32(4, 3, true);
    expectError(concat(signed, badSize, new Uint8Array(4)), /signatures\.blockSize/);
    new DataView(badSize.buffer).setUint32(4, LIMITS.sigBlockMax + 1, true);
    expectError(concat(signed, badSize, new Uint8Array(4)), /signatures\.blockSize/);
  });

  it('no overlapping regions, no gaps, no trailing bytes', async () => {
    const img = await smallBareImage(64);
    expectError(img.subarray(0, img.length - 1), /payload/, /truncated/);
    expectError(concat(img, new Uint8Array([0])), /payload/, /trailing/);
    expectError(img.subarray(0, HEADER_SIZE + 10), /manifest/, /truncated/);
    const r = parseImage(img);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const h = r.value;
    expect(h.manifestOffset).toBe(HEADER_SIZE);
    expect(h.sigBlockOffset).toBe(h.manifestOffset + h.manifestSize);
    expect(h.payloadOffset).toBe(h.sigBlockOffset + h.sigBlockSize);
    expect(h.payloadOffset + h.payloadSize).toBe(img.length);
    // the head parses from a prefix alone (a device authenticates before the payload arrives)
    const head = parseImageHead(img.subarray(0, h.payloadOffset), img.length);
    expect(head.ok).toBe(true);
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

