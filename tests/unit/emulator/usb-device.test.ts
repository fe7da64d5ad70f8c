/**
 * The WebUSB surface: what a page sees from navigator.usb and USBDevice, including the errors
 * Chrome raises (InvalidStateError, NotFoundError, NetworkError, NotSupportedError) and the rule
 * that anything reaching the device is answered by the device — a malformed setup packet is a
 * STALL, never an exception.
 */
import { describe, expect, it } from 'vitest';
import { createEmulatedNic, EmulatedUsb } from '../../../src/emulator/index.ts';
import { GETSTATE, S, V, detachToDfu, dfuIn, dfuOut, getState, newDevice, nextConnect, openDfu, sample, vendorIn } from './host.ts';

const GETSTATE_SETUP: USBControlTransferParameters = { requestType: 'class', recipient: 'interface', request: GETSTATE, value: 0, index: 1 };

describe('USBDevice', () => {
  it('transfers need open() and a claimed interface (InvalidStateError)', async () => {
    const dev = await newDevice();
    expect(dev.opened).toBe(false);
    await expect(dev.controlTransferIn(GETSTATE_SETUP, 1)).rejects.toMatchObject({ name: 'InvalidStateError' });
    await dev.open();
    expect(dev.opened).toBe(true);
    await expect(dev.controlTransferIn(GETSTATE_SETUP, 1)).rejects.toMatchObject({ name: 'InvalidStateError' });
    await expect(dev.claimInterface(7)).rejects.toMatchObject({ name: 'NotFoundError' });
    await dev.claimInterface(1);
    expect(await getState(dev)).toBe(S.appIDLE);
    await dev.releaseInterface(1);
    await expect(dev.controlTransferIn(GETSTATE_SETUP, 1)).rejects.toMatchObject({ name: 'InvalidStateError' });
    // device-addressed standard requests only need the device open
    const r = await dev.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 0, value: 0, index: 0 }, 2);
    expect(new Uint8Array(r.data!.buffer)).toEqual(Uint8Array.of(1, 0)); // self-powered
    await dev.close();
    expect(dev.opened).toBe(false);
    await expect(dev.controlTransferIn(GETSTATE_SETUP, 1)).rejects.toMatchObject({ name: 'InvalidStateError' });
  });

  it('configuration 1 is selected; others are NotFoundError; alternate setting 0 only', async () => {
    const dev = await newDevice();
    await dev.open();
    expect(dev.configuration?.configurationValue).toBe(1);
    await dev.selectConfiguration(1);
    await expect(dev.selectConfiguration(2)).rejects.toMatchObject({ name: 'NotFoundError' });
    await dev.claimInterface(1);
    await dev.selectAlternateInterface(1, 0);
    await expect(dev.selectAlternateInterface(1, 1)).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(dev.selectAlternateInterface(0, 0)).rejects.toMatchObject({ name: 'InvalidStateError' });
    const cfg = await dev.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 8, value: 0, index: 0 }, 1);
    expect(cfg.data?.getUint8(0)).toBe(1);
  });

  it('bulk, interrupt and isochronous transfers: NotSupportedError; clearHalt: NotFoundError', async () => {
    const dev = await openDfu(await newDevice());
    await expect(dev.transferIn(1, 64)).rejects.toMatchObject({ name: 'NotSupportedError' });
    await expect(dev.transferOut(1, new Uint8Array(4))).rejects.toMatchObject({ name: 'NotSupportedError' });
    await expect(dev.isochronousTransferIn(1, [64])).rejects.toMatchObject({ name: 'NotSupportedError' });
    await expect(dev.isochronousTransferOut(1, new Uint8Array(4), [4])).rejects.toMatchObject({ name: 'NotSupportedError' });
    await expect(dev.clearHalt('in', 1)).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('malformed setup packets and data never throw: STALL', async () => {
    const dev = await openDfu(await newDevice());
    const bad: [USBControlTransferParameters, number][] = [
      [{ ...GETSTATE_SETUP, requestType: 'bogus' as USBRequestType }, 1],
      [{ ...GETSTATE_SETUP, recipient: 'nowhere' as USBRecipient }, 1],
      [{ ...GETSTATE_SETUP, request: 256 }, 1],
      [{ ...GETSTATE_SETUP, value: -1 }, 1],
      [{ ...GETSTATE_SETUP, value: 0x10000 }, 1],
      [{ ...GETSTATE_SETUP, index: 1.5 }, 1],
      [{ ...GETSTATE_SETUP, index: 9 }, 1], // no interface 9
      [{ ...GETSTATE_SETUP, index: 0x0101 }, 1], // interface recipient with a high byte
      [GETSTATE_SETUP, 70000], // wLength over 65535
      [GETSTATE_SETUP, -1],
      [{ ...GETSTATE_SETUP, recipient: 'endpoint', index: 0x81 }, 1],
      [{ ...GETSTATE_SETUP, recipient: 'other' }, 1],
      [{ requestType: 'standard', recipient: 'device', request: 6, value: 0x0600, index: 0 }, 10], // no device qualifier
      [{ requestType: 'standard', recipient: 'device', request: 6, value: 0x0201, index: 0 }, 9], // no configuration 1 index
      [{ requestType: 'standard', recipient: 'device', request: 0x33, value: 0, index: 0 }, 1],
      [null as unknown as USBControlTransferParameters, 1],
    ];
    for (const [setup, length] of bad) {
      const r = await dev.controlTransferIn(setup, length);
      expect(r.status, JSON.stringify(setup) + ` length ${length}`).toBe('stall');
    }
    const outBad: [USBControlTransferParameters, unknown][] = [
      [{ ...GETSTATE_SETUP, request: 4, requestType: 'reserved' as USBRequestType }, undefined],
      [{ ...GETSTATE_SETUP, request: 1 }, new Uint8Array(0x10000)], // data longer than any wLength
      [{ ...GETSTATE_SETUP, request: 1 }, 'not a buffer'],
      [{ requestType: 'standard', recipient: 'device', request: 9, value: 7, index: 0 }, undefined], // SET_CONFIGURATION 7
    ];
    for (const [setup, data] of outBad) {
      const r = await dev.controlTransferOut(setup, data as BufferSource);
      expect(r).toEqual({ status: 'stall', bytesWritten: 0 });
    }
    // the device is still in appIDLE: none of that reached the DFU class as a request
    expect(await getState(dev)).toBe(S.appIDLE);
  });

  it('OUT data is copied when the transfer starts (later changes by the page do not reach the device)', async () => {
    const dfu = await detachToDfu(await openDfu(await newDevice()));
    const image = await sample('good.tfw');
    const block = image.slice(0, 4096);
    const sent = dfuOut(dfu, 1, 0, block);
    block.fill(0);
    expect((await sent).status).toBe('ok');
    const st = await dfuIn(dfu, 3, 6);
    expect(st.data?.getUint8(0), 'bStatus OK: the real head arrived').toBe(0);
  });

  it('IN replies are truncated to wLength', async () => {
    const dev = await openDfu(await newDevice());
    expect((await dfuIn(dev, 3, 3)).data?.byteLength).toBe(3);
    expect((await vendorIn(dev, V.STATUS, 4)).data?.byteLength).toBe(4);
  });

  it('full-speed timing: a 4 KiB control transfer takes the wire time', async () => {
    const dev = await openDfu(await newDevice({ timing: 'full-speed' }));
    const t0 = performance.now();
    await dev.controlTransferIn({ requestType: 'vendor', recipient: 'interface', request: V.QUERY, value: 0, index: 1 }, 4096);
    await dev.controlTransferOut({ requestType: 'vendor', recipient: 'interface', request: V.MAINT, value: 1, index: 1 }, new Uint8Array(4096));
    // (45 + 63 × 13 + 4096) / 1500 + 1 ≈ 4.3 ms for the OUT alone
    expect(performance.now() - t0).toBeGreaterThanOrEqual(4);
  });
});

describe('navigator.usb-shaped bus', () => {
  it('requestDevice matches filters (class codes match interfaces); no match → NotFoundError; bad filters → TypeError', async () => {
    const usb = new EmulatedUsb();
    const dev = await createEmulatedNic({ factoryImage: await sample('factory.tfw'), usb });
    expect(await usb.requestDevice({ filters: [{ vendorId: 0x1209, productId: 0x7a01 }] })).toBe(dev);
    expect(await usb.requestDevice({ filters: [{ classCode: 0xfe, subclassCode: 0x01 }] })).toBe(dev);
    expect(await usb.requestDevice({ filters: [{ classCode: 0xfe, subclassCode: 0x01, protocolCode: 0x01 }] })).toBe(dev);
    expect(await usb.requestDevice({ filters: [{ serialNumber: dev.serialNumber! }] })).toBe(dev);
    await expect(usb.requestDevice({ filters: [{ classCode: 0xfe, subclassCode: 0x01, protocolCode: 0x02 }] })).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(usb.requestDevice({ filters: [{ vendorId: 0x0483 }] })).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(usb.requestDevice({ filters: [{}], exclusionFilters: [{ vendorId: 0x1209 }] })).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(usb.requestDevice({ filters: [{ productId: 0x7a01 }] })).rejects.toThrow(TypeError);
    await expect(usb.requestDevice({ filters: [{ classCode: 0xfe, protocolCode: 2 }] })).rejects.toThrow(TypeError);
  });

  it('several NICs on one bus; connect / disconnect events with onconnect / ondisconnect', async () => {
    const usb = new EmulatedUsb();
    const factoryImage = await sample('factory.tfw');
    const a = await createEmulatedNic({ factoryImage, usb, identity: { serial: 'TFN-A' } });
    const b = await createEmulatedNic({ factoryImage, usb, identity: { serial: 'TFN-B' } });
    expect((await usb.getDevices()).map((d) => d.serialNumber)).toEqual(['TFN-A', 'TFN-B']);
    const seen: string[] = [];
    usb.onconnect = (e) => void seen.push(`connect ${e.device.serialNumber}`);
    usb.ondisconnect = (e) => void seen.push(`disconnect ${e.device.serialNumber}`);
    const dfu = await detachToDfu(await openDfu(b));
    expect(seen).toEqual(['disconnect TFN-B', 'connect TFN-B']);
    expect(await usb.getDevices()).toEqual([a, dfu]);
  });

  it('forget(): the permission goes — the device is no longer listed and its re-enumeration is not announced', async () => {
    const dev = await openDfu(await newDevice());
    const usb = dev.usb;
    let connects = 0;
    usb.addEventListener('connect', () => void connects++);
    await dev.forget();
    expect(dev.opened).toBe(false);
    expect(await usb.getDevices()).toEqual([]);
    await dev.open();
    await dev.claimInterface(1);
    const hidden = new Promise<void>((resolve) => setTimeout(resolve, 100));
    await dfuOut(dev, 0, 1000); // DETACH: the device re-enumerates
    await hidden;
    expect(connects).toBe(0);
    expect(await usb.getDevices()).toEqual([]);
    // requestDevice grants it again
    const again = await usb.requestDevice({ filters: [{ vendorId: 0x1209 }] });
    expect(again.personality).toBe('dfu');
    expect(await usb.getDevices()).toEqual([again]);
  });

  it('a NIC reset from outside (nic.reset()) re-enumerates the device as well', async () => {
    const dev = await openDfu(await newDevice());
    const back = nextConnect(dev.usb);
    await dev.nic.reset();
    expect(dev.opened).toBe(false);
    const again = await back;
    await openDfu(again);
    expect(await getState(again)).toBe(S.appIDLE);
  });

  it('a run-time USB reset keeps the USBDevice (same descriptors)', async () => {
    const dev = await openDfu(await newDevice());
    await dev.reset();
    expect(dev.opened).toBe(true);
    expect(await getState(dev)).toBe(S.appIDLE);
  });
});
