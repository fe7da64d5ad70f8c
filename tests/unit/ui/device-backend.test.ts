import { describe, expect, it } from 'vitest';
import { combinedBackend } from '../../../src/ui/state/device-backend.ts';
import type { DeviceEvent } from '../../../src/service/device-protocol.ts';
import { FakeBackend } from './fake-backend.ts';

describe('combinedBackend', () => {
  it('sends real-USB devices to the page side and the rest to the emulator; session controls follow the last start', () => {
    const emulator = new FakeBackend();
    const usb = new FakeBackend();
    const both = combinedBackend(emulator, usb);
    const seen: DeviceEvent[] = [];
    both.onMessage((e) => seen.push(e));

    both.post({ id: 1, kind: 'init', baseUrl: 'http://app.test/' });
    const device = { serialNumber: 'REAL1' } as USBDevice;
    const bus = { getDevices: async () => [], addEventListener() {}, removeEventListener() {} };
    both.post({ id: 2, kind: 'adopt-usb', device, bus });
    usb.emit({ kind: 'devices', source: 'usb', devices: [{ serial: 'REAL1', kind: 'usb', label: 'NIC', faults: [] }] });
    emulator.emit({ kind: 'devices', source: 'emulator', devices: [{ serial: 'TFN0000001', kind: 'emulated', label: 'Emulated NIC', faults: [] }] });
    expect(seen.map((e) => e.kind)).toEqual(['devices', 'devices']);

    both.post({ id: 3, kind: 'query', serial: 'REAL1' });
    both.post({ id: 4, kind: 'query', serial: 'TFN0000001' });
    const bytes = new ArrayBuffer(4);
    both.post({ id: 5, kind: 'start', serial: 'REAL1', name: 'x.tfw', image: new Blob([bytes]), trust: [], mode: 'step' }, [bytes]);
    both.post({ id: 6, kind: 'step' });
    both.post({ id: 7, kind: 'cancel' });
    both.post({ id: 8, kind: 'start', serial: 'TFN0000001', name: 'x.tfw', image: new Blob([new Uint8Array(4)]), trust: [], mode: 'run' });
    both.post({ id: 9, kind: 'cancel' });

    expect(emulator.sent.map((s) => s.req.id)).toEqual([1, 4, 8, 9]);
    expect(usb.sent.map((s) => s.req.id)).toEqual([2, 3, 5, 6, 7]);
    expect(usb.sent.find((s) => s.req.id === 5)!.transfer).toEqual([bytes]);
  });
});
