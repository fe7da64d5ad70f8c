/**
 * Format v2 on the device (issue #13): the emulated NIC checks each hash block the moment its last
 * byte arrives and refuses a wrong one at once (MCC 0x02), so the bytes it took before refusing end
 * inside that block; nothing is activated and the old image keeps running. The host's block check
 * (src/core/verify/block-check.ts) and the device agree on every block of every sample. v1 images
 * keep their whole-payload check at VERIFY.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { parseImage } from '../../../src/core/image/parse.ts';
import { blockPlanOf, hashBlock } from '../../../src/core/image/hash-blocks.ts';
import { badBlocks, hashBlocksWebCrypto } from '../../../src/core/verify/block-check.ts';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import type { EmulatedNic } from '../../../src/emulator/nic.ts';
import { demoCert, demoKey, DRAFT, payloadOf } from '../helpers/demo.ts';
import { I, lock, newNic, pending, running, S, sample } from './nic-helpers.ts';

const TRANSFER = 4096;

/** Sends `image` in TRANSFER-byte DATA writes; returns the MCC error and how many bytes the device took before it. */
function download(nic: EmulatedNic, image: Uint8Array, transfer = TRANSFER): { error: number; accepted: number; badBlock: number | undefined } {
  const fw = nic.firmware;
  const h = lock(nic);
  expect(fw.mcc(I.UPDATE, h, image.length)).toBe(0);
  let accepted = 0;
  for (let at = 0; at < image.length; at += transfer) {
    fw.writeBlock(h, at, image.subarray(at, at + transfer));
    const st = fw.status();
    if (st.error) {
      const badBlock = fw.badBlock();
      fw.mcc(I.CANCEL, h, 0);
      fw.mcc(I.RELEASE, h, 0);
      return { error: st.error, accepted, badBlock };
    }
    accepted = at + Math.min(transfer, image.length - at);
  }
  fw.mcc(I.VERIFY, h, 0);
  const error = fw.status().error;
  if (!error) fw.mcc(I.ACTIVATE, h, 0);
  fw.mcc(I.RELEASE, h, 0);
  return { error, accepted, badBlock: fw.badBlock() };
}

async function hostBad(image: Uint8Array): Promise<number[]> {
  const r = parseImage(image);
  if (!r.ok) throw new Error('does not parse');
  const plan = blockPlanOf(r.value)!;
  return badBlocks(plan, await hashBlocksWebCrypto({ source: image, plan })).map((b) => b.index);
}

/** A v2 image for the demo NIC in 4 KiB hash blocks, the last one short. */
async function smallBlocks(payloadSize = 5 * 4096 + 123): Promise<Uint8Array> {
  return signImage({ ...DRAFT, version: '28.41.1' }, payloadOf(payloadSize, 3), [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }], { hashBlockSize: 4096 });
}

describe('the device checks every hash block as it arrives', () => {
  it('a flipped byte in any hash block is refused at that block: the bytes taken end inside it, nothing is activated', async () => {
    for (const image of [await smallBlocks(), sample('good')]) {
      const h = parseImage(image);
      if (!h.ok) throw new Error('does not parse');
      const plan = blockPlanOf(h.value)!;
      expect(plan.count).toBeGreaterThan(1);
      for (let i = 0; i < plan.count; i++) {
        const b = hashBlock(plan, i);
        // the first, a middle and the last byte of the block
        for (const at of [b.start, (b.start + b.end) >> 1, b.end - 1]) {
          const bad = image.slice();
          bad[plan.payloadOffset + at]! ^= 0x40;
          expect(await hostBad(bad), `host, block ${i} byte ${at}`).toEqual([i]);
          const nic = await newNic();
          const r = download(nic, bad);
          expect([i, at, r.error, r.badBlock]).toEqual([i, at, 0x02, i]);
          // refused by the transfer that completed block i: what it took before ends inside block i
          const blockEnd = plan.payloadOffset + b.end;
          expect(r.accepted).toBeLessThan(blockEnd);
          expect(r.accepted + TRANSFER).toBeGreaterThanOrEqual(blockEnd);
          expect(nic.firmware.status()).toMatchObject({ state: S.IDLE, error: 0x02 });
          expect(running(nic)).toBe('28.39.1002');
          expect(pending(nic)).toBeUndefined();
        }
      }
    }
  });

  it('host and device agree on every block of every sample (and the good ones install)', async () => {
    const files = readdirSync('public/samples').filter((f) => f.endsWith('.tfw') && f !== 'big-32mib.tfw');
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const image = sample(f.replace(/\.tfw$/, ''));
      const parsed = parseImage(image);
      if (!parsed.ok) throw new Error(`${f} does not parse`);
      const plan = blockPlanOf(parsed.value);
      if (!plan) {
        expect(f).toBe('factory.tfw'); // the one v1 sample
        continue;
      }
      const host = await hostBad(image);
      const nic = await newNic();
      const r = download(nic, image);
      if (r.error === 0x02) expect([f, r.badBlock]).toEqual([f, host[0]]);
      else expect([f, host]).toEqual([f, []]); // the device took every block (or refused the head first)
      if (f === 'tampered-payload.tfw') expect([f, host, r.error]).toEqual([f, [2], 0x02]);
    }
  });

  it('works whatever the transfer size: blocks that straddle transfers, transfers that hold several blocks', async () => {
    const image = await smallBlocks();
    for (const transfer of [1000, 4096, 12288, 65536]) {
      const nic = await newNic();
      expect(download(nic, image, transfer).error, `transfer ${transfer}`).toBe(0);
      expect(pending(nic)).toBe('28.41.1');
      const bad = image.slice();
      bad[bad.length - 1]! ^= 1; // the short last block
      const nic2 = await newNic();
      const r = download(nic2, bad, transfer);
      expect([transfer, r.error, r.badBlock]).toEqual([transfer, 0x02, 5]);
    }
  });

  it('a v2 image boots after reset, and a pending bank whose hash block rotted is not booted (the old image runs)', async () => {
    const image = await smallBlocks();
    const nic = await newNic();
    expect(download(nic, image).error).toBe(0);
    await nic.reset();
    expect(running(nic)).toBe('28.41.1');
    // bank 1 now runs; a second v2 image goes into bank 0, then one bit of its hash block 3 rots
    const next = await signImage({ ...DRAFT, version: '28.41.3' }, payloadOf(5 * 4096, 9), [{ key: await demoKey('signer') }], { hashBlockSize: 4096 });
    expect(download(nic, next).error).toBe(0);
    expect(pending(nic)).toBe('28.41.3');
    const h = parseImage(next);
    if (!h.ok) throw new Error('does not parse');
    nic.flash.corrupt(nic.flash.bankAddr(0) + h.value.payloadOffset + 3 * 4096 + 17, 0x01);
    await nic.reset();
    expect(running(nic)).toBe('28.41.1');
    expect(pending(nic)).toBeUndefined();
  });

  it('v1 images keep their whole-payload check: accepted block by block, refused at VERIFY', async () => {
    const v1 = await signImage({ ...DRAFT, version: '28.41.2' }, payloadOf(40000, 5), [{ key: await demoKey('signer') }], { format: 1 });
    const nic = await newNic();
    expect(download(nic, v1).error).toBe(0);
    await nic.reset();
    expect(running(nic)).toBe('28.41.2');
    const bad = v1.slice();
    bad[bad.length - 5000]! ^= 1;
    const nic2 = await newNic();
    const r = download(nic2, bad);
    expect([r.error, r.accepted, r.badBlock]).toEqual([0x02, bad.length, undefined]);
  });
});
