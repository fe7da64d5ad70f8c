/**
 * The NIC firmware tested like hardware: driven through its MCC interface on emulated flash,
 * outcomes read back from QUERY and STATUS. Expected values come from the MCC tables
 * (reference/mstflint-secure-update.md §1.3–1.9) and docs/protocol.md, not from the code.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DeviceReset } from '../../../src/emulator/nic.ts';
import { I, R, S, lock, manualClock, newNic, pending, queryTags, running, sample, update } from './nic-helpers.ts';

const OLD = '28.39.1002';
const NEW = '28.40.1000';

describe('boot and identity', () => {
  it('boots the factory image and reports the flint q fields', async () => {
    const nic = await newNic();
    const q = queryTags(nic);
    expect(running(nic)).toBe(OLD);
    expect(pending(nic)).toBeUndefined();
    expect(new TextDecoder().decode(q.get(3))).toBe('TF_0000000001');
    expect(new DataView(q.get(4)!.buffer, q.get(4)!.byteOffset).getUint32(0, true)).toBe(4129);
    expect(new DataView(q.get(11)!.buffer, q.get(11)!.byteOffset).getUint32(0, true)).toBe(2); // fuses follow the running image's SVN
    expect(q.get(14)!.length).toBe(64); // two embedded keys (signer, next-signer)
    expect(nic.firmware.status().bootStatus).toBe(0);
  });
});

describe('device decisions on every sample (explicit MCC flow)', () => {
  const cases: [string, number][] = [
    ['good', 0x00],
    ['unsigned', 0x06],
    ['tampered-payload', 0x02],
    ['tampered-manifest', 0x05],
    ['wrong-psid', 0x03],
    ['forbidden-version', 0x0f],
    ['downgrade', 0x19],
    ['unknown-key', 0x04],
    ['untrusted-chain', 0x04],
    ['not-secured', 0x0a],
    ['cms-signed', 0x00],
    // the device has no trusted clock: expiry is the host's check (docs/protocol.md)
    ['expired', 0x00],
  ];
  for (const [name, code] of cases) {
    it(`${name} → MCC error 0x${code.toString(16).padStart(2, '0')}`, async () => {
      const nic = await newNic();
      const before = nic.snapshot();
      const err = await update(nic, sample(name));
      expect(err).toBe(code);
      if (code === 0) {
        expect(pending(nic)).toBe(name === 'factory' ? OLD : NEW);
        expect(running(nic)).toBe(OLD);
      } else {
        // a rejected image changes nothing the device would boot: boot records, identity and the running bank are byte-identical
        expect(pending(nic)).toBeUndefined();
        const after = nic.snapshot();
        const page = (s: typeof before, i: number) => Buffer.from(s.flash.find(([n]) => n === i)?.[1] ?? new Uint8Array(0));
        // the system area up to the journal (boot records, identity); the download journal at 0x4000
        // logs a refused v2 download's progress and its discard (CANCEL), which the boot never runs
        expect(page(after, 0).subarray(0, 0x4000).equals(page(before, 0).subarray(0, 0x4000))).toBe(true);
        for (let i = 1; i <= 2; i++) expect(page(after, i).equals(page(before, i)), `bank 0 page ${i}`).toBe(true);
      }
      expect(nic.firmware.status().state).toBe(S.IDLE);
    });
  }
});

describe('pending reset, activation, re-activation, readback', () => {
  it('an activated image is pending until reset, then runs; a second update waits for the reset', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    expect(pending(nic)).toBe(NEW);
    // BLOCKED_PENDING_RESET (§6.2)
    expect(await update(nic, sample('good'))).toBe(0x09);
    expect(await nic.reset()).toBe(1); // applied
    expect(running(nic)).toBe(NEW);
    expect(pending(nic)).toBeUndefined();
    // UPLOAD (DFU readback) returns exactly the new image
    const img = sample('good');
    const back = new Uint8Array(img.length);
    for (let at = 0; at < img.length; ) {
      const part = nic.firmware.upload(at, 4096);
      if (part.length === 0) break;
      back.set(part, at);
      at += part.length;
    }
    expect(Buffer.from(back).equals(Buffer.from(img))).toBe(true);
    expect(nic.firmware.upload(img.length, 4096).length).toBe(0);
  });

  it('re-activation (0x20, with the owner\'s handle in LOCKED) drops a pending image; the old one keeps running after reset', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    const h = lock(nic);
    expect(nic.firmware.mcc(I.REACTIVATE, h, 0)).toBe(R.OK);
    expect(nic.firmware.mcc(I.RELEASE, h, 0)).toBe(R.OK);
    expect(pending(nic)).toBeUndefined();
    await nic.reset();
    expect(running(nic)).toBe(OLD);
  });

  it('READ_COMPONENT and READ_PENDING_COMPONENT read the running and the pending bank', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    const h = lock(nic);
    const fw = nic.firmware;
    expect(fw.mcc(I.READ, h, 0)).toBe(R.OK);
    expect(fw.status().state).toBe(S.UPLOAD);
    expect(Buffer.from(fw.readBlock(h, 0, 4096)).equals(Buffer.from(sample('factory').subarray(0, 4096)))).toBe(true);
    expect(fw.mcc(I.CANCEL, h, 0)).toBe(R.OK);
    expect(fw.mcc(I.READ_PENDING, h, 0)).toBe(R.OK);
    expect(fw.status().state).toBe(S.UPLOAD_PENDING);
    expect(Buffer.from(fw.readBlock(h, 0, 4096)).equals(Buffer.from(sample('good').subarray(0, 4096)))).toBe(true);
    expect(fw.mcc(I.RELEASE, h, 0)).toBe(R.OK);
  });

  it('a new image brings the keys the next update is checked with (key rotation)', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    await nic.reset();
    const ids = queryTags(nic).get(14)!;
    const { createHash } = await import('node:crypto');
    const { parsePem } = await import('../../../src/core/crypto/pem.ts');
    const spki = (n: string) => parsePem(readFileSync(`src/assets/demo-keys/${n}/pubkey.pem`, 'utf8')).blocks[0]!.der;
    expect(Buffer.from(ids.subarray(0, 32)).toString('hex')).toBe(createHash('sha256').update(spki('signer')).digest('hex'));
    expect(Buffer.from(ids.subarray(32, 64)).toString('hex')).toBe(createHash('sha256').update(spki('next-signer')).digest('hex'));
  });
});

describe('MCC instruction × state (register status and next state)', () => {
  type Row = { from: string; instr: keyof typeof I; result: number; to: number };
  // Written from reference §1.9 (legal transitions) and docs/protocol.md: illegal → R_BAD_PARAM, state unchanged.
  const rows: Row[] = [
    { from: 'IDLE', instr: 'RELEASE', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'UPDATE', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'VERIFY', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'ACTIVATE', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'READ', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'CANCEL', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'CHECK', result: R.BAD_PARAM, to: S.IDLE },
    { from: 'IDLE', instr: 'FORCE', result: R.OK, to: S.IDLE },
    { from: 'LOCKED', instr: 'LOCK', result: R.RES_NOT_AVLBL, to: S.LOCKED },
    { from: 'LOCKED', instr: 'RELEASE', result: R.OK, to: S.IDLE },
    { from: 'LOCKED', instr: 'UPDATE', result: R.OK, to: S.DOWNLOAD },
    { from: 'LOCKED', instr: 'VERIFY', result: R.BAD_PARAM, to: S.LOCKED },
    { from: 'LOCKED', instr: 'READ', result: R.OK, to: S.UPLOAD },
    { from: 'LOCKED', instr: 'CANCEL', result: R.OK, to: S.LOCKED },
    { from: 'LOCKED', instr: 'CHECK', result: R.OK, to: S.LOCKED },
    // FORCE_HANDLE_RELEASE: refused while the owner is active (< 10 s silent), hardening spec S8
    { from: 'LOCKED', instr: 'FORCE', result: R.RES_NOT_AVLBL, to: S.LOCKED },
    { from: 'DOWNLOAD', instr: 'LOCK', result: R.RES_NOT_AVLBL, to: S.DOWNLOAD },
    { from: 'DOWNLOAD', instr: 'RELEASE', result: R.BAD_PARAM, to: S.DOWNLOAD },
    { from: 'DOWNLOAD', instr: 'UPDATE', result: R.BAD_PARAM, to: S.DOWNLOAD },
    { from: 'DOWNLOAD', instr: 'ACTIVATE', result: R.BAD_PARAM, to: S.DOWNLOAD },
    { from: 'DOWNLOAD', instr: 'READ', result: R.BAD_PARAM, to: S.DOWNLOAD },
    { from: 'DOWNLOAD', instr: 'CANCEL', result: R.OK, to: S.LOCKED },
    { from: 'DOWNLOAD', instr: 'FORCE', result: R.RES_NOT_AVLBL, to: S.DOWNLOAD },
    { from: 'UPLOAD', instr: 'RELEASE', result: R.OK, to: S.IDLE },
    { from: 'UPLOAD', instr: 'UPDATE', result: R.BAD_PARAM, to: S.UPLOAD },
    { from: 'UPLOAD', instr: 'CANCEL', result: R.OK, to: S.LOCKED },
  ];
  for (const row of rows) {
    it(`${row.from} + ${row.instr} → result ${row.result}, state ${row.to}`, async () => {
      const nic = await newNic();
      const fw = nic.firmware;
      let h = 0;
      if (row.from !== 'IDLE') h = lock(nic);
      if (row.from === 'DOWNLOAD') fw.mcc(I.UPDATE, h, sample('good').length);
      if (row.from === 'UPLOAD') fw.mcc(I.READ, h, 0);
      if (row.instr === 'LOCK') {
        fw.mcc(I.QUERY, 0, 0);
        expect(fw.mcc(I.LOCK, fw.status().handle || 123, 0)).toBe(row.result);
      } else expect(fw.mcc(I[row.instr], h, row.instr === 'UPDATE' ? 4096 : 0)).toBe(row.result);
      expect(fw.status().state).toBe(row.to);
    });
  }

  it('commands with a wrong handle are refused and change nothing', async () => {
    const nic = await newNic();
    const h = lock(nic);
    const fw = nic.firmware;
    expect(fw.mcc(I.UPDATE, h ^ 1, 4096)).toBe(R.BAD_PARAM);
    expect(fw.status().state).toBe(S.LOCKED);
    expect(fw.writeBlock(h ^ 1, 0, new Uint8Array(16))).toBe(R.BAD_PARAM);
    // LOCK needs the handle QUERY offered
    const other = await newNic();
    expect(other.firmware.mcc(I.LOCK, 0x123456, 0)).toBe(R.BAD_PARAM);
  });

  it('blocks out of order, too large, or before UPDATE_COMPONENT are refused without a state change', async () => {
    const nic = await newNic();
    const h = lock(nic);
    const fw = nic.firmware;
    expect(fw.writeBlock(h, 0, new Uint8Array(16))).toBe(R.BAD_PARAM); // LOCKED, not DOWNLOAD
    const img = sample('good');
    fw.mcc(I.UPDATE, h, img.length);
    expect(fw.writeBlock(h, 4096, img.subarray(4096, 8192))).toBe(R.BAD_PARAM); // skips block 0
    expect(fw.writeBlock(h, 0, new Uint8Array(65537))).toBe(R.BAD_PARAM); // the wrapper refuses > 64 KiB
    expect(fw.status().state).toBe(S.DOWNLOAD);
    expect(fw.writeBlock(h, 0, img.subarray(0, 4096))).toBe(R.OK);
    expect(fw.status().received).toBe(4096);
  });

  it('a component larger than the bank is refused with NO_PLACE (0x1E)', async () => {
    const nic = await newNic();
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, 2 * 1024 * 1024);
    expect(nic.firmware.status().error).toBe(0x1e);
    expect(nic.firmware.status().state).toBe(S.LOCKED);
  });

  it('a declared size that disagrees with the image is a bad format (0x08)', async () => {
    const nic = await newNic();
    const img = sample('good');
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, img.length + 4096);
    let err = 0;
    for (let at = 0; at < img.length && !err; at += 4096) {
      nic.firmware.writeBlock(h, at, img.subarray(at, at + 4096));
      err = nic.firmware.status().error;
    }
    expect(err).toBe(0x08);
  });
});

describe('another host, handle timeout, flash errors', () => {
  it('locked-by-other: LOCK answers RESOURCE_NOT_AVAILABLE until FORCE_HANDLE_RELEASE, which waits for 10 s of silence', async () => {
    const clock = manualClock();
    const nic = await newNic({ faults: [{ kind: 'locked-by-other' }], clock: clock.now });
    const fw = nic.firmware;
    fw.mcc(I.QUERY, 0, 0);
    expect(fw.mcc(I.LOCK, fw.status().handle, 0)).toBe(R.RES_NOT_AVLBL);
    expect(fw.mcc(I.FORCE, 0, 0)).toBe(R.RES_NOT_AVLBL);
    clock.advance(10_000);
    expect(fw.mcc(I.FORCE, 0, 0)).toBe(R.OK);
    expect(await update(nic, sample('good'))).toBe(0);
  });

  it('an abandoned handle is released after the timeout', async () => {
    const clock = manualClock();
    const nic = await newNic({ clock: clock.now, faults: [{ kind: 'handle-timeout' }] });
    const h = lock(nic);
    clock.advance(150);
    expect(nic.firmware.mcc(I.CHECK, h, 0)).toBe(R.OK);
    clock.advance(250);
    expect(nic.firmware.mcc(I.CHECK, h, 0)).toBe(R.BAD_PARAM);
    expect(nic.firmware.status().state).toBe(S.IDLE);
  });

  it('a flash write error rejects the download (0x28); an erase error gives 0x10; nothing changes', async () => {
    const a = await newNic({ faults: [{ kind: 'flash-error', op: 'write' }] });
    expect(await update(a, sample('good'))).toBe(0x28);
    expect(pending(a)).toBeUndefined();
    expect(await update(a, sample('good'))).toBe(0); // the fault fired once; a retry works
    const b = await newNic({ faults: [{ kind: 'flash-error', op: 'erase' }] });
    expect(await update(b, sample('good'))).toBe(0x10);
    await b.reset();
    expect(running(b)).toBe(OLD);
  });
});

describe('power loss (fail-safe flash)', () => {
  /** A full update, activation and reset in a clean run: how many flash operations does it take? */
  async function flashOpsOfCycle(): Promise<number> {
    const nic = await newNic();
    const before = nic.flash.stats.writes + nic.flash.stats.erases;
    await update(nic, sample('good'));
    await nic.reset();
    return nic.flash.stats.writes + nic.flash.stats.erases - before;
  }

  it('at every flash operation of update + activate + reset, the NIC boots a valid image and a retry succeeds', async () => {
    const total = await flashOpsOfCycle();
    expect(total).toBeGreaterThan(15);
    const outcomes: string[] = [];
    for (let n = 1; n <= total; n++) {
      const nic = await newNic({ faults: [{ kind: 'power-loss', flashOp: n }] });
      let cut = false;
      try {
        const err = await update(nic, sample('good'));
        expect(err).toBe(0);
      } catch (e) {
        expect(e).toBeInstanceOf(DeviceReset);
        cut = true;
      }
      if (!cut) await nic.reset(); // the cut, if any, happens while applying the pending image at boot
      const v = running(nic);
      const boot = nic.firmware.status().bootStatus;
      expect(boot, `op ${n}: boot status`).not.toBe(6);
      expect([OLD, NEW], `op ${n}`).toContain(v);
      outcomes.push(`${n}:${v}`);
      // whatever happened, the device takes the update now
      if (v === OLD) {
        if (!pending(nic)) expect(await update(nic, sample('good')), `retry after op ${n}`).toBe(0);
        await nic.reset();
        expect(running(nic), `after retry, op ${n}`).toBe(NEW);
      }
    }
    // both outcomes occur: a cut before the activation record is written keeps the old image, after it the new one
    expect(outcomes.some((o) => o.endsWith(OLD))).toBe(true);
    expect(outcomes.some((o) => o.endsWith(NEW))).toBe(true);
    console.log(`power loss at each of ${total} flash operations: ${outcomes.filter((o) => o.endsWith(OLD)).length} kept ${OLD}, ${outcomes.filter((o) => o.endsWith(NEW)).length} came up with ${NEW}`);
  }, 120_000);

  it('at every block boundary, the old image keeps running', async () => {
    const blocks = Math.ceil(sample('good').length / 4096);
    for (let b = 0; b < blocks; b++) {
      const nic = await newNic({ faults: [{ kind: 'power-loss', block: b }] });
      await expect(update(nic, sample('good'))).rejects.toBeInstanceOf(DeviceReset);
      expect(running(nic)).toBe(OLD);
      expect(pending(nic)).toBeUndefined();
    }
  }, 60_000);

  for (const state of ['LOCKED', 'INITIALIZE', 'DOWNLOAD', 'VERIFY', 'ACTIVATE'] as const) {
    it(`power loss in ${state}: the device reboots into a valid image`, async () => {
      const nic = await newNic({ faults: [{ kind: 'power-loss', state }] });
      await expect(update(nic, sample('good'))).rejects.toBeInstanceOf(DeviceReset);
      expect(running(nic)).toBe(OLD);
      // the activation record is written in one sector: a torn write leaves the previous record in force
      expect(pending(nic)).toBeUndefined();
      expect(await update(nic, sample('good'))).toBe(0);
    });
  }

  it('a damaged pending bank is refused at boot (never booted unverified); a damaged active bank falls back', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    // flip bits in the pending bank behind the firmware's back (a flash cell going bad)
    nic.flash.hooks = {};
    nic.flash.write(nic.flash.bankAddr(1) + 5000, new Uint8Array([0x00]));
    expect(await nic.reset()).toBe(2); // PENDING_REJECTED
    expect(running(nic)).toBe(OLD);
    const nic2 = await newNic();
    expect(await update(nic2, sample('good'))).toBe(0);
    await nic2.reset();
    nic2.flash.hooks = {};
    nic2.flash.write(nic2.flash.bankAddr(1) + 100, new Uint8Array([0x00]));
    expect(await nic2.reset()).toBe(5); // FELL_BACK to the previous image
    expect(running(nic2)).toBe(OLD);
  });
});

describe('anti-rollback at boot, rotten flash at resume', () => {
  async function svn3Image(): Promise<Uint8Array> {
    const { buildImage } = await import('./image-builder.ts');
    return buildImage({ svn: 3, version: [28, 41, 1000] });
  }

  it('after the fuses rise, the older lower-SVN image is replaced by a mirror of the new one: a damaged new bank falls back to that copy, never to the older image', async () => {
    const nic = await newNic();
    const img = await svn3Image();
    expect(await update(nic, img)).toBe(0);
    await nic.reset();
    expect(new DataView(queryTags(nic).get(11)!.buffer, queryTags(nic).get(11)!.byteOffset).getUint32(0, true)).toBe(3);
    // the boot that raised the fuses mirrored the running image into bank 0 (the factory image, SVN 2, could no longer boot)
    expect(nic.repairNotes).toContain('copied the running image into the other bank, so a fallback image exists');
    expect(Buffer.from(nic.flash.read(nic.flash.bankAddr(0), img.length)!).equals(Buffer.from(img))).toBe(true);
    nic.flash.hooks = {};
    const at = img.findIndex((b, i) => i > 5000 && b !== 0); // a payload byte that programming to 0 really changes
    nic.flash.write(nic.flash.bankAddr(1) + at, new Uint8Array([0]));
    expect(await nic.reset()).toBe(5); // FELL_BACK to the mirror
    expect(running(nic)).toBe('28.41.1000');
  });

  it('resume survives a pending bank whose manifest length was corrupted', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    nic.flash.hooks = {};
    // the first TLV's length field (offset 18) → 0xFFFFFFFA
    nic.flash.write(nic.flash.bankAddr(1) + 18, new Uint8Array([0xfa, 0xff, 0xff, 0xff]).map((b, i) => b & [0xfa, 0xff, 0xff, 0xff][i]!));
    const { EmulatedNic } = await import('../../../src/emulator/nic.ts');
    const again = await EmulatedNic.create({ state: nic.snapshot() });
    expect(running(again)).toBe(OLD);
    // at reset the damaged pending image is refused
    expect(await again.reset()).toBe(2);
  });
});
