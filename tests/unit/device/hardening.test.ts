/**
 * Issue #10 on the device: what a validly signed image may not do to the NIC (hardening spec
 * S1–S5), and who may change the update flow (S8). Images are built byte by byte
 * (image-builder.ts) so the device is shown refusing what a host would never send. Expected codes
 * come from docs/protocol.md §6 and the spec, not from the code.
 */
import { describe, expect, it } from 'vitest';
import { EmulatedNic } from '../../../src/emulator/nic.ts';
import { buildImage, demoKey, otherSpki } from './image-builder.ts';
import { I, R, S, lock, manualClock, newNic, pending, queryTags, running, update } from './nic-helpers.ts';

const u32At = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getUint32(0, true) : undefined);
const fusedSvn = (nic: EmulatedNic) => u32At(queryTags(nic).get(11));
const imageSvn = (nic: EmulatedNic) => u32At(queryTags(nic).get(12));

/** Installs `image` and resets into it. */
async function install(nic: EmulatedNic, image: Uint8Array): Promise<void> {
  expect(await update(nic, image)).toBe(0);
  expect(await nic.reset()).toBe(1);
}

/** The same NIC with its fuses replaced (a test-model edit: real fuses never un-burn). */
async function withFuses(nic: EmulatedNic, svn: number): Promise<EmulatedNic> {
  const s = nic.snapshot();
  const fuses = new Uint8Array(8);
  for (let i = 0; i < svn; i++) fuses[i >> 3]! |= 1 << (i & 7);
  // resume: the NIC keeps running, so nothing raises the fuses back
  return EmulatedNic.create({ state: { ...s, fuses } });
}

describe('S1 security version: capped at the fuse count, floored by the running image', () => {
  for (const [what, f] of [
    ['SVN 65', { svn: 65 }],
    ['SVN 100', { svn: 100 }],
    ['SVN 2^32-1', { svn: 0xffffffff }],
    ['min SVN 65 (SVN 65)', { svn: 65, minSvn: 65 }],
    ['min SVN 2^32-1 (SVN 64)', { svn: 64, minSvn: 0xffffffff }],
  ] as const) {
    it(`${what} is a format error (0x08)`, async () => {
      const nic = await newNic();
      expect(await update(nic, buildImage(f))).toBe(0x08);
      expect(pending(nic)).toBeUndefined();
    });
  }

  it('SVN 64, the last fuse, installs and burns all 64 fuses', async () => {
    const nic = await newNic();
    await install(nic, buildImage({ svn: 64 }));
    expect(fusedSvn(nic)).toBe(64);
  });

  it('after an image with SVN N runs, SVN N-1 is refused (0x19) even with the fuses lower; SVN N installs', async () => {
    const nic = await newNic();
    await install(nic, buildImage({ svn: 5 }));
    expect([fusedSvn(nic), imageSvn(nic)]).toEqual([5, 5]);
    const lagging = await withFuses(nic, 2);
    expect([fusedSvn(lagging), imageSvn(lagging)]).toEqual([2, 5]);
    expect(await update(lagging, buildImage({ svn: 4, version: [28, 42, 1] }))).toBe(0x19);
    expect(await update(lagging, buildImage({ svn: 3, version: [28, 42, 1] }))).toBe(0x19);
    expect(await update(lagging, buildImage({ svn: 5, version: [28, 42, 1] }))).toBe(0);
  });

  it('the running image’s minimum SVN floors the next image (0x19 below it)', async () => {
    const nic = await newNic();
    await install(nic, buildImage({ svn: 6, minSvn: 6 }));
    const lagging = await withFuses(nic, 2);
    expect(await update(lagging, buildImage({ svn: 5, version: [28, 42, 1] }))).toBe(0x19);
  });

  it('boot-time anti-rollback: an intact image below the fused SVN never boots', async () => {
    // bank 0: the factory image (SVN 2), active; bank 1: an SVN-3 image, pending
    const nic = await newNic();
    expect(await update(nic, buildImage({ svn: 3 }))).toBe(0);
    const high = await withFuses(nic, 3);
    high.flash.corrupt(high.flash.bankAddr(1) + 3000, 0x01); // and the SVN-3 image rots
    // the pending image is refused (damaged), and the intact factory image is below the fuses
    expect(await high.reset()).toBe(6);
  });
});

describe('S2 nextKeys: well-formed, and at least one key the device can verify', () => {
  const spki = demoKey('signer').spki;
  const edit = (f: (b: Uint8Array) => Uint8Array) => f(spki.slice());
  const garbage: [string, Uint8Array][] = [
    ['random bytes', Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff)],
    ['one byte', Uint8Array.of(0x30)],
    ['a trailing byte after the SPKI', Uint8Array.of(...spki, 0)],
    ['truncated by one byte', spki.subarray(0, spki.length - 1)],
    ['indefinite outer length', edit((b) => Uint8Array.of(0x30, 0x80, ...b.subarray(4), 0, 0))],
    ['non-minimal AlgorithmIdentifier length (81 0d)', edit((b) => { const inner = b.subarray(4); const alg = Uint8Array.of(0x30, 0x81, 0x0d, ...inner.subarray(2)); return Uint8Array.of(0x30, 0x82, (alg.length >> 8) & 0xff, alg.length & 0xff, ...alg); })],
    ['BIT STRING with 8 unused bits', edit((b) => { b[b.indexOf(0x03, 17) + 4] = 8; return b; })],
    ['OID with a leading 0x80 subidentifier octet', edit((b) => { b[8] = 0x80; return b; })],
    ['SEQUENCE tag replaced by SET', edit((b) => { b[0] = 0x31; return b; })],
    ['BIT STRING tag replaced by OCTET STRING', edit((b) => { b[19] = 0x04; return b; })],
    ['parameters followed by a second element', edit((b) => { const alg = Uint8Array.of(0x30, 0x0f, ...b.subarray(6, 19), 0x05, 0x00); const rest = b.subarray(19); const body = Uint8Array.of(...alg, ...rest); return Uint8Array.of(0x30, 0x82, body.length >> 8, body.length & 0xff, ...body); })],
  ];
  for (const [what, bytes] of garbage) {
    it(`a nextKeys entry that is ${what} is a format error (0x08), even next to a good key`, async () => {
      const nic = await newNic();
      expect(await update(nic, buildImage({ nextKeys: [spki, bytes] }))).toBe(0x08);
    });
  }

  const unusable: [string, Uint8Array[] | undefined][] = [
    ['absent', undefined],
    ['only RSA-3072', [otherSpki('rsa-3072')]],
    ['only RSA-2048 with e = 3', [otherSpki('rsa-2048-e3')]],
    ['only EC P-256', [otherSpki('ec-p256')]],
    ['only Ed25519', [otherSpki('ed25519')]],
    ['EC and Ed25519', [otherSpki('ec-p256'), otherSpki('ed25519')]],
  ];
  for (const [what, keys] of unusable) {
    it(`nextKeys ${what}: refused as a lock-out (0x07), accepted with finalImage`, async () => {
      const nic = await newNic();
      expect(await update(nic, buildImage({ nextKeys: keys }))).toBe(0x07);
      expect(pending(nic)).toBeUndefined();
      expect(await update(nic, buildImage({ nextKeys: keys, finalImage: 1 }))).toBe(0);
    });
  }

  it('finalImage must be 1 when present (0 and 2 are format errors)', async () => {
    const nic = await newNic();
    expect(await update(nic, buildImage({ finalImage: 0 }))).toBe(0x08);
    expect(await update(nic, buildImage({ finalImage: 2 }))).toBe(0x08);
  });

  it('a usable key next to EC and RSA-3072 keys is enough', async () => {
    const nic = await newNic();
    expect(await update(nic, buildImage({ nextKeys: [otherSpki('ec-p256'), otherSpki('rsa-3072'), spki] }))).toBe(0);
  });

  it('a final image installs, and after it the device takes no further update (the documented opt-in)', async () => {
    const nic = await newNic();
    await install(nic, buildImage({ nextKeys: undefined, finalImage: 1 }));
    expect(queryTags(nic).get(14)!.length).toBe(0);
    expect(await update(nic, buildImage({ version: [28, 42, 0] }))).toBe(0x04);
  });

  it('QUERY tag 25 states the verifiable algorithms: bit 0 = RSA-2048 PKCS#1 v1.5 SHA-256', async () => {
    const nic = await newNic();
    expect(queryTags(nic).get(25)).toEqual(Uint8Array.of(1, 0, 0, 0));
  });

  it('key rotation on the device: after an image whose nextKeys hold only the next signer, the old signer is refused (0x04), the new one accepted', async () => {
    const nic = await newNic();
    const next = demoKey('next-signer');
    await install(nic, buildImage({ nextKeys: [next.spki] }));
    expect(Buffer.from(queryTags(nic).get(14)!)).toEqual(Buffer.from(next.keyId));
    expect(await update(nic, buildImage({ version: [28, 42, 0] }))).toBe(0x04);
    expect(await update(nic, buildImage({ version: [28, 42, 0], nextKeys: [next.spki], signers: [{ key: next }] }))).toBe(0);
    await nic.reset();
    expect(running(nic)).toBe('28.42.0');
  });
});

describe('S3 signatures: every held key must verify, at least one must, unknown keys are ignored', () => {
  const signer = demoKey('signer');
  const next = demoKey('next-signer');
  const unknown = demoKey('unknown');
  const cases: [string, { key: ReturnType<typeof demoKey>; corrupt?: boolean }[], number][] = [
    ['signer + next signer (both held)', [{ key: signer }, { key: next }], 0],
    ['signer + an unknown key', [{ key: signer }, { key: unknown }], 0],
    ['an unknown key first, then the signer', [{ key: unknown }, { key: signer }], 0],
    ['an unknown key with a bad signature, then the signer', [{ key: unknown, corrupt: true }, { key: signer }], 0],
    ['signer good, next signer bad', [{ key: signer }, { key: next, corrupt: true }], 0x05],
    ['signer bad, next signer good', [{ key: signer, corrupt: true }, { key: next }], 0x05],
    ['only an unknown key', [{ key: unknown }], 0x04],
  ];
  for (const [what, signers, code] of cases) {
    it(`${what} → 0x${code.toString(16).padStart(2, '0')}`, async () => {
      const nic = await newNic();
      expect(await update(nic, buildImage({ signers }))).toBe(code);
    });
  }
});

describe('S4 sequence (tag 10) is optional and ignored', () => {
  it('images with and without a sequence install', async () => {
    const nic = await newNic();
    expect(await update(nic, buildImage({}))).toBe(0);
    const again = await newNic();
    expect(await update(again, buildImage({ sequence: 0xffffffff }))).toBe(0);
  });
});

describe('S5 release notes: valid UTF-8, no controls, no bidi overrides', () => {
  const ok = ['Fixes a link flap.\r\n\tSee KB 42.', 'Über-fix: 100 % — ✓ 🚀', 'Arabic: مرحبا (no controls)'];
  for (const text of ok) {
    it(`accepted: ${JSON.stringify(text)}`, async () => {
      const nic = await newNic();
      expect(await update(nic, buildImage({ notes: new TextEncoder().encode(text) }))).toBe(0);
    });
  }
  const bad: [string, number[]][] = [
    ['NUL', [0x41, 0x00]],
    ['ESC (a terminal escape)', [0x1b, 0x5b, 0x32, 0x4a]],
    ['BS', [0x41, 0x08]],
    ['DEL', [0x7f]],
    ['C1 NEL U+0085', [0xc2, 0x85]],
    ['C1 CSI U+009B', [0xc2, 0x9b]],
    ['overlong "/" (C0 AF)', [0xc0, 0xaf]],
    ['overlong 3-byte (E0 80 AF)', [0xe0, 0x80, 0xaf]],
    ['surrogate U+D800 (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ['F5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
    ['truncated sequence (E2 82)', [0x41, 0xe2, 0x82]],
    ['stray continuation byte', [0x80]],
    ['RLO U+202E', [0xe2, 0x80, 0xae]],
    ['LRE U+202A', [0xe2, 0x80, 0xaa]],
    ['LRI U+2066', [0xe2, 0x81, 0xa6]],
    ['PDI U+2069', [0xe2, 0x81, 0xa9]],
  ];
  for (const [what, bytes] of bad) {
    it(`refused (0x08): ${what}`, async () => {
      const nic = await newNic();
      expect(await update(nic, buildImage({ notes: Uint8Array.from([0x4f, 0x4b, 0x20, ...bytes]) }))).toBe(0x08);
    });
  }
});

describe('S8 the update handle: REACTIVATE_PREVIOUS and FORCE_HANDLE_RELEASE', () => {
  /** A NIC with an image pending, on a manual clock. */
  async function pendingNic(opts: Parameters<typeof newNic>[0] = {}) {
    const clock = manualClock();
    const nic = await newNic({ clock: clock.now, ...opts });
    expect(await update(nic, buildImage({}))).toBe(0);
    return { nic, fw: nic.firmware, clock };
  }

  it('REACTIVATE_PREVIOUS without a handle (no owner): BAD_PARAM, the image stays pending', async () => {
    const { nic, fw } = await pendingNic();
    expect(fw.mcc(I.REACTIVATE, 0, 0)).toBe(R.BAD_PARAM);
    expect(pending(nic)).toBe('28.41.1000');
  });

  it('REACTIVATE_PREVIOUS with a wrong handle: BAD_PARAM, nothing changes', async () => {
    const { nic, fw } = await pendingNic();
    const h = lock(nic);
    expect(fw.mcc(I.REACTIVATE, h ^ 1, 0)).toBe(R.BAD_PARAM);
    expect(fw.mcc(I.REACTIVATE, 0, 0)).toBe(R.BAD_PARAM);
    expect(pending(nic)).toBe('28.41.1000');
    expect(fw.status().state).toBe(S.LOCKED);
  });

  it('REACTIVATE_PREVIOUS with the owner’s handle in LOCKED undoes the pending image', async () => {
    const { nic, fw } = await pendingNic();
    const h = lock(nic);
    expect(fw.mcc(I.REACTIVATE, h, 0)).toBe(R.OK);
    expect(fw.status().error).toBe(0);
    expect(pending(nic)).toBeUndefined();
    expect(fw.mcc(I.REACTIVATE, h, 0)).toBe(R.OK);
    expect(fw.status().error).toBe(0x01); // nothing pending any more
    expect(fw.mcc(I.RELEASE, h, 0)).toBe(R.OK);
    await nic.reset();
    expect(running(nic)).toBe('28.39.1002');
  });

  it('REACTIVATE_PREVIOUS with the owner’s handle outside LOCKED (reading back the running image): BAD_PARAM', async () => {
    const { nic, fw } = await pendingNic();
    const h = lock(nic);
    expect(fw.mcc(I.READ, h, 0)).toBe(R.OK);
    expect(fw.mcc(I.REACTIVATE, h, 0)).toBe(R.BAD_PARAM);
    expect(pending(nic)).toBe('28.41.1000');
  });

  /** Owner in LOCKED, or in INITIALIZE for 82 s (a 64 MiB erase under `slow` full-speed timing). */
  async function owned(inErase: boolean) {
    const clock = manualClock();
    const nic = await newNic({ clock: clock.now, ...(inErase ? { bankSize: 64 * 1024 * 1024, timing: 'full-speed' as const, faults: [{ kind: 'slow' as const }] } : {}) });
    const h = lock(nic);
    if (inErase) {
      expect(nic.firmware.mcc(I.UPDATE, h, 64 * 1024 * 1024)).toBe(R.OK);
      expect(nic.firmware.status().state).toBe(S.INITIALIZE);
    }
    return { nic, fw: nic.firmware, clock, h };
  }

  it('FORCE_HANDLE_RELEASE with no owner: OK, nothing changes', async () => {
    const nic = await newNic();
    expect(nic.firmware.mcc(I.FORCE, 0, 0)).toBe(R.OK);
    expect(nic.firmware.status().state).toBe(S.IDLE);
  });

  for (const handle of ['no handle', 'a wrong handle'] as const) {
    it(`FORCE_HANDLE_RELEASE with ${handle}: refused (RES_NOT_AVLBL) while the owner is active (< 10 s), honoured after 10 s of silence`, async () => {
      const { fw, clock, h } = await owned(false);
      const sent = handle === 'no handle' ? 0 : h ^ 0x5a5a;
      clock.advance(9_999);
      expect(fw.mcc(I.FORCE, sent, 0)).toBe(R.RES_NOT_AVLBL);
      expect(fw.status()).toMatchObject({ state: S.LOCKED, handle: h });
      // the refused FORCE did not count as the owner's command: the silence keeps running
      clock.advance(1);
      expect(fw.mcc(I.FORCE, sent, 0)).toBe(R.OK);
      expect(fw.status().state).toBe(S.IDLE);
      expect(fw.mcc(I.CHECK, h, 0)).toBe(R.BAD_PARAM); // the old owner's handle is gone
    });
  }

  it('FORCE_HANDLE_RELEASE: an owner that keeps talking keeps its handle', async () => {
    const { fw, clock, h } = await owned(false);
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000);
      expect(fw.mcc(I.CHECK, h, 0)).toBe(R.OK);
      expect(fw.mcc(I.FORCE, 0, 0)).toBe(R.RES_NOT_AVLBL);
    }
    expect(fw.status().state).toBe(S.LOCKED);
  });

  it('REACTIVATE_PREVIOUS with the owner’s handle during the erase (INITIALIZE): BAD_PARAM', async () => {
    const { fw, h } = await owned(true);
    expect(fw.mcc(I.REACTIVATE, h, 0)).toBe(R.BAD_PARAM);
    expect(fw.status().state).toBe(S.INITIALIZE);
  });

  it('FORCE_HANDLE_RELEASE during the erase (INITIALIZE): refused even after 10 s of silence', async () => {
    const { fw, clock } = await owned(true);
    clock.advance(15_000);
    expect(fw.status().state).toBe(S.INITIALIZE);
    expect(fw.mcc(I.FORCE, 0, 0)).toBe(R.RES_NOT_AVLBL);
    expect(fw.status().state).toBe(S.INITIALIZE);
    // a host that never comes back loses the flow to the 60 s handle timeout, erase or not
    clock.advance(50_000);
    expect(fw.mcc(I.FORCE, 0, 0)).toBe(R.OK);
    expect(fw.status().state).toBe(S.IDLE);
  });
});

describe('the variant list (image-variants.ts) a host-side agreement test can share', () => {
  it('every variant gets its declared MCC code from the device', async () => {
    const { imageVariants, variantImage } = await import('./image-variants.ts');
    const got: string[] = [];
    const want: string[] = [];
    for (const v of imageVariants()) {
      const nic = await newNic();
      got.push(`${v.rule} ${v.name}: 0x${(await update(nic, variantImage(v))).toString(16)}`);
      want.push(`${v.rule} ${v.name}: 0x${v.device.toString(16)}`);
    }
    expect(got).toEqual(want);
  });
});
