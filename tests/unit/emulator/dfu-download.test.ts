/**
 * Plain DFU 1.1 downloads and uploads (what dfu-util or webdfu does, no vendor requests) against
 * the emulated NIC: every sample image gives the outcome and the iString sentence the device's
 * secure-update machine decides, the detach re-enumerates with the same identity, bwPollTimeout is
 * honoured, both transfer sizes and a wBlockNum wrap work, and the update is visible where a user
 * looks: QUERY versions, UPLOAD bytes.
 */
import { parseImage } from '../../../src/core/image/parse.ts';
import { describe, expect, it } from 'vitest';
import {
  ABORT,
  CLRSTATUS,
  DNLOAD,
  GETSTATE,
  S,
  ST,
  detachToDfu,
  dfuDownload,
  dfuIn,
  dfuOut,
  dfuUpload,
  fwStatus,
  functionalDescriptor,
  getState,
  getStatus,
  newDevice,
  nextConnect,
  nextDisconnect,
  openDfu,
  query,
  readString,
  sample,
  sleep,
  vendorReset,
  version,
} from './host.ts';

const FACTORY = '28.39.1002';
const GOOD = '28.40.1000';

async function dfuModeDevice(opts: Parameters<typeof newDevice>[0] = {}) {
  const dev = await newDevice(opts);
  await openDfu(dev);
  return detachToDfu(dev);
}

/** Each sample through a plain DFU download: bStatus, iString text, and whether it failed on the first block. */
const OUTCOMES: { file: string; status: number; text?: string; early: boolean; hashBlock?: number }[] = [
  { file: 'good.tfw', status: ST.OK, early: false },
  { file: 'unsigned.tfw', status: ST.errVERIFY, text: 'The component is not signed (MCC error 0x06)', early: true },
  // format v2: refused at the DNLOAD that completes hash block 2 (payload bytes 32768..49151), where the flipped bit is
  { file: 'tampered-payload.tfw', status: ST.errVERIFY, text: 'The Digest in the signature is wrong (MCC error 0x02): hash block 2 does not match its signed digest (DFU block 12)', early: false, hashBlock: 2 },
  { file: 'tampered-manifest.tfw', status: ST.errVERIFY, text: 'Rejected authentication (MCC error 0x05)', early: true },
  { file: 'wrong-psid.tfw', status: ST.errTARGET, text: 'Component is not applicable (MCC error 0x03)', early: true },
  { file: 'forbidden-version.tfw', status: ST.errVENDOR, text: 'Forbidden version rejected (MCC error 0x0F)', early: true },
  { file: 'downgrade.tfw', status: ST.errVENDOR, text: 'FW burn rejected: Invalid security version (MCC error 0x19)', early: true },
  { file: 'unknown-key.tfw', status: ST.errVERIFY, text: 'Unknown key (MCC error 0x04)', early: true },
  { file: 'not-secured.tfw', status: ST.errVENDOR, text: 'The firmware image is not secured (MCC error 0x0A)', early: true },
];

describe('plain DFU download of every sample', () => {
  for (const o of OUTCOMES) {
    it(`${o.file} → ${o.status === ST.OK ? 'OK, pending until reset' : o.text}`, async () => {
      const dev = await dfuModeDevice();
      const image = await sample(o.file);
      const before = await query(dev);
      expect(version(before, 1)).toBe(FACTORY);
      expect(version(before, 2)).toBeUndefined();

      const r = await dfuDownload(dev, image);
      const blocks = Math.ceil(image.length / 4096);
      if (o.status === ST.OK) {
        expect(r.final).toMatchObject({ status: ST.OK, state: S.dfuIDLE, iString: 0 });
        const after = await query(dev);
        expect(version(after, 1)).toBe(FACTORY);
        expect(version(after, 2)).toBe(GOOD);
        expect((await fwStatus(dev)).flags & 2, 'firmware STATUS flags bit 1: image pending reset').toBe(2);
        const rebooted = await vendorReset(dev);
        expect(rebooted.personality).toBe('runtime');
        const q = await query(rebooted);
        expect(version(q, 1)).toBe(GOOD);
        expect(version(q, 2)).toBeUndefined();
        return;
      }
      expect(r.final).toMatchObject({ status: o.status, state: S.dfuERROR, iString: 0x20 });
      expect(r.text).toBe(o.text);
      // rejected as soon as the firmware knows: the head is in the first block; a payload digest only at manifestation
      const h = parseImage(image);
      const refusedAt = o.hashBlock !== undefined && h.ok ? Math.ceil((h.value.payloadOffset + (o.hashBlock + 1) * h.value.manifest.hashBlockSize!) / 4096) : blocks;
      expect(r.blocks).toBe(o.early ? 1 : refusedAt);
      // the device's update handle is released (CANCEL + RELEASE) and nothing changed
      const fw = await fwStatus(dev);
      expect(fw.state).toBe(0);
      expect(fw.flags & 3).toBe(0);
      expect(await query(dev)).toEqual(before);
      // the host clears the error and can go again
      expect((await dfuOut(dev, CLRSTATUS)).status).toBe('ok');
      expect(await getStatus(dev)).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
      // a NIC reset changes nothing either
      expect(version(await query(await vendorReset(dev)), 1)).toBe(FACTORY);
    });
  }

  it('a second download while an image is pending reset is refused (errVENDOR, MCC 0x09)', async () => {
    const dev = await dfuModeDevice();
    expect((await dfuDownload(dev, await sample('good.tfw'))).final.status).toBe(ST.OK);
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.final).toMatchObject({ status: ST.errVENDOR, state: S.dfuERROR });
    expect(r.text).toBe('The firmware image was already updated on flash, pending reset (MCC error 0x09)');
  });
});

describe('DETACH and re-enumeration', () => {
  it('keeps VID, PID and serial; the old USBDevice is gone (NotFoundError), the new one is in DFU mode', async () => {
    const rt = await newDevice({ identity: { serial: 'TFN-DETACH-01' } });
    await openDfu(rt);
    expect(rt.personality).toBe('runtime');
    const alt = rt.configuration!.interfaces[1]!.alternate;
    expect([alt.interfaceClass, alt.interfaceSubclass, alt.interfaceProtocol]).toEqual([0xfe, 0x01, 0x01]);

    const gone = nextDisconnect(rt.usb);
    const connected = nextConnect(rt.usb);
    expect((await dfuOut(rt, 0, 1000)).status).toBe('ok');
    expect(await getState(rt)).toBe(S.appDETACH);
    expect(await gone).toBe(rt);
    expect(rt.opened).toBe(false);
    await expect(getState(rt)).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(rt.open()).rejects.toMatchObject({ name: 'NotFoundError' });

    const dfu = await connected;
    expect(dfu).not.toBe(rt);
    expect([dfu.vendorId, dfu.productId, dfu.serialNumber]).toEqual([0x1209, 0x7a01, 'TFN-DETACH-01']);
    expect(dfu.configuration!.interfaces).toHaveLength(1);
    const a = dfu.configuration!.interfaces[0]!.alternate;
    expect([a.interfaceClass, a.interfaceSubclass, a.interfaceProtocol, a.interfaceName]).toEqual([0xfe, 0x01, 0x02, 'NIC firmware (secure update)']);
    // the grant {VID, PID, serial} covers the new device: getDevices lists it without a prompt
    expect(await rt.usb.getDevices()).toEqual([dfu]);
    await openDfu(dfu);
    expect(await getStatus(dfu)).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
  });

  it('a USB reset in DFU mode goes back to run-time (the firmware is valid)', async () => {
    const dfu = await dfuModeDevice();
    const connected = nextConnect(dfu.usb);
    await expect(dfu.reset()).rejects.toMatchObject({ name: 'NetworkError' });
    const rt = await connected;
    expect(rt.personality).toBe('runtime');
    await openDfu(rt);
    expect(await getState(rt)).toBe(S.appIDLE);
  });
});

describe('bwPollTimeout', () => {
  it('instant model: bwPollTimeout 0 and GETSTATUS goes straight to dfuDNLOAD-IDLE', async () => {
    const dev = await dfuModeDevice();
    const image = await sample('good.tfw');
    expect((await dfuOut(dev, DNLOAD, 0, image.subarray(0, 4096))).status).toBe('ok');
    expect(await getStatus(dev)).toEqual({ status: ST.OK, poll: 0, state: S.dfuDNLOAD_IDLE, iString: 0 });
  });

  it('full speed: dfuDNBUSY with the flash busy time; a GETSTATUS before it passes stalls → dfuERROR / errSTALLEDPKT', async () => {
    // the NIC's clock stands still, so the second GETSTATUS is early whatever the machine's speed
    const dev = await dfuModeDevice({ timing: 'full-speed', clock: () => 1000 });
    const image = await sample('good.tfw');
    expect((await dfuOut(dev, DNLOAD, 0, image.subarray(0, 4096))).status).toBe('ok');
    const st = await getStatus(dev);
    // a plain DFU download has no size: the firmware erases the sector the block fills (0.5 ms)
    // and programs 4 KiB (0.2 ms) → bwPollTimeout rounds up to 1 ms
    expect(st).toMatchObject({ status: ST.OK, state: S.dfuDNBUSY });
    expect(st !== 'stall' && st.poll).toBe(1);
    expect(await getStatus(dev)).toBe('stall');
    expect(await getStatus(dev)).toMatchObject({ status: ST.errSTALLEDPKT, state: S.dfuERROR, iString: 0x20 });
    expect(await readString(dev, 0x20)).toMatch(/DFU_GETSTATUS is not accepted in state dfuDNBUSY/);
    // the early request ended the update: the handle is free again
    expect((await fwStatus(dev)).flags & 1).toBe(0);
  });

  it('full speed: a host that sleeps bwPollTimeout completes the update', async () => {
    const dev = await dfuModeDevice({ timing: 'full-speed' });
    const t0 = performance.now();
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.final).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
    // 17 blocks of 4 KiB over full-speed EP0 (≥ 3.3 ms of wire time each) plus their erase/program waits: not instant
    expect(performance.now() - t0).toBeGreaterThan(17 * 4);
    expect(version(await query(dev), 2)).toBe(GOOD);
  });
});

describe('wTransferSize', () => {
  it('4096 by default', async () => {
    const dev = await dfuModeDevice();
    expect((await functionalDescriptor(dev)).transferSize).toBe(4096);
  });

  it('65535 configured: a full download in two blocks', async () => {
    const dev = await dfuModeDevice({ transferSize: 65535 });
    expect((await functionalDescriptor(dev)).transferSize).toBe(65535);
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.blocks).toBe(2);
    expect(r.final).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
    expect(version(await query(dev), 2)).toBe(GOOD);
  });

  it('1 byte: 67728 blocks, wBlockNum wraps at 65536 and the image is still accepted', async () => {
    const dev = await dfuModeDevice({ transferSize: 1 });
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.blocks).toBeGreaterThan(65536);
    expect(r.final).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
  });

  it('a block longer than wTransferSize is stalled (dfuERROR, errSTALLEDPKT)', async () => {
    const dev = await dfuModeDevice();
    expect((await dfuOut(dev, DNLOAD, 0, new Uint8Array(4097))).status).toBe('stall');
    expect(await getStatus(dev)).toMatchObject({ status: ST.errSTALLEDPKT, state: S.dfuERROR });
  });
});

describe('block numbering', () => {
  for (const [what, num] of [
    ['skipped', 2],
    ['repeated', 0],
    ['wrapped early', 0xffff],
  ] as const) {
    it(`a ${what} wBlockNum → STALL, dfuERROR / errADDRESS, the update handle released`, async () => {
      const dev = await dfuModeDevice();
      const image = await sample('good.tfw');
      expect((await dfuOut(dev, DNLOAD, 0, image.subarray(0, 4096))).status).toBe('ok');
      expect(await getStatus(dev)).toMatchObject({ state: S.dfuDNLOAD_IDLE });
      expect((await dfuOut(dev, DNLOAD, num, image.subarray(4096, 8192))).status).toBe('stall');
      expect(await getStatus(dev)).toMatchObject({ status: ST.errADDRESS, state: S.dfuERROR, iString: 0x20 });
      expect(await readString(dev, 0x20)).toBe(`Block ${num} arrived out of order: block 1 was expected`);
      expect((await fwStatus(dev)).state).toBe(0);
      // CLRSTATUS, then a fresh download from block 0 works
      expect((await dfuOut(dev, CLRSTATUS)).status).toBe('ok');
      expect((await dfuDownload(dev, image)).final).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
    });
  }

  it('ABORT in dfuDNLOAD-IDLE cancels: the handle is released and nothing is pending', async () => {
    const dev = await dfuModeDevice();
    const image = await sample('good.tfw');
    expect((await dfuOut(dev, DNLOAD, 0, image.subarray(0, 4096))).status).toBe('ok');
    await getStatus(dev);
    expect((await fwStatus(dev)).flags & 1, 'handle owned during the download').toBe(1);
    expect((await dfuOut(dev, ABORT)).status).toBe('ok');
    expect(await getState(dev)).toBe(S.dfuIDLE);
    const fw = await fwStatus(dev);
    expect([fw.state, fw.flags & 3]).toEqual([0, 0]);
    expect(version(await query(dev), 2)).toBeUndefined();
  });

  it('a zero-length DNLOAD before the image is complete → STALL, errNOTDONE', async () => {
    const dev = await dfuModeDevice();
    const image = await sample('good.tfw');
    for (let b = 0; b < 3; b++) {
      expect((await dfuOut(dev, DNLOAD, b, image.subarray(b * 4096, (b + 1) * 4096))).status).toBe('ok');
      await getStatus(dev);
    }
    expect((await dfuOut(dev, DNLOAD, 3)).status).toBe('stall');
    expect(await getStatus(dev)).toMatchObject({ status: ST.errNOTDONE, state: S.dfuERROR });
    expect(await readString(dev, 0x20)).toBe(`The image is incomplete: 12288 of ${image.length} bytes received`);
  });
});

describe('UPLOAD', () => {
  it('reads back the running image; after an update and a reset, exactly the new one', async () => {
    const dev = await dfuModeDevice();
    expect(await dfuUpload(dev)).toEqual(await sample('factory.tfw'));
    expect(await getState(dev), 'a short frame ends the upload').toBe(S.dfuIDLE);
    expect((await dfuDownload(dev, await sample('good.tfw'))).final.status).toBe(ST.OK);
    // still the running (old) image until the NIC resets
    expect(await dfuUpload(dev)).toEqual(await sample('factory.tfw'));
    const rt = await vendorReset(dev);
    const dfu = await detachToDfu(rt);
    expect(await dfuUpload(dfu)).toEqual(await sample('good.tfw'));
  });

  it('with wTransferSize 65535 too', async () => {
    const dev = await dfuModeDevice({ transferSize: 65535 });
    expect(await dfuUpload(dev)).toEqual(await sample('factory.tfw'));
  });

  it('ABORT ends an upload half way', async () => {
    const dev = await dfuModeDevice();
    expect((await dfuIn(dev, 2, 4096, 0)).data?.byteLength).toBe(4096);
    expect(await getState(dev)).toBe(S.dfuUPLOAD_IDLE);
    expect((await dfuOut(dev, ABORT)).status).toBe('ok');
    expect(await getState(dev)).toBe(S.dfuIDLE);
    // a new upload starts from the beginning
    expect(await dfuUpload(dev)).toEqual(await sample('factory.tfw'));
  });
});

it('GETSTATE never changes the state (dfuDNLOAD-SYNC stays until GETSTATUS)', async () => {
  const dev = await dfuModeDevice();
  const image = await sample('good.tfw');
  await dfuOut(dev, DNLOAD, 0, image.subarray(0, 4096));
  for (let i = 0; i < 3; i++) expect((await dfuIn(dev, GETSTATE, 1)).data?.getUint8(0)).toBe(S.dfuDNLOAD_SYNC);
  await sleep(1);
  expect(await getStatus(dev)).toMatchObject({ state: S.dfuDNLOAD_IDLE });
});
