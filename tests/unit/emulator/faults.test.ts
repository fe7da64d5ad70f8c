/**
 * Fault injection seen from the host: the cable pulled in the middle of a download, the power cut
 * while a block is written or the boot record is switched, flash errors, another host holding the
 * update handle, a handle that times out. After each, the NIC still runs its old image and a retry
 * succeeds — the fail-safe promise of secure update.
 */
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../../src/emulator/faults.ts';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';
import {
  ManualClock,
  DNLOAD,
  S,
  ST,
  V,
  control,
  detachToDfu,
  dfuDownload,
  dfuOut,
  fwStatus,
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
  vendorOut,
  vendorReset,
  version,
} from './host.ts';

/** A DATA request is an 8-byte header and a block, and fits in wTransferSize (4096). */
const BLOCK = 4096 - 8;

const FACTORY = '28.39.1002';
const GOOD = '28.40.1000';

async function dfuModeDevice(faults: Fault[]): Promise<EmulatedUSBDevice> {
  const dev = await newDevice({ faults });
  await openDfu(dev);
  return detachToDfu(dev);
}

/** After a fault: the device is back in run-time, still on the old image, and a plain DFU retry installs the new one. */
async function retrySucceeds(dev: EmulatedUSBDevice): Promise<void> {
  expect(dev.personality).toBe('runtime');
  await openDfu(dev);
  expect(await getState(dev)).toBe(S.appIDLE);
  const q = await query(dev);
  expect(version(q, 1)).toBe(FACTORY);
  expect(version(q, 2)).toBeUndefined();
  const dfu = await detachToDfu(dev);
  const r = await dfuDownload(dfu, await sample('good.tfw'));
  expect(r.final).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
  expect(version(await query(await vendorReset(dfu)), 1)).toBe(GOOD);
}

describe('disconnect', () => {
  it('cable pulled at DFU block 5: NetworkError, the device reappears ~50 ms later, the NIC kept running; a retry succeeds', async () => {
    const dev = await dfuModeDevice([{ kind: 'disconnect', block: 5 }]);
    const epoch = dev.nic.powerEpoch;
    // the times are taken when the bus says so, not when this test gets to look (a loaded machine)
    const gone = nextDisconnect(dev.usb).then((d) => ({ d, t: performance.now() }));
    const back = nextConnect(dev.usb).then((d) => ({ d, t: performance.now() }));
    await expect(dfuDownload(dev, await sample('good.tfw'))).rejects.toMatchObject({ name: 'NetworkError' });
    const left = await gone;
    expect(left.d).toBe(dev);
    await expect(getState(dev)).rejects.toMatchObject({ name: 'NotFoundError' });
    const { d: again, t } = await back;
    expect(t - left.t).toBeGreaterThanOrEqual(40);
    expect(dev.nic.powerEpoch, 'the NIC was not reset').toBe(epoch);
    await openDfu(again);
    // the USB function let go of the update it drove: nothing owned, nothing pending
    const fw = await fwStatus(again);
    expect([fw.state, fw.flags & 3]).toEqual([0, 0]);
    await retrySucceeds(again);
  });

  it('cable pulled at vendor DATA block 2: after 10 s of silence the host reclaims the abandoned handle (FORCE_HANDLE_RELEASE) and finishes', async () => {
    const clock = new ManualClock();
    const dev = await newDevice({ faults: [{ kind: 'disconnect', block: 2 }], clock: clock.now });
    await openDfu(dev);
    const image = await sample('good.tfw');
    const h = (await control(dev, 0)).handle;
    await control(dev, 1, h);
    await control(dev, 3, h, image.length);
    const data = (off: number, handle: number) => {
      const b = new Uint8Array(8 + BLOCK);
      new DataView(b.buffer).setUint32(0, handle, true);
      new DataView(b.buffer).setUint32(4, off, true);
      b.set(image.subarray(off, off + BLOCK), 8);
      return b.subarray(0, 8 + Math.min(BLOCK, image.length - off));
    };
    expect((await vendorOut(dev, V.DATA, data(0, h))).status).toBe('ok');
    expect((await vendorOut(dev, V.DATA, data(BLOCK, h))).status).toBe('ok');
    const back = nextConnect(dev.usb);
    await expect(vendorOut(dev, V.DATA, data(2 * BLOCK, h))).rejects.toMatchObject({ name: 'NetworkError' });
    const again = await back;
    await openDfu(again);
    // the NIC kept running: the abandoned flow still holds the handle
    const held = await fwStatus(again);
    expect([held.state, held.flags & 1, held.received]).toEqual([3, 1, 2 * BLOCK]);
    expect((await control(again, 1, (await control(again, 0)).handle)).result).toBe(8);
    // FORCE_HANDLE_RELEASE takes a flow only from an owner silent for 10 s (hardening spec S8)
    expect((await control(again, 0xa)).result).toBe(8);
    clock.advance(10_000);
    expect((await control(again, 0xa)).state).toBe(0);
    await retrySucceeds(again);
  });
});

describe('power loss', () => {
  it('while DFU block 3 is written: the device vanishes, comes back on the old image; a retry succeeds', async () => {
    const dev = await dfuModeDevice([{ kind: 'power-loss', block: 3 }]);
    const epoch = dev.nic.powerEpoch;
    const gone = nextDisconnect(dev.usb);
    const back = nextConnect(dev.usb);
    const r = dfuDownload(dev, await sample('good.tfw'));
    await expect(r).rejects.toMatchObject({ name: 'NetworkError' });
    expect(await gone).toBe(dev);
    const again = await back;
    expect(dev.nic.powerEpoch, 'the NIC rebooted').toBe(epoch + 1);
    await retrySucceeds(again);
  });

  it('while the boot record is switched (ACTIVATE, at manifestation): back on the old image; a retry succeeds', async () => {
    const dev = await dfuModeDevice([{ kind: 'power-loss', state: 'ACTIVATE' }]);
    const back = nextConnect(dev.usb);
    await expect(dfuDownload(dev, await sample('good.tfw'))).rejects.toMatchObject({ name: 'NetworkError' });
    await retrySucceeds(await back);
  });

  it('during an explicit vendor flow (VERIFY command): the CONTROL rejects, the device comes back', async () => {
    const dev = await newDevice({ faults: [{ kind: 'power-loss', state: 'VERIFY' }] });
    await openDfu(dev);
    const image = await sample('good.tfw');
    const h = (await control(dev, 0)).handle;
    await control(dev, 1, h);
    await control(dev, 3, h, image.length);
    for (let off = 0; off < image.length; off += BLOCK) {
      const b = new Uint8Array(8 + Math.min(BLOCK, image.length - off));
      new DataView(b.buffer).setUint32(0, h, true);
      new DataView(b.buffer).setUint32(4, off, true);
      b.set(image.subarray(off, off + BLOCK), 8);
      expect((await vendorOut(dev, V.DATA, b)).status).toBe('ok');
    }
    const back = nextConnect(dev.usb);
    await expect(control(dev, 4, h)).rejects.toMatchObject({ name: 'NetworkError' });
    await retrySucceeds(await back);
  });
});

describe('flash errors and handle ownership', () => {
  it('a flash write error → errWRITE "Flash is write protected (MCC error 0x28)"', async () => {
    const dev = await dfuModeDevice([{ kind: 'flash-error', op: 'write' }]);
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.final).toMatchObject({ status: ST.errWRITE, state: S.dfuERROR });
    expect(r.text).toBe('Flash is write protected (MCC error 0x28)');
  });

  it('an erase error → errERASE "Error while erasing the flash (MCC error 0x10)"', async () => {
    const dev = await dfuModeDevice([{ kind: 'flash-error', op: 'erase' }]);
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.final).toMatchObject({ status: ST.errERASE, state: S.dfuERROR });
    expect(r.text).toBe('Error while erasing the flash (MCC error 0x10)');
  });

  it('another host holds the update handle → errVENDOR "update handle held by another host"; its lock is left alone', async () => {
    const dev = await dfuModeDevice([{ kind: 'locked-by-other' }]);
    const r = await dfuDownload(dev, await sample('good.tfw'));
    expect(r.final).toMatchObject({ status: ST.errVENDOR, state: S.dfuERROR, iString: 0x20 });
    expect(r.text?.toLowerCase()).toContain('update handle held by another host');
    expect((await fwStatus(dev)).flags & 1).toBe(1);
  });

  it('a host too slow for the handle timeout: the next block is refused (errVENDOR, register status 0x07)', async () => {
    const dev = await dfuModeDevice([{ kind: 'handle-timeout' }]);
    const image = await sample('good.tfw');
    expect((await dfuOut(dev, DNLOAD, 0, image.subarray(0, 4096))).status).toBe('ok');
    expect(await getStatus(dev)).toMatchObject({ state: S.dfuDNLOAD_IDLE });
    await sleep(260);
    expect((await dfuOut(dev, DNLOAD, 1, image.subarray(4096, 8192))).status).toBe('ok');
    expect(await getStatus(dev)).toMatchObject({ status: ST.errVENDOR, state: S.dfuERROR });
    expect(await readString(dev, 0x20)).toBe('Block 1 refused: Register access bad parameter (register status 0x07)');
  });
});
