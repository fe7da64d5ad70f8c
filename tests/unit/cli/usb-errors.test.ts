/**
 * The `usb` package's errors, classified by code in one place (src/cli/usb-errors.ts): nusb's
 * transfer error kinds, errno values and libusb names become WebUSB's stall result or DOMException
 * names, which the DFU host and the session act on; the message is never empty.
 */
import { describe, expect, it } from 'vitest';
import { classifyUsbError, isNoUsbSubsystem, isStall, USB_ERRNO, webUsbError } from '../../../src/cli/usb-errors.ts';

const napi = (message: string) => Object.assign(new Error(message), { code: 'GenericFailure' });

describe('usb errors', () => {
  it('usb@3 transfer error kinds, with and without the operation in front', () => {
    const cases: [string, string][] = [
      ['controlTransferIn error: endpoint stalled', 'stall'],
      ['controlTransferOut error: device disconnected', 'NotFoundError'],
      ['transferIn error: transfer was cancelled', 'AbortError'],
      ['controlTransferOut error: hardware fault or protocol violation', 'NetworkError'],
      ['controlTransferIn error: invalid or unsupported argument', 'NotSupportedError'],
      ['endpoint stalled', 'stall'],
    ];
    for (const [text, kind] of cases) expect(classifyUsbError(napi(text)).kind, text).toBe(kind);
  });

  it('errno values, as "(errno N)" and "(os error N)", every one in the table', () => {
    for (const [n, { name, kind }] of Object.entries(USB_ERRNO)) {
      expect(classifyUsbError(napi(`open error: something (errno ${n})`)), name).toMatchObject({ kind, code: name });
      expect(classifyUsbError(napi(`claimInterface error: resource busy (os error ${n})`)), name).toMatchObject({ kind, code: name });
      expect(classifyUsbError(Object.assign(new Error('x'), { errno: -Number(n) })), name).toMatchObject({ kind, code: name });
    }
  });

  it('usb@2 libusb names, in code or in front of the text', () => {
    expect(classifyUsbError(new Error('LIBUSB_ERROR_NO_DEVICE: No such device (it may have been disconnected)')).kind).toBe('NotFoundError');
    expect(classifyUsbError(new Error('LIBUSB_ERROR_ACCESS: Access denied (insufficient permissions)')).kind).toBe('SecurityError');
    expect(classifyUsbError(new Error('LIBUSB_ERROR_BUSY: Resource busy')).kind).toBe('InvalidStateError');
    expect(classifyUsbError(Object.assign(new Error(''), { code: 'LIBUSB_ERROR_PIPE' })).kind).toBe('stall');
    expect(classifyUsbError(new Error('LIBUSB_ERROR_IO: Input/Output Error')).kind).toBe('NetworkError');
  });

  it('words alone decide nothing: an unknown text is a NetworkError keeping its words', () => {
    for (const text of ['the device is busy today', 'permission to stall', 'Device disconnected?', 'no such device, maybe']) {
      const c = classifyUsbError(napi(text));
      expect([c.kind, c.code, c.message], text).toEqual(['NetworkError', undefined, text]);
    }
  });

  it('as WebUSB sees them: DOMExceptions, stalls apart, never an empty message', () => {
    const e = webUsbError(napi('controlTransferOut error: device disconnected'));
    expect(e).toBeInstanceOf(DOMException);
    expect(e.name).toBe('NotFoundError');
    expect(isStall(napi('controlTransferIn error: endpoint stalled'))).toBe(true);
    expect(isStall(napi('controlTransferIn error: device disconnected'))).toBe(false);
    expect(webUsbError(new Error('')).message).toBe('the USB stack gave no reason');
    expect(webUsbError(Object.assign(new Error(''), { code: 'LIBUSB_TRANSFER_ERROR' })).message).toBe('LIBUSB_TRANSFER_ERROR');
    expect(webUsbError('timeout').message).toBe('timeout');
  });

  it('a machine without a USB subsystem, as usb@3 says it here', () => {
    expect(isNoUsbSubsystem(napi('getDevices error: /sys/bus/usb/devices/ not found (errno 2)'))).toBe(true);
    expect(isNoUsbSubsystem(napi('getDevices error: /sys/bus/usb/devices/ permission denied (errno 13)'))).toBe(false);
  });
});
