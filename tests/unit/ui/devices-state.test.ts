import { describe, expect, it } from 'vitest';
import { DeviceChannel } from '../../../src/ui/state/device-channel.ts';
import { DevicesState } from '../../../src/ui/state/devices.svelte.ts';
import { MaintenanceState } from '../../../src/ui/state/maintenance.svelte.ts';
import type { DeviceQuery } from '../../../src/core/update/query.ts';
import type { DeviceSummary } from '../../../src/service/device-protocol.ts';
import { FakeBackend, tick } from './fake-backend.ts';

const nic = (serial: string, psid = 'TF_0000000001'): DeviceSummary => ({ serial, kind: 'emulated', label: 'Emulated NIC', psid, timing: 'instant', faults: [] });
const query = (running: string, pending?: string): DeviceQuery => ({
  fwVersionRunning: running,
  ...(pending ? { fwVersionPending: pending } : {}),
  psid: 'TF_0000000001',
  deviceId: 4129,
  serial: 'TFN0000001',
  baseMac: 'b8cef6000001',
  securityAttributes: { raw: 1, secureFw: true, signedFw: false, dev: false, csToken: false },
  efuseSecurityVer: 2,
  imageSecurityVer: 2,
  keyIds: ['04ce2a9b6b927144d303348230b070ecc9e96df9046b5539cbd2380f74880ec9'],
  forbiddenVersions: ['28.38.1000'],
  banks: { active: 0, pending: pending ? 1 : null, lengths: [67639, pending ? 67728 : 0] },
});

function setup(opts: Partial<ConstructorParameters<typeof DevicesState>[0]> = {}) {
  const fake = new FakeBackend();
  const channel = new DeviceChannel(fake);
  const devices = new DevicesState({ channel, baseUrl: 'http://app.test/', usbSupport: 'available', ...opts });
  return { fake, devices, channel };
}

describe('DevicesState', () => {
  it('start sends init with the base URL; the first device is selected and its QUERY becomes flint q rows', async () => {
    const { fake, devices } = setup();
    const started = devices.start();
    expect(devices.busy).toBe('starting the emulated NIC');
    const init = fake.last('init')!;
    expect(init.baseUrl).toBe('http://app.test/');
    fake.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
    fake.emit({ kind: 'query', serial: 'TFN0000001', query: query('28.39.1002') });
    fake.done(init.id);
    await started;
    expect(devices.ready).toBe(true);
    expect(devices.busy).toBeUndefined();
    expect(devices.selectedSerial).toBe('TFN0000001');
    const rows = Object.fromEntries(devices.fields.map((f) => [f.id, f.value]));
    expect(rows).toMatchObject({ running: '28.39.1002', pending: 'none', psid: 'TF_0000000001', 'device-id': '4129 (0x1021)', 'base-mac': 'b8:ce:f6:00:00:01', security: 'secure-fw', svn: '2 / 2 / –', forbidden: '28.38.1000' });
    expect(rows['key-ids']).toBe('04ce2a9b6b92…');
    expect(devices.fields.find((f) => f.id === 'key-ids')?.title).toHaveLength(64);
    expect(devices.flint).toContain('PSID:                  TF_0000000001');
  });

  it('reset: the notice names the version the device runs afterwards', async () => {
    const { fake, devices } = setup();
    fake.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
    const reset = devices.resetDevice();
    const req = fake.last('reset-device')!;
    expect(req.serial).toBe('TFN0000001');
    fake.emit({ kind: 'query', serial: 'TFN0000001', query: query('28.40.1000') });
    fake.done(req.id);
    expect(await reset).toBe(true);
    expect(devices.notice).toBe('Reset done: TFN0000001 now runs 28.40.1000.');
    expect(devices.query?.fwVersionRunning).toBe('28.40.1000');
  });

  it("a failed request shows the device side's error and clears busy", async () => {
    const { fake, devices } = setup();
    fake.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
    const p = devices.powerCycle();
    fake.done(fake.last('power-cycle')!.id, 'busy: updating; wait for it to finish');
    expect(await p).toBe(false);
    expect(devices.error).toBe('busy: updating; wait for it to finish');
    expect(devices.busy).toBeUndefined();
  });

  it('adding a NIC selects it; faults and timing go to the selected one', async () => {
    const { fake, devices } = setup();
    fake.reply = (req, f) => {
      if (req.kind === 'add-nic') f.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001'), nic('TFN0000002', req.psid)] });
      f.done(req.id);
    };
    fake.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
    expect(await devices.addNic('MT_0000000999')).toBe(true);
    expect(fake.last('add-nic')!.psid).toBe('MT_0000000999');
    expect(devices.selectedSerial).toBe('TFN0000002');
    expect(devices.selected?.psid).toBe('MT_0000000999');
    await devices.setFaults([{ kind: 'power-loss', block: 3 }]);
    expect(fake.last('set-faults')).toMatchObject({ serial: 'TFN0000002', faults: [{ kind: 'power-loss', block: 3 }] });
    await devices.setTiming('full-speed');
    expect(fake.last('set-timing')).toMatchObject({ serial: 'TFN0000002', timing: 'full-speed' });
    devices.select('nope');
    expect(devices.selectedSerial).toBe('TFN0000002');
    devices.select('TFN0000001');
    expect(devices.selectedSerial).toBe('TFN0000001');
  });

  it('real USB: without WebUSB a plain explanation; with it, the picked device is adopted by the page side', async () => {
    const none = setup({ usbSupport: 'no-webusb' });
    expect(await none.devices.connectUsb()).toBe(false);
    expect(none.devices.error).toMatch(/no WebUSB/);
    expect(none.fake.sent).toHaveLength(0);

    const insecure = setup({ usbSupport: 'insecure' });
    await insecure.devices.connectUsb();
    expect(insecure.devices.error).toMatch(/secure context/);

    const cancelled = setup({ requestUsbDevice: () => Promise.reject(Object.assign(new Error('No device selected.'), { name: 'NotFoundError' })) });
    expect(await cancelled.devices.connectUsb()).toBe(false);
    expect(cancelled.devices.error).toBe('No device was chosen.');

    const device = { serialNumber: 'REAL1' } as USBDevice;
    const bus = { getDevices: async () => [], addEventListener() {}, removeEventListener() {} };
    const { fake, devices } = setup({ requestUsbDevice: async () => ({ device, bus }) });
    fake.reply = (req, f) => {
      if (req.kind === 'adopt-usb') f.emit({ kind: 'devices', source: 'usb', devices: [{ serial: 'REAL1', kind: 'usb', label: 'NIC', faults: [] }] });
      f.done(req.id);
    };
    fake.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
    expect(await devices.connectUsb()).toBe(true);
    expect(fake.last('adopt-usb')).toMatchObject({ device, bus });
    expect(devices.devices.map((d) => d.serial)).toEqual(['TFN0000001', 'REAL1']);
    expect(devices.selectedSerial).toBe('REAL1');
    expect(devices.isEmulated).toBe(false);
  });

  it('real USB devices the page may already use (picked before, or allowed by policy) are connected at start, DFU-class ones only', async () => {
    const dfu = (serialNumber: string, cls = 0xfe, sub = 0x01) =>
      ({ serialNumber, productName: `NIC ${serialNumber}`, configurations: [{ interfaces: [{ alternates: [{ interfaceClass: 0xff, interfaceSubclass: 0, interfaceProtocol: 0 }] }, { alternates: [{ interfaceClass: cls, interfaceSubclass: sub, interfaceProtocol: 1 }] }] }] }) as unknown as USBDevice;
    const bus = { getDevices: async () => [], addEventListener() {}, removeEventListener() {} };
    const granted = [dfu('REAL1'), dfu('MOUSE', 0x03, 0x01), dfu('REAL2')];
    const { fake, devices } = setup({ grantedUsbDevices: async () => granted.map((device) => ({ device, bus })) });
    const adopted: string[] = [];
    fake.reply = (req, f) => {
      if (req.kind === 'init') f.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
      if (req.kind === 'adopt-usb') {
        adopted.push(req.device.serialNumber!);
        f.emit({ kind: 'devices', source: 'usb', devices: adopted.map((serial) => ({ serial, kind: 'usb', label: 'NIC', faults: [] })) });
      }
      f.done(req.id);
    };
    await devices.start();
    expect(adopted).toEqual(['REAL1', 'REAL2']);
    expect(devices.devices.map((d) => d.serial)).toEqual(['TFN0000001', 'REAL1', 'REAL2']);
    expect(devices.selectedSerial).toBe('TFN0000001'); // the emulated NIC stays the default
    expect(devices.error).toBeUndefined();

    // without WebUSB nothing is asked; a failing getDevices() is said, not thrown
    const none = setup({ usbSupport: 'no-webusb', grantedUsbDevices: async () => { throw new Error('should not be called'); } });
    none.fake.reply = (req, f) => f.done(req.id);
    await none.devices.start();
    expect(none.fake.sent.filter((r) => r.req.kind === 'adopt-usb')).toHaveLength(0);
    const broken = setup({ grantedUsbDevices: async () => { throw new Error('the USB service is down'); } });
    broken.fake.reply = (req, f) => f.done(req.id);
    await broken.devices.start();
    expect(broken.devices.error).toBe('Could not list the USB devices this page may use: the USB service is down');
  });

  it('a maintenance command: the refusal with the register status and what mstflint prints', async () => {
    const { fake, devices, channel } = setup();
    const maintenance = new MaintenanceState({ channel, devices });
    fake.emit({ kind: 'devices', source: 'emulator', devices: [nic('TFN0000001')] });
    const p = maintenance.send('ROM_BURN');
    const req = fake.last('maintenance')!;
    expect(req).toMatchObject({ serial: 'TFN0000001', op: 'ROM_BURN' });
    fake.emit({ kind: 'maintenance', serial: 'TFN0000001', op: 'ROM_BURN', refused: true, deviceText: 'Unsupported operation under Secure FW', registerStatus: 6, mstflint: '-E- Burn ROM failed: Unsupported operation under Secure FW' });
    fake.done(req.id);
    await p;
    expect(devices.busy).toBeUndefined();
    expect(maintenance.result).toEqual({ op: 'ROM_BURN', refused: true, device: 'Unsupported operation under Secure FW', status: '0x06 METHOD_NOT_SUPP', mstflint: '-E- Burn ROM failed: Unsupported operation under Secure FW' });
  });

  it('a failed device side (the worker died) rejects what is in flight', async () => {
    const { fake, devices } = setup();
    const p = devices.start();
    fake.emit({ kind: 'done', id: -1, error: { code: 'Internal', message: 'the device worker failed: boom' } });
    await p;
    await tick();
    expect(devices.error).toBe('the device worker failed: boom');
  });
});
