/** usb@3's errors as WebUSB's DOMExceptions: the names the DFU host and session act on, never an empty message. */
import { describe, expect, it } from 'vitest';
import { webUsbError } from '../../../src/cli/usb.ts';

describe('webUsbError', () => {
  it('maps usb@3 texts to WebUSB DOMException names', () => {
    const cases: [string, string][] = [
      ['LIBUSB_ERROR_NO_DEVICE: No such device (it may have been disconnected)', 'NotFoundError'],
      ['Device disconnected', 'NotFoundError'],
      ['LIBUSB_ERROR_ACCESS: Access denied (insufficient permissions)', 'SecurityError'],
      ['LIBUSB_ERROR_BUSY: Resource busy', 'InvalidStateError'],
      ['LIBUSB_ERROR_IO: Input/Output Error', 'NetworkError'],
    ];
    for (const [text, name] of cases) {
      const e = webUsbError(new Error(text));
      expect(e).toBeInstanceOf(DOMException);
      expect([e.name, e.message], text).toEqual([name, text]);
    }
  });

  it('gives a message when usb@3 rejects with an empty one', () => {
    expect(webUsbError(new Error('')).message).toBe('the USB stack gave no reason');
    expect(webUsbError(Object.assign(new Error(''), { code: 'LIBUSB_TRANSFER_ERROR' })).message).toBe('LIBUSB_TRANSFER_ERROR');
    expect(webUsbError('timeout').message).toBe('timeout');
  });
});
