/**
 * The device's own image parser and policy (wasm/firmware/image.ts, update.ts) under mutation,
 * through the real MCC flow: no mutation traps the firmware or is accepted — except inside the
 * carried certificate, which the device ignores by design (certificates are the host's business;
 * the device checks the raw signature against the keys its running image embeds).
 */
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { SIG_ENTRY } from '../../../src/core/image/layout.ts';
import { I, lock, newNic, sample, update } from './nic-helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

describe('device parser fuzz', () => {
  it(`1500 single-byte mutations and truncations are rejected without a trap (seed ${SEED})`, async () => {
    const good = sample('good');
    const p = parseImage(good);
    if (!p.ok) throw new Error('parse');
    // where the certificate entry's value lies (the device ignores its content)
    let at = p.value.sigBlockOffset + 8;
    let certFrom = -1;
    let certTo = -1;
    for (const e of p.value.entries) {
      const len = e.type === SIG_ENTRY.SIGNATURE ? 36 + e.signature.length : e.der.length;
      if (e.type === SIG_ENTRY.CERTIFICATE) [certFrom, certTo] = [at + 8, at + 8 + len];
      at += 8 + len;
    }
    let s = SEED >>> 0 || 1;
    const rnd = (n: number) => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s % n;
    };
    const nic = await newNic();
    const wrong: string[] = [];
    const outcomes = new Map<number, number>();
    for (let i = 0; i < 1500; i++) {
      let img: Uint8Array;
      let where: number;
      if (i % 10 === 0) {
        where = rnd(good.length);
        img = good.slice(0, where); // truncated
      } else {
        where = rnd(p.value.payloadOffset + 256); // mostly the head, a little payload
        img = good.slice();
        img[where] = (img[where]! + 1 + rnd(255)) & 0xff;
      }
      let code: number;
      try {
        code = await update(nic, img);
      } catch (e) {
        wrong.push(`#${i} byte ${where}: threw ${(e as Error).message}`);
        continue;
      }
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      const inCert = where >= certFrom && where < certTo && img.length === good.length;
      if (code === 0) {
        if (!inCert) wrong.push(`#${i} byte ${where}: ACCEPTED`);
        const h = lock(nic); // drop the pending image for the next round (REACTIVATE_PREVIOUS needs the handle, S8)
        nic.firmware.mcc(I.REACTIVATE, h, 0);
        nic.firmware.mcc(I.RELEASE, h, 0);
      }
      if (nic.firmware.status().state !== 0) wrong.push(`#${i}: left in state ${nic.firmware.status().state}`);
    }
    console.log(`device fuzz: ${JSON.stringify(Object.fromEntries([...outcomes].map(([k, v]) => [`0x${k.toString(16)}`, v])))}`);
    expect(wrong.slice(0, 20), wrong.slice(0, 20).join('\n')).toEqual([]);
    expect(outcomes.get(0x08)).toBeGreaterThan(0);
    expect(outcomes.get(0x05)).toBeGreaterThan(0);
  }, 120_000);
});
