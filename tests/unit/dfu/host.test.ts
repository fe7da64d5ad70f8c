/**
 * The DFU host (src/core/dfu/host.ts) against the emulated NIC's real USB function, and against
 * devices that lie (answers edited on the way) or vanish.
 */
import { describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { UpdateError } from '../../../src/core/dfu/errors.ts';
import { DFU_STATE } from '../../../src/core/dfu/spec.ts';
import { recordDevice, replayDevice, ReplayMismatch, wrapDevice } from '../../../src/core/dfu/record.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { detachToDfu, newDevice, openDfu, sample } from '../emulator/host.ts';
import type { EmulatedUSBDevice } from '../../../src/emulator/index.ts';

async function dfuHost(dev: USBDevice) {
  const host = new DfuHost(dev);
  await host.open();
  return host;
}

async function inDfuMode(opts = {}): Promise<EmulatedUSBDevice> {
  const dev = await newDevice(opts);
  await openDfu(dev);
  return detachToDfu(dev);
}

/** A device whose answers pass through `edit` (a lying device built on the real one). */
function lying(dev: USBDevice, edit: (setup: USBControlTransferParameters, data: Uint8Array) => Uint8Array): USBDevice {
  return wrapDevice(dev, {
    controlTransferIn: async (setup: USBControlTransferParameters, length: number) => {
      const r = await dev.controlTransferIn(setup, length);
      const bytes = edit(setup, r.data ? new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength).slice() : new Uint8Array(0));
      return { status: r.status, data: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) } as USBInTransferResult;
    },
  });
}

describe('DfuHost on the emulated NIC', () => {
  it('finds the run-time DFU interface, detaches, and finds the device again by serial in DFU mode', async () => {
    const dev = await newDevice();
    const host = await dfuHost(dev);
    expect(host.mode).toBe('runtime');
    expect(host.functional).toMatchObject({ canDownload: true, canUpload: true, manifestationTolerant: true, willDetach: true, transferSize: 4096, dfuVersion: 0x0110 });
    const serial = dev.serialNumber;
    const back = new Promise<USBDevice>((resolve) => dev.usb.addEventListener('connect', (e) => resolve((e as unknown as { device: USBDevice }).device), { once: true }));
    await host.detach();
    const again = await back;
    expect([again.vendorId, again.productId, again.serialNumber]).toEqual([dev.vendorId, dev.productId, serial]);
    const h2 = await dfuHost(again);
    expect(h2.mode).toBe('dfu');
    expect(await h2.getState()).toBe(DFU_STATE.dfuIDLE);
  });

  it('downloads a signed image: manifestation ends in dfuIDLE and the NIC has it pending', async () => {
    const dev = await inDfuMode();
    const host = await dfuHost(dev);
    const seen: number[] = [];
    const r = await host.download(await sample('good.tfw'), { onProgress: (p) => seen.push(p.done) });
    expect(r.final?.state).toBe(DFU_STATE.dfuIDLE);
    expect(seen.every((v, i) => i === 0 || v > seen[i - 1]!)).toBe(true);
    expect((await new NicClient(host).query()).fwVersionPending).toBe('28.40.1000');
  });

  it('a rejected image fails at the block where the device knows it, with status, state and reason', async () => {
    const host = await dfuHost(await inDfuMode());
    const err = await host.download(await sample('unsigned.tfw')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateError);
    expect((err as UpdateError).code).toBe('Rejected');
    expect((err as UpdateError).message).toMatch(/^cannot download block 0 \(of blocks 0\.\.16\): device reported errVERIFY in dfuERROR \(.*\): The component is not signed \(MCC error 0x06\)/);
    // the host cleaned up: the device is back in dfuIDLE and takes the good image
    expect(await host.getState()).toBe(DFU_STATE.dfuIDLE);
    // format v2: the bad hash block is refused by the DNLOAD that completes it, named in the iString
    const early = await host.download(await sample('tampered-payload.tfw')).catch((e: unknown) => e as UpdateError);
    expect((early as UpdateError).message).toMatch(/^cannot download block 12 \(of blocks 0\.\.16\): device reported errVERIFY in dfuERROR \(.*\): The Digest in the signature is wrong \(MCC error 0x02\): hash block 2 does not match its signed digest \(DFU block 12\)$/);
    // format v1 keeps its whole-payload digest: refused at manifestation
    const v1 = (await sample('factory.tfw')).slice();
    v1[v1.length - 10]! ^= 1;
    const late = await host.download(v1).catch((e: unknown) => e as UpdateError);
    expect((late as UpdateError).message).toMatch(/manifestation failed: device reported errVERIFY.*Digest/);
    expect((await host.download(await sample('good.tfw'))).final?.state).toBe(DFU_STATE.dfuIDLE);
  });

  it('uploads the running image byte for byte, and normalises a device left in dfuERROR', async () => {
    const dev = await inDfuMode();
    const host = await dfuHost(dev);
    const factory = await sample('factory.tfw');
    const up = await host.upload();
    expect(Buffer.from(up).equals(Buffer.from(factory))).toBe(true);
    // provoke dfuERROR with a request the state does not allow (UPLOAD data while DNLOAD-IDLE would do; CLRSTATUS in dfuIDLE stalls)
    await dev.controlTransferOut({ requestType: 'class', recipient: 'interface', request: 4, value: 0, index: host.interface.interfaceNumber });
    expect((await host.getStatus()).state).toBe(DFU_STATE.dfuERROR);
    expect((await host.normalize()).state).toBe(DFU_STATE.dfuIDLE);
  });

  it('a transfer size of 65535 works too', async () => {
    const host = await dfuHost(await inDfuMode({ transferSize: 65535 }));
    expect(host.functional.transferSize).toBe(65535);
    expect((await host.download(await sample('good.tfw'))).final?.state).toBe(DFU_STATE.dfuIDLE);
  });
});

describe('record and replay', () => {
  it('a recorded download replays to the same result; a host that deviates is named at the step', async () => {
    const dev = await inDfuMode();
    const { device, recording } = recordDevice(dev);
    const host = await dfuHost(device);
    const good = await sample('good.tfw');
    await host.download(good);
    expect(recording.transfers.length).toBeGreaterThan(17 * 2);
    const json = JSON.parse(JSON.stringify(recording));
    const replay = await dfuHost(replayDevice(json));
    expect((await replay.download(good)).final?.state).toBe(DFU_STATE.dfuIDLE);
    const other = await dfuHost(replayDevice(json));
    await expect(other.download(good, { blockSize: 1024 })).rejects.toBeInstanceOf(UpdateError);
    const strict = replayDevice(json);
    await expect(strict.controlTransferIn({ requestType: 'class', recipient: 'interface', request: 5, value: 0, index: 0 }, 1)).rejects.toBeInstanceOf(ReplayMismatch);
  });
});

describe('lying and vanishing devices', () => {
  it('a configuration descriptor with a zero bLength, or a wTotalLength it does not send, is an InvalidData error', async () => {
    const dev = await newDevice();
    const zero = lying(dev, (s, d) => (s.request === 6 && d.length > 9 ? Uint8Array.from(d, (b, i) => (i === 9 ? 0 : b)) : d));
    await expect(new DfuHost(zero).open()).rejects.toMatchObject({ code: 'InvalidData', message: expect.stringMatching(/bLength.*is 0/) });
    const short = lying(dev, (s, d) => (s.request === 6 && d.length > 9 ? d.subarray(0, d.length - 3) : d));
    await expect(new DfuHost(short).open()).rejects.toMatchObject({ code: 'InvalidData', message: expect.stringMatching(/wTotalLength/) });
    const huge = lying(dev, (s, d) => (s.request === 6 && d.length === 9 ? Uint8Array.from(d, (b, i) => (i === 3 ? 0xff : b)) : d));
    await expect(new DfuHost(huge).open()).rejects.toMatchObject({ code: 'InvalidData', message: expect.stringMatching(/claims \d+ bytes/) });
  });

  it('a short GETSTATUS or an impossible state is refused, not trusted', async () => {
    const dev = await inDfuMode();
    const short = await dfuHost(lying(dev, (s, d) => (s.requestType === 'class' && s.request === 3 ? d.subarray(0, 4) : d)));
    await expect(short.getStatus()).rejects.toMatchObject({ code: 'InvalidData', message: expect.stringMatching(/answered 4 bytes/) });
    const impossible = await dfuHost(lying(dev, (s, d) => (s.requestType === 'class' && s.request === 3 ? Uint8Array.from(d, (b, i) => (i === 4 ? 42 : b)) : d)));
    await expect(impossible.getStatus()).rejects.toMatchObject({ code: 'InvalidData', message: expect.stringMatching(/state 42/) });
  });

  it('a device that vanishes mid-download gives a NotFound error with the block, and a clean stop', async () => {
    const dev = await inDfuMode({ faults: [{ kind: 'disconnect', block: 5 }] });
    const host = await dfuHost(dev);
    const err = (await host.download(await sample('good.tfw')).catch((e: unknown) => e)) as UpdateError;
    expect(err.code).toBe('NotFound');
    expect(err.message).toMatch(/cannot download block 5 \(of blocks 0\.\.16\)/);
  });

  it('a device that never answers hits the deadline', async () => {
    const dev = await inDfuMode();
    const stuck = wrapDevice(dev, { controlTransferIn: () => new Promise<USBInTransferResult>(() => {}) });
    const host = new DfuHost(stuck, { deadlineMs: 50 });
    await expect(host.open()).rejects.toMatchObject({ code: 'TimedOut' });
  });
});

describe('untrusted device text', () => {
  it('control characters in a string descriptor never reach the caller', async () => {
    const { parseString } = await import('../../../src/core/dfu/descriptors.ts');
    const text = 'evil\u001b[2J\u202etext';
    const utf16 = new Uint8Array(2 + text.length * 2);
    utf16[0] = utf16.length;
    utf16[1] = 3;
    for (let i = 0; i < text.length; i++) {
      utf16[2 + 2 * i] = text.charCodeAt(i) & 0xff;
      utf16[3 + 2 * i] = text.charCodeAt(i) >> 8;
    }
    const r = parseString(utf16);
    expect(r.ok && r.value).toBe('evil\ufffd[2J\ufffdtext');
  });
});

describe('transfer order', () => {
  it('transfers issued together reach the device one at a time, in the order issued, even when the transport would reorder them', async () => {
    const dev = await newDevice();
    const seen: string[] = [];
    let onBus = 0;
    let most = 0;
    // a transport that finishes the first STATUS read late: issued at once, it would let the second overtake it
    let first = true;
    const slowFirst = wrapDevice(dev, {
      controlTransferIn: async (setup: USBControlTransferParameters, length: number) => {
        most = Math.max(most, ++onBus);
        seen.push(`in ${setup.request.toString(16)}`);
        if (first) {
          first = false;
          await new Promise((r) => setTimeout(r, 30));
        }
        try {
          return await dev.controlTransferIn(setup, length);
        } finally {
          onBus--;
        }
      },
    });
    const host = await dfuHost(slowFirst);
    const nic = new NicClient(host);
    seen.length = 0;
    most = 0;
    first = true;
    const [a, b, c] = await Promise.all([nic.status(), nic.query(), nic.status()]);
    expect(seen).toEqual(['in 41', 'in 40', 'in 41']);
    expect(most).toBe(1);
    expect([a.state, c.state]).toEqual([0, 0]);
    expect(b.fwVersionRunning).toBe('28.39.1002');
  });
});

