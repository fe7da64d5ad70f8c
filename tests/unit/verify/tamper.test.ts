/**
 * The tamper matrix: flipping any single byte of a small signed image, at every position, is
 * rejected, and the check that rejects it is the one that owns that region of the file.
 */
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { SIG_ENTRY } from '../../../src/core/image/layout.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import type { CheckId } from '../../../src/core/verify/report.ts';
import { DEVICE, NOW, demoTrust, smallBareImage, smallCertImage } from '../helpers/demo.ts';

type Region = { name: string; from: number; to: number; allowed: CheckId[] };

function regions(img: Uint8Array): Region[] {
  const r = parseImage(img);
  if (!r.ok) throw new Error('fixture does not parse');
  const h = r.value;
  const out: Region[] = [
    { name: 'header', from: 0, to: 16, allowed: ['format'] },
    // a manifest byte either breaks the TLV structure or survives parsing and breaks the signature
    { name: 'manifest', from: 16, to: h.sigBlockOffset, allowed: ['format', 'signature'] },
    { name: 'signature block header', from: h.sigBlockOffset, to: h.sigBlockOffset + 8, allowed: ['format'] },
  ];
  let at = h.sigBlockOffset + 8;
  for (const e of h.entries) {
    const len = e.type === SIG_ENTRY.SIGNATURE ? 36 + e.signature.length : e.der.length;
    // entry type 2 → 3 turns a certificate into a "CMS" entry: the signer's certificate vanishes (key) or the CMS fails (chain)
    out.push({ name: 'entry header', from: at, to: at + 8, allowed: ['format', 'key', 'chain'] });
    if (e.type === SIG_ENTRY.SIGNATURE) {
      // alg: unknown number → format; another known algorithm → signature (mismatched key)
      out.push({ name: 'signature algorithm', from: at + 8, to: at + 10, allowed: ['format', 'signature'] });
      out.push({ name: 'signature reserved', from: at + 10, to: at + 12, allowed: ['format'] });
      out.push({ name: 'key id', from: at + 12, to: at + 44, allowed: ['key'] });
      out.push({ name: 'signature bytes', from: at + 44, to: at + 8 + len, allowed: ['signature'] });
    } else {
      out.push({ name: 'certificate', from: at + 8, to: at + 8 + len, allowed: ['format', 'chain', 'key'] });
    }
    at += 8 + len;
  }
  out.push({ name: 'payload', from: h.payloadOffset, to: img.length, allowed: ['payload'] });
  return out;
}

async function matrix(img: Uint8Array, trustKeys: string[]) {
  const trust = await demoTrust(trustKeys);
  const base = await verifyImage(img, { trust, device: DEVICE, now: NOW });
  expect(base.verdict, 'the untampered image must verify').toBe('accept');
  const wrong: string[] = [];
  const seen = new Map<string, number>();
  for (const reg of regions(img)) {
    for (let i = reg.from; i < reg.to; i++) {
      for (const mask of [0x01, 0x80]) {
        const t = img.slice();
        t[i]! ^= mask;
        const r = await verifyImage(t, { trust, device: DEVICE, now: NOW });
        const failed = r.failed?.id;
        if (r.verdict !== 'reject' || !failed || !reg.allowed.includes(failed)) wrong.push(`byte ${i} (${reg.name}) ^${mask}: ${r.verdict} ${failed ?? ''} ${r.failed?.reason ?? ''}`);
        seen.set(`${reg.name}:${failed}`, (seen.get(`${reg.name}:${failed}`) ?? 0) + 1);
      }
    }
  }
  expect(wrong, wrong.slice(0, 20).join('\n')).toEqual([]);
  return { positions: img.length, seen };
}

describe('tamper matrix', () => {
  it('every byte of an image carrying its signer certificate', async () => {
    const img = await smallCertImage(64);
    const { positions, seen } = await matrix(img, []);
    expect(positions).toBeGreaterThan(1000);
    // each kind of region was actually exercised
    for (const k of ['header:format', 'manifest:signature', 'key id:key', 'signature bytes:signature', 'payload:payload']) expect(seen.get(k), k).toBeGreaterThan(0);
    expect([...seen.keys()].some((k) => k.startsWith('certificate:'))).toBe(true);
  }, 120_000);

  it('every byte of an image signed with a directly trusted key', async () => {
    const img = await smallBareImage(64);
    const { seen } = await matrix(img, ['signer']);
    expect(seen.get('key id:key')).toBe(64);
  }, 120_000);
});
