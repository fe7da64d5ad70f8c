/**
 * Resuming a format v2 download (issue #13; docs/protocol.md §5.6, §8.9), driven for real through
 * the NIC firmware. The device remembers, in a flash journal, how far the download is on flash and
 * verified; QUERY tag 26 says so; RESUME_COMPONENT (0x21) re-checks what is on flash and answers
 * DOWNLOAD at the first hash block that is not verified. The same handle just goes on at
 * STATUS.received. A power cut at every transfer block, or at every flash operation, is resumed
 * with at most one hash block sent again and ends with the flash of an uncut update.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import { DeviceReset, EmulatedNic, type NicState } from '../../../src/emulator/nic.ts';
import { demoCert, demoKey, DRAFT, payloadOf } from '../helpers/demo.ts';
import { I, lock, manualClock, newNic, pending, queryTags, R, running, S, sample, update } from './nic-helpers.ts';

const TRANSFER = 4096;
const RESUME = 0x21;
const OLD = '28.39.1002';
const JOURNAL = [0x4000, 0x6000] as const;
/** NICs whose flash is compared byte for byte share one identity (newNic draws a new serial each time). */
const SAME = { identity: { serial: 'TFN0000042' } };

const le32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const headLength = (img: Uint8Array) => 16 + le32(img, 8) + le32(img, 16 + le32(img, 8) + 4);
const releaseDigest = (img: Uint8Array) => createHash('sha256').update(img.subarray(0, 16 + le32(img, 8))).digest('hex');

/** A v2 image for the demo NIC in `block`-byte hash blocks (the samples use 16 KiB). */
async function v2Image(payloadSize: number, seed: number, block = 4096, version = '28.41.1'): Promise<Uint8Array> {
  return signImage({ ...DRAFT, version }, payloadOf(payloadSize, seed), [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }], { hashBlockSize: block });
}

/** QUERY tag 26 as { releaseDigest, size, verified }, or undefined. */
function resumable(nic: EmulatedNic): { releaseDigest: string; size: number; verified: number } | undefined {
  const t = queryTags(nic).get(26);
  if (!t) return undefined;
  expect(t.length).toBe(48);
  const dv = new DataView(t.buffer, t.byteOffset);
  return { releaseDigest: Buffer.from(t.subarray(0, 32)).toString('hex'), size: Number(dv.getBigUint64(32, true)), verified: Number(dv.getBigUint64(40, true)) };
}

/** DATA from `from` to the end (or `to`), TRANSFER bytes at a time, stopping at the first device error. */
function send(nic: EmulatedNic, h: number, img: Uint8Array, from: number, to = img.length): number {
  const fw = nic.firmware;
  for (let at = from; at < to; at += TRANSFER) {
    expect(fw.writeBlock(h, at, img.subarray(at, Math.min(at + TRANSFER, to)))).toBe(R.OK);
    if (fw.status().error) return fw.status().error;
  }
  return 0;
}

/** LOCK + RESUME_COMPONENT(size): the STATUS after it (the instant timing model: INITIALIZE is over within the command). */
function resume(nic: EmulatedNic, size: number) {
  const h = lock(nic);
  expect(nic.firmware.mcc(RESUME, h, size)).toBe(R.OK);
  return { h, st: nic.firmware.status() };
}

/** VERIFY, ACTIVATE, RELEASE; the MCC error of the first that fails (0 = pending now). */
function finish(nic: EmulatedNic, h: number): number {
  const fw = nic.firmware;
  for (const i of [I.VERIFY, I.ACTIVATE]) {
    fw.mcc(i, h, 0);
    if (fw.status().error) return fw.status().error;
  }
  fw.mcc(I.RELEASE, h, 0);
  return 0;
}

/** The flash outside the journal's two sectors (their records differ in number, not in meaning). */
function flashBut(nic: EmulatedNic): Buffer {
  const all = Buffer.from(nic.flash.read(0, nic.flash.size)!);
  all.fill(0xff, JOURNAL[0], JOURNAL[1]);
  return all;
}

describe('a download the host comes back to', () => {
  it('the same handle after a cable cut: still DOWNLOAD, STATUS.received says where to go on (mid hash block too)', async () => {
    const img = sample('good');
    for (const cut of [TRANSFER * 5, 10_000, headLength(img)]) {
      const nic = await newNic();
      const h = lock(nic);
      nic.firmware.mcc(I.UPDATE, h, img.length);
      expect(send(nic, h, img, 0, cut)).toBe(0);
      // the host is back, with the handle it had (within the 60 s timeout): it asks where it was
      const st = nic.firmware.status();
      expect([st.state, st.handle, st.received]).toEqual([S.DOWNLOAD, h, cut]);
      expect(nic.firmware.writeBlock(h, cut - 1, img.subarray(cut - 1, cut))).toBe(R.BAD_PARAM); // not where it left off
      expect(send(nic, h, img, cut)).toBe(0);
      expect(finish(nic, h)).toBe(0);
      expect(await nic.reset()).toBe(1);
      expect(running(nic)).toBe('28.40.1000');
    }
  });

  it('QUERY tag 26: the release digest, the size, and the head plus whole verified hash blocks; gone once activated', async () => {
    const img = sample('good'); // 16 KiB hash blocks
    const head = headLength(img);
    const nic = await newNic();
    expect(resumable(nic)).toBeUndefined();
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, img.length);
    const seen: number[] = [];
    for (let at = 0; at < img.length; at += TRANSFER) {
      send(nic, h, img, at, Math.min(at + TRANSFER, img.length));
      const r = resumable(nic);
      expect(r?.releaseDigest).toBe(releaseDigest(img));
      expect(r?.size).toBe(img.length);
      seen.push(r!.verified);
    }
    // verified = head + k × 16 KiB, as each block completes, then the whole image
    const blocks = Math.ceil((img.length - head) / 16384);
    const expected = new Set([...Array.from({ length: blocks }, (_, k) => head + k * 16384), img.length]);
    expect(new Set(seen)).toEqual(expected);
    expect(finish(nic, h)).toBe(0);
    expect(resumable(nic)).toBeUndefined();
  });

  it('a timed-out handle keeps it: a new LOCK + RESUME_COMPONENT goes on after the verified blocks; the flash ends as after an uncut update', async () => {
    const img = sample('good');
    const uncut = await newNic(SAME);
    expect(await update(uncut, img)).toBe(0);
    const clock = manualClock();
    const nic = await newNic({ ...SAME, clock: clock.now, faults: [{ kind: 'handle-timeout' }] });
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, img.length);
    send(nic, h, img, 0, 11 * TRANSFER);
    clock.advance(1000); // the host went away: the handle times out, the flow is released
    expect(nic.firmware.status().state).toBe(S.IDLE);
    const kept = resumable(nic)!;
    expect(kept.verified).toBe(headLength(img) + 2 * 16384); // 45 056 bytes sent, two whole blocks
    const again = resume(nic, img.length);
    expect([again.st.state, again.st.error, again.st.received, again.st.componentSize]).toEqual([S.DOWNLOAD, 0, kept.verified, img.length]);
    expect(send(nic, again.h, img, again.st.received)).toBe(0);
    expect(finish(nic, again.h)).toBe(0);
    expect(flashBut(nic).equals(flashBut(uncut))).toBe(true);
    expect(await nic.reset()).toBe(1);
  });

  it('RELEASE and FORCE_HANDLE_RELEASE keep it; CANCEL discards it and RELEASE restores the fallback; UPDATE_COMPONENT discards it', async () => {
    const img = sample('good');
    const clock = manualClock();
    const nic = await newNic({ clock: clock.now });
    const fallback = Buffer.from(nic.flash.read(nic.flash.bankAddr(1), 0x20000)!);
    const start = () => {
      const h = lock(nic);
      nic.firmware.mcc(I.UPDATE, h, img.length);
      send(nic, h, img, 0, 6 * TRANSFER);
      return h;
    };
    let h = start();
    nic.firmware.mcc(I.RELEASE, h, 0); // RELEASE in DOWNLOAD is refused (§5.4): the flow goes on
    nic.firmware.mcc(I.CANCEL, h, 0);
    expect(resumable(nic)).toBeUndefined(); // cancelled: gone
    nic.firmware.mcc(I.RELEASE, h, 0);
    expect(Buffer.from(nic.flash.read(nic.flash.bankAddr(1), 0x20000)!).equals(fallback)).toBe(true); // the golden copy is back

    h = start();
    clock.advance(10_000);
    expect(nic.firmware.mcc(I.FORCE, 0, 0)).toBe(R.OK);
    expect(resumable(nic)?.verified).toBe(headLength(img) + 16384);
    // a fresh LOCK that does not resume but RELEASEs keeps it too
    h = lock(nic);
    nic.firmware.mcc(I.RELEASE, h, 0);
    expect(resumable(nic)?.verified).toBe(headLength(img) + 16384);
    // UPDATE_COMPONENT for any image starts over
    h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, img.length);
    expect(resumable(nic)).toBeUndefined();
    expect(nic.firmware.status().received).toBe(0);
  });

  it('with nothing to resume, or another size, RESUME_COMPONENT answers 0x01 and nothing changes; only the owner in LOCKED', async () => {
    const img = sample('good');
    const nic = await newNic();
    let h = lock(nic);
    expect(nic.firmware.mcc(RESUME, h, img.length)).toBe(R.OK);
    expect(nic.firmware.status()).toMatchObject({ state: S.LOCKED, error: 0x01, received: 0 });
    nic.firmware.mcc(I.UPDATE, h, img.length);
    send(nic, h, img, 0, 8 * TRANSFER);
    expect(nic.firmware.mcc(RESUME, h, img.length)).toBe(R.BAD_PARAM); // in DOWNLOAD
    nic.firmware.mcc(I.CHECK, h, 0);
    const before = Buffer.from(nic.flash.read(0, nic.flash.size)!);
    nic.firmware.status();
    // the flow is left by a reset of the emulator's host process: the NIC keeps the download
    const again = await EmulatedNic.create({ state: nic.snapshot() });
    h = lock(again);
    for (const size of [img.length - 1, img.length + 1, 0]) {
      expect(again.firmware.mcc(RESUME, h, size)).toBe(R.OK);
      expect(again.firmware.status()).toMatchObject({ state: S.LOCKED, error: 0x01 });
    }
    expect(again.firmware.mcc(RESUME, h ^ 1, img.length)).toBe(R.BAD_PARAM);
    expect(Buffer.from(again.flash.read(0, again.flash.size)!).equals(before)).toBe(true);
    expect(resumable(again)?.size).toBe(img.length);
    expect(again.firmware.mcc(RESUME, h, img.length)).toBe(R.OK);
    expect(again.firmware.status()).toMatchObject({ state: S.DOWNLOAD, error: 0 });
  });

  it('a block damaged in flash before a resume is asked for again', async () => {
    const img = await v2Image(12 * 4096 + 77, 7); // 13 hash blocks of 4 KiB
    const head = headLength(img);
    for (const damaged of [0, 3, 8]) {
      const nic = await newNic();
      const h = lock(nic);
      nic.firmware.mcc(I.UPDATE, h, img.length);
      send(nic, h, img, 0, head + 9 * 4096 + 100);
      const saved = nic.snapshot();
      const off = await EmulatedNic.create({ state: saved, start: 'boot' }); // powered off and on
      expect(resumable(off)?.verified).toBe(head + 9 * 4096);
      off.flash.corrupt(off.flash.bankAddr(1) + head + damaged * 4096 + 1234, 0x10); // a cell went bad while off
      const r = resume(off, img.length);
      expect([damaged, r.st.state, r.st.received]).toEqual([damaged, S.DOWNLOAD, head + damaged * 4096]);
      expect(send(off, r.h, img, r.st.received)).toBe(0);
      expect(finish(off, r.h)).toBe(0);
      expect(await off.reset()).toBe(1);
      expect(running(off)).toBe('28.41.1');
    }
  });

  it("a resumed download with another image's bytes is refused by digest (0x02), and another release's size is not resumed", async () => {
    const a = await v2Image(10 * 4096, 1);
    const b = await v2Image(10 * 4096, 2); // the same size and head length, another payload (and so another release)
    expect(b.length).toBe(a.length);
    expect(releaseDigest(b)).not.toBe(releaseDigest(a));
    const nic = await newNic();
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, a.length);
    send(nic, h, a, 0, headLength(a) + 4 * 4096);
    const later = await EmulatedNic.create({ state: nic.snapshot(), start: 'boot' });
    const r = resume(later, b.length);
    expect(r.st.received).toBe(headLength(a) + 4 * 4096);
    // the host believes it is sending b: the device checks each block against a's signed table
    const err = send(later, r.h, b, r.st.received);
    expect(err).toBe(0x02);
    expect(later.firmware.badBlock()).toBe(4);
    expect(later.firmware.status().state).toBe(S.LOCKED);
    later.firmware.mcc(I.CANCEL, r.h, 0);
    later.firmware.mcc(I.RELEASE, r.h, 0);
    expect([running(later), pending(later), resumable(later)]).toEqual([OLD, undefined, undefined]);
    // a bigger image is not the kept download: nothing to resume
    const c = await v2Image(11 * 4096, 3);
    const n2 = await EmulatedNic.create({ state: nic.snapshot(), start: 'boot' });
    const r2 = resume(n2, c.length);
    expect([r2.st.state, r2.st.error]).toEqual([S.LOCKED, 0x01]);
  });

  it('v1 images are not resumable (one digest for the whole payload): no tag 26, RESUME answers 0x01', async () => {
    const { buildImage } = await import('./image-builder.ts');
    const v1 = buildImage({ version: [28, 42, 0] });
    const nic = await newNic();
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, v1.length);
    send(nic, h, v1, 0, Math.min(v1.length - 1, 3 * TRANSFER));
    expect(resumable(nic)).toBeUndefined();
    const later = await EmulatedNic.create({ state: nic.snapshot(), start: 'boot' });
    expect(resume(later, v1.length).st).toMatchObject({ state: S.LOCKED, error: 0x01 });
    expect(await update(later, v1)).toBe(0);
  });
});

describe('power loss', () => {
  /**
   * A power cut while `img` streams, then the host comes back: QUERY, and LOCK + RESUME_COMPONENT if
   * tag 26 says so, else a download from 0. Returns the bytes sent again (accepted before the cut,
   * sent once more after it) and the NIC.
   */
  async function cutAndResume(img: Uint8Array, cutBlock: number): Promise<{ resent: number; nic: EmulatedNic; resumed: boolean }> {
    const nic = await newNic({ ...SAME, faults: [{ kind: 'power-loss', block: cutBlock }] });
    await expect(update(nic, img)).rejects.toBeInstanceOf(DeviceReset);
    const accepted = cutBlock * TRANSFER;
    expect(running(nic)).toBe(OLD);
    const kept = resumable(nic);
    if (!kept) {
      expect(await update(nic, img)).toBe(0);
      return { resent: accepted, nic, resumed: false };
    }
    expect([kept.releaseDigest, kept.size]).toEqual([releaseDigest(img), img.length]);
    const r = resume(nic, img.length);
    expect(r.st.state).toBe(S.DOWNLOAD);
    expect(r.st.received).toBe(kept.verified);
    expect(send(nic, r.h, img, r.st.received)).toBe(0);
    expect(finish(nic, r.h)).toBe(0);
    return { resent: accepted - r.st.received, nic, resumed: true };
  }

  for (const [name, make, block] of [
    ['good.tfw (16 KiB hash blocks)', async () => sample('good'), 16384],
    ['a small image in 4 KiB hash blocks', async () => v2Image(9 * 4096 + 500, 9), 4096],
  ] as const) {
    it(`a cut at every transfer block of ${name}: at most one hash block is sent again, and the flash ends as after an uncut update`, async () => {
      const img = await make();
      const uncut = await newNic(SAME);
      expect(await update(uncut, img)).toBe(0);
      const want = flashBut(uncut);
      const transfers = Math.ceil(img.length / TRANSFER);
      const resent: number[] = [];
      for (let n = 0; n < transfers; n++) {
        const { resent: again, nic, resumed } = await cutAndResume(img, n);
        // the first transfer carries the head: cut there, nothing was accepted and nothing is kept
        expect([n, resumed]).toEqual([n, n > 0]);
        expect(again, `cut at transfer ${n}`).toBeLessThanOrEqual(block);
        expect(again).toBeGreaterThanOrEqual(0);
        resent.push(again);
        expect(flashBut(nic).equals(want), `cut at transfer ${n}: flash differs from an uncut update`).toBe(true);
        expect(await nic.reset()).toBe(1);
      }
      console.log(`${name}: bytes sent again after a cut at each of ${transfers} transfers: ${resent.join(' ')}`);
    }, 60_000);
  }

  it('a cut at every flash operation of a download, a timeout, a resume and its re-check: the NIC always boots the old or new image, and the update completes', async () => {
    const img = await v2Image(9 * 4096 + 500, 11);
    const V = '28.41.1';
    /** The whole story on one NIC; throws DeviceReset at the cut. */
    const story = async (nic: EmulatedNic, clock: ReturnType<typeof manualClock>) => {
      const run = <T>(phase: string, fn: Parameters<EmulatedNic['run']>[1]) => nic.run(phase, fn as never) as Promise<T>;
      const h = await run<number>('mcc:1', (fw) => {
        fw.mcc(I.QUERY, 0, 0);
        const x = fw.status().handle;
        fw.mcc(I.LOCK, x, 0);
        return x;
      });
      await run('mcc:3', (fw) => fw.mcc(I.UPDATE, h, img.length));
      for (let at = 0, n = 0; at < 5 * 4096 + 3000; at += TRANSFER, n++) await run('block', (fw) => fw.writeBlock(h, at, img.subarray(at, at + TRANSFER)));
      clock.advance(1000); // timed out
      await finishFrom(nic, run);
    };
    const finishFrom = async (nic: EmulatedNic, run: <T>(phase: string, fn: Parameters<EmulatedNic['run']>[1]) => Promise<T>) => {
      const h2 = await run<number>('mcc:1', (fw) => {
        fw.mcc(I.QUERY, 0, 0);
        const x = fw.status().handle;
        fw.mcc(I.LOCK, x, 0);
        return x;
      });
      const from = await run<number>(`mcc:${RESUME}`, (fw) => (fw.mcc(RESUME, h2, img.length), fw.status().error ? -1 : fw.status().received));
      if (from < 0) {
        await run('mcc:2', (fw) => fw.mcc(I.RELEASE, h2, 0));
        expect(await update(nic, img)).toBe(0);
        return;
      }
      for (let at = from; at < img.length; at += TRANSFER) await run('block', (fw) => fw.writeBlock(h2, at, img.subarray(at, Math.min(at + TRANSFER, img.length))));
      for (const i of [I.VERIFY, I.ACTIVATE, I.RELEASE]) await run(`mcc:${i}`, (fw) => fw.mcc(i, h2, 0));
      expect(nic.firmware.status().error).toBe(0);
    };
    const countClock = manualClock();
    const clean = await newNic({ clock: countClock.now, faults: [{ kind: 'handle-timeout' }] });
    const ops0 = clean.flash.stats.writes + clean.flash.stats.erases;
    await story(clean, countClock);
    const total = clean.flash.stats.writes + clean.flash.stats.erases - ops0;
    expect(pending(clean)).toBe(V);
    const outcomes: string[] = [];
    for (let n = 1; n <= total; n++) {
      const clock = manualClock();
      const nic = await newNic({ clock: clock.now, faults: [{ kind: 'handle-timeout' }, { kind: 'power-loss', flashOp: n }] });
      try {
        await story(nic, clock);
        outcomes.push(`${n}:uncut`);
      } catch (e) {
        expect(e, `op ${n}`).toBeInstanceOf(DeviceReset);
        // cut after ACTIVATE's record (its journal discard, RELEASE): the reboot applies the new image
        if (running(nic) === V) {
          expect([n, nic.firmware.bootStatus(), resumable(nic)]).toEqual([n, 1, undefined]);
          outcomes.push(`${n}:applied`);
          continue;
        }
        expect([n, running(nic), nic.firmware.bootStatus()]).toEqual([n, OLD, 0]);
        outcomes.push(`${n}:${resumable(nic) ? `resume@${resumable(nic)!.verified}` : 'restart'}`);
        // the host comes back: resume if the device kept the download, else from 0
        await finishFrom(nic, <T>(phase: string, fn: Parameters<EmulatedNic['run']>[1]) => nic.run(phase, fn as never) as Promise<T>);
      }
      expect(pending(nic), `op ${n}`).toBe(V);
      expect(await nic.reset()).toBe(1);
      expect(running(nic)).toBe(V);
    }
    expect(outcomes.some((o) => o.includes('resume@'))).toBe(true);
    console.log(`power cut at each of ${total} flash operations: ${outcomes.join(' ')}`);
  }, 120_000);
});

describe('the journal', () => {
  it('wears evenly: 60 hash blocks fill one sector (32 slots) and move on to the other; a resume after that still works', async () => {
    const img = await v2Image(59 * 4096 + 10, 5);
    const nic = await newNic();
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, img.length);
    const erasesBefore = nic.flash.stats.erases;
    send(nic, h, img, 0, img.length - 2 * TRANSFER);
    expect(nic.flash.stats.erases - erasesBefore).toBe(1); // the second sector, once; the bank was erased by UPDATE_COMPONENT
    const magic = (a: number) => new TextDecoder().decode(nic.flash.read(a, 4));
    expect([magic(0x4000), magic(0x5000)]).toEqual(['TFJR', 'TFJR']);
    const later = await EmulatedNic.create({ state: nic.snapshot(), start: 'boot' });
    const r = resume(later, img.length);
    expect(r.st.received).toBe(resumable(later)!.verified);
    expect(send(later, r.h, img, r.st.received)).toBe(0);
    expect(finish(later, r.h)).toBe(0);
  });
});

describe('plain DFU (dfu-util) with a kept download', () => {
  it('a plain DFU download starts from 0, discards the kept download, and installs', async () => {
    const host = await import('../emulator/host.ts');
    const img = sample('good');
    const nic = await newNic();
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, img.length);
    send(nic, h, img, 0, 9 * TRANSFER);
    const state: NicState = nic.snapshot();
    const dev = await host.openDfu(await host.newDevice({ state, start: 'boot' }));
    expect(host.tlvs(await host.query(dev)).has(26)).toBe(true);
    const dfu = await host.detachToDfu(dev);
    const r = await host.dfuDownload(dfu, new Uint8Array(img));
    expect(r.final).toMatchObject({ status: host.ST.OK, state: host.S.dfuIDLE });
    const q = host.tlvs(await host.query(dfu));
    expect(q.has(26)).toBe(false);
    expect(host.version(await host.query(dfu), 2)).toBe('28.40.1000');
  });
});
