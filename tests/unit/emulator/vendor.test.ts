/**
 * The vendor requests on the DFU interface: the secure-update machine driven step by step, the
 * way mstflint drives MCC (reference/mstflint-secure-update.md §1.7) — QUERY for a handle, LOCK,
 * UPDATE_COMPONENT, DATA blocks, VERIFY, ACTIVATE, RELEASE — with STATUS read after each step;
 * the refused maintenance commands; malformed requests.
 */
import { parseImage } from '../../../src/core/image/parse.ts';
import { describe, expect, it } from 'vitest';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';
import { ManualClock, S, V, bytesOf, control, detachToDfu, fwStatus, getState, lastResult, newDevice, openDfu, query, sample, tlvs, vendorIn, vendorOut, vendorReset, version } from './host.ts';

// MCC numbers (reference §1.3–1.5, §1.8)
const QUERY = 0x0;
const LOCK = 0x1;
const RELEASE = 0x2;
const UPDATE_COMPONENT = 0x3;
const VERIFY = 0x4;
const ACTIVATE = 0x6;
const READ_COMPONENT = 0x7;
const CANCEL = 0x8;
const FORCE_RELEASE = 0xa;
const IDLE = 0;
const LOCKED = 1;
const DOWNLOAD = 3;
const UPLOAD = 7;

async function runtime(): Promise<EmulatedUSBDevice> {
  const dev = await newDevice();
  await openDfu(dev);
  return dev;
}

function dataRequest(handle: number, offset: number, block: Uint8Array): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(8 + block.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, handle, true);
  v.setUint32(4, offset, true);
  b.set(block, 8);
  return b;
}

/** QUERY → LOCK → UPDATE_COMPONENT(size) → DATA…; stops at the first block the device reports an error for. */
/** Blocks of 4088 bytes: with its 8-byte header a DATA request fills wTransferSize (4096). */
async function explicitDownload(dev: USBDevice, image: Uint8Array<ArrayBuffer>, blockSize = 4096 - 8) {
  const offered = (await control(dev, QUERY)).handle;
  expect(offered).toBeGreaterThan(0);
  const locked = await control(dev, LOCK, offered);
  expect([locked.result, locked.state, locked.flags & 1, locked.handle]).toEqual([0, LOCKED, 1, offered]);
  let st = await control(dev, UPDATE_COMPONENT, offered, image.length);
  expect([st.result, st.error, st.state]).toEqual([0, 0, DOWNLOAD]);
  let blocks = 0;
  for (let off = 0; off < image.length; off += blockSize) {
    const r = await vendorOut(dev, V.DATA, dataRequest(offered, off, image.subarray(off, off + blockSize)));
    expect(r.status).toBe('ok');
    blocks++;
    st = await fwStatus(dev);
    if (st.result !== 0 || st.error !== 0) break;
    expect(st.received).toBe(Math.min(off + blockSize, image.length));
  }
  return { handle: offered, status: st, blocks };
}

describe('explicit MCC flow over vendor requests', () => {
  it('good.tfw: every step shows in STATUS; ACTIVATE leaves it pending; RESET runs it', async () => {
    const dev = await runtime();
    const image = await sample('good.tfw');
    const { handle, status } = await explicitDownload(dev, image);
    expect([status.result, status.error, status.state]).toEqual([0, 0, DOWNLOAD]);
    let st = await control(dev, VERIFY, handle);
    expect([st.result, st.error, st.state]).toEqual([0, 0, LOCKED]);
    st = await control(dev, ACTIVATE, handle);
    expect([st.result, st.error, st.state, st.flags & 2]).toEqual([0, 0, LOCKED, 2]);
    st = await control(dev, RELEASE, handle);
    expect([st.result, st.state, st.flags & 1]).toEqual([0, IDLE, 0]);
    expect(await lastResult(dev)).toEqual({ request: V.CONTROL, kind: 0, code: 0, text: 'OK' });
    const q = await query(dev);
    expect([version(q, 1), version(q, 2)]).toEqual(['28.39.1002', '28.40.1000']);
    const rebooted = await vendorReset(dev);
    expect(version(await query(rebooted), 1)).toBe('28.40.1000');
  });

  it('tampered-manifest.tfw: the first block is rejected, STATUS and LAST_RESULT carry MCC error 0x05', async () => {
    const dev = await runtime();
    const before = await query(dev);
    const { handle, status, blocks } = await explicitDownload(dev, await sample('tampered-manifest.tfw'));
    expect(blocks).toBe(1);
    expect([status.result, status.error, status.state]).toEqual([0, 0x05, LOCKED]);
    expect(await lastResult(dev)).toEqual({ request: V.DATA, kind: 1, code: 0x05, text: 'Rejected authentication (MCC error 0x05)' });
    // mstflint's cleanup: CANCEL then RELEASE
    expect((await control(dev, CANCEL, handle)).state).toBe(LOCKED);
    expect((await control(dev, RELEASE, handle)).state).toBe(IDLE);
    expect(await query(dev)).toEqual(before);
  });

  it('tampered-payload.tfw (format v2): refused with MCC error 0x02 by the DATA that completes the bad hash block', async () => {
    const dev = await runtime();
    const image = await sample('tampered-payload.tfw');
    const { status, blocks } = await explicitDownload(dev, image);
    expect([status.result, status.error, status.state]).toEqual([0, 0x02, LOCKED]);
    // the flipped bit is in hash block 2: the refused DATA is the one carrying that block's last byte
    const h = parseImage(image);
    const blockEnd = h.ok ? h.value.payloadOffset + 3 * h.value.manifest.hashBlockSize! : 0;
    expect(blocks).toBe(Math.ceil(blockEnd / (4096 - 8)));
    expect((await lastResult(dev)).text).toBe('The Digest in the signature is wrong (MCC error 0x02)');
  });

  it('factory.tfw (format v1) with a flipped payload bit: accepted block by block, refused by VERIFY with MCC error 0x02', async () => {
    const dev = await runtime();
    const image = (await sample('factory.tfw')).slice();
    image[image.length - 100]! ^= 1;
    const { handle, status } = await explicitDownload(dev, image);
    expect(status.received).toBe(image.length);
    const st = await control(dev, VERIFY, handle);
    expect([st.result, st.error]).toEqual([0, 0x02]);
  });

  it('works in DFU mode too (the vendor requests follow the DFU interface to number 0)', async () => {
    const dfu = await detachToDfu(await runtime());
    const { handle } = await explicitDownload(dfu, await sample('good.tfw'));
    expect((await control(dfu, VERIFY, handle)).error).toBe(0);
  });
  it('DATA longer than wTransferSize (header included) stalls and LAST_RESULT says why', async () => {
    const dev = await runtime();
    const offered = (await control(dev, QUERY)).handle;
    await control(dev, LOCK, offered);
    await control(dev, UPDATE_COMPONENT, offered, 67728);
    // 8 + 4096 = 4104 bytes: what a Linux gadget's libcomposite stalls before the device sees it
    expect((await vendorOut(dev, V.DATA, dataRequest(offered, 0, new Uint8Array(4096)))).status).toBe('stall');
    expect((await lastResult(dev)).text).toMatch(/DATA carries at most wTransferSize \(4096\) bytes, header included, got 4104/);
    expect((await vendorOut(dev, V.DATA, dataRequest(offered, 0, new Uint8Array(4088)))).status).toBe('ok');
  });

  it('READ returns the running image block by block (READ_COMPONENT)', async () => {
    const dev = await runtime();
    const h = (await control(dev, QUERY)).handle;
    await control(dev, LOCK, h);
    expect((await control(dev, READ_COMPONENT, h)).state).toBe(UPLOAD);
    const parts: number[] = [];
    for (let block = 0; block < 1000; block++) {
      const r = await vendorIn(dev, V.READ, 4096, block);
      expect(r.status).toBe('ok');
      const b = bytesOf(r);
      parts.push(...b);
      if (b.length < 4096) break;
    }
    expect(Uint8Array.from(parts)).toEqual(await sample('factory.tfw'));
    await control(dev, RELEASE, h);
    // without the handle in UPLOAD state, READ is refused
    expect((await vendorIn(dev, V.READ, 4096, 0)).status).toBe('stall');
    expect(await lastResult(dev)).toMatchObject({ request: V.READ, kind: 0, code: 7 });
  });

  it('a LOCK while another flow holds the handle answers register status 8; FORCE_HANDLE_RELEASE frees it after 10 s of silence', async () => {
    const clock = new ManualClock();
    const dev = await newDevice({ clock: clock.now });
    await openDfu(dev);
    const h = (await control(dev, QUERY)).handle;
    await control(dev, LOCK, h);
    const st = await control(dev, LOCK, h);
    expect(st.result).toBe(8);
    expect(await lastResult(dev)).toEqual({ request: V.CONTROL, kind: 0, code: 8, text: 'Register access resource unavailable (register status 0x08)' });
    // the owner spoke just now: any host may read the handle, so FORCE waits for 10 s of silence (S8)
    expect((await control(dev, FORCE_RELEASE)).result).toBe(8);
    clock.advance(10_000);
    expect((await control(dev, FORCE_RELEASE)).state).toBe(IDLE);
  });

  it('QUERY is truncated to wLength; STATUS is 28 bytes', async () => {
    const dev = await runtime();
    const full = await query(dev);
    expect(tlvs(full).get(7) && new TextDecoder().decode(tlvs(full).get(7))).toBe(dev.serialNumber);
    const r = await vendorIn(dev, V.QUERY, 10);
    expect(bytesOf(r)).toEqual(full.subarray(0, 10));
    expect((await vendorIn(dev, V.STATUS, 64)).data?.byteLength).toBe(28);
  });
});

describe('maintenance commands and the CS token', () => {
  for (const op of [1, 2, 3, 4, 5]) {
    it(`MAINT op ${op} stalls: "Unsupported operation under Secure FW"`, async () => {
      const dev = await runtime();
      expect((await vendorOut(dev, V.MAINT, new Uint8Array([1, 2, 3]), op)).status).toBe('stall');
      expect(await lastResult(dev)).toEqual({ request: V.MAINT, kind: 0, code: 6, text: 'Unsupported operation under Secure FW' });
      // the device is still fine
      expect(await getState(dev)).toBe(S.appIDLE);
    });
  }

  it('MAINT with an op outside 1..5 stalls with register status 7', async () => {
    const dev = await runtime();
    expect((await vendorOut(dev, V.MAINT, undefined, 9)).status).toBe('stall');
    expect(await lastResult(dev)).toMatchObject({ kind: 0, code: 7 });
  });

  it('TOKEN_CHALLENGE gives 48 bytes ending in the PSID; a malformed token stalls with MCC error 0x08', async () => {
    const dev = await runtime();
    const r = await vendorIn(dev, V.TOKEN_CHALLENGE, 48);
    const c = bytesOf(r);
    expect(c.length).toBe(48);
    expect(new TextDecoder().decode(c.subarray(32)).replace(/\0+$/, '')).toBe('TF_0000000001');
    expect((await vendorOut(dev, V.TOKEN_APPLY, new Uint8Array(348))).status).toBe('stall');
    expect(await lastResult(dev)).toEqual({ request: V.TOKEN_APPLY, kind: 1, code: 0x08, text: 'Bad format (MCC error 0x08)' });
  });
});

describe('malformed vendor requests stall (no throw)', () => {
  it('CONTROL of the wrong length', async () => {
    const dev = await runtime();
    for (const n of [0, 11, 13]) {
      expect((await vendorOut(dev, V.CONTROL, new Uint8Array(n))).status).toBe('stall');
      expect(await lastResult(dev)).toMatchObject({ request: V.CONTROL, kind: 0, code: 7 });
    }
  });

  it('DATA without a block; wrong directions; unknown requests; the wrong interface', async () => {
    const dev = await runtime();
    expect((await vendorOut(dev, V.DATA, new Uint8Array(8))).status).toBe('stall');
    expect((await vendorOut(dev, V.QUERY, new Uint8Array(0))).status).toBe('stall');
    expect((await vendorIn(dev, V.CONTROL, 12)).status).toBe('stall');
    expect((await vendorIn(dev, 0x50, 4)).status).toBe('stall');
    expect((await lastResult(dev)).text).toMatch(/Unknown vendor request 0x50/);
    expect((await vendorOut(dev, V.RESET, new Uint8Array(1))).status).toBe('stall');
    // interface 0 in run-time is the NIC function: no vendor requests there
    await dev.claimInterface(0);
    expect((await dev.controlTransferIn({ requestType: 'vendor', recipient: 'interface', request: V.STATUS, value: 0, index: 0 }, 28)).status).toBe('stall');
    // recipient device
    expect((await dev.controlTransferIn({ requestType: 'vendor', recipient: 'device', request: V.STATUS, value: 0, index: 1 }, 28)).status).toBe('stall');
  });

  it('RECEIPT with nothing requested, RECEIPT_REQUEST with a short nonce, and the wrong directions stall; LAST_RESULT says why', async () => {
    const dev = await runtime();
    expect((await vendorIn(dev, V.RECEIPT, 4096)).status).toBe('stall');
    expect(await lastResult(dev)).toEqual({ request: V.RECEIPT, kind: 0, code: 7, text: 'no receipt was requested: send RECEIPT_REQUEST with a 32-byte nonce first' });
    expect((await vendorOut(dev, V.RECEIPT_REQUEST, new Uint8Array(33))).status).toBe('stall');
    expect(await lastResult(dev)).toMatchObject({ request: V.RECEIPT_REQUEST, kind: 0, code: 7 });
    expect((await vendorIn(dev, V.RECEIPT_REQUEST, 32)).status).toBe('stall');
    expect((await vendorOut(dev, V.RECEIPT, new Uint8Array(32))).status).toBe('stall');
    // a NIC made without a device CA has no attestation key: the request is taken, the receipt refused
    expect((await vendorOut(dev, V.RECEIPT_REQUEST, new Uint8Array(32))).status).toBe('ok');
    expect((await vendorIn(dev, V.RECEIPT, 4096)).status).toBe('stall');
    expect(await lastResult(dev)).toMatchObject({ request: V.RECEIPT, kind: 0, code: 6, text: expect.stringMatching(/no attestation key/) });
  });

  it('DATA for a handle nobody owns is acknowledged; STATUS.result says bad parameter', async () => {
    const dev = await runtime();
    expect((await vendorOut(dev, V.DATA, dataRequest(1234, 0, new Uint8Array(16)))).status).toBe('ok');
    expect((await fwStatus(dev)).result).toBe(7);
  });
});
