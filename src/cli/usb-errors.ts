/**
 * The `usb` package's errors, translated in one place into what WebUSB callers act on: a STALL (a
 * transfer result, not an exception) or a DOMException name (fromUsbError in core/dfu/errors.ts
 * takes it from there). Decisions are made on codes, never on free text:
 *
 * - usb@3 (nusb under napi-rs) rejects with an Error "<operation> error: <what>", where <what> is
 *   either a transfer error kind (nusb's `TransferError`, whose Display strings are fixed:
 *   "endpoint stalled", "device disconnected", …) or an OS error with its errno, "(errno N)" or
 *   "(os error N)" (its `code` is napi's GenericFailure, which says nothing);
 * - usb@2 (libusb) put a LIBUSB_ERROR_* name in `code` or in front of the text.
 *
 * Each is looked up in a table below; anything else is a NetworkError (the device stopped
 * answering) keeping the stack's own words.
 */

export type UsbErrorKind = 'stall' | 'NotFoundError' | 'SecurityError' | 'InvalidStateError' | 'NetworkError' | 'TimeoutError' | 'AbortError' | 'NotSupportedError';

/** nusb's TransferError kinds, by their Display text (nusb/src/transfer/mod.rs). */
const NUSB_TRANSFER: Readonly<Record<string, UsbErrorKind>> = {
  'endpoint stalled': 'stall',
  'device disconnected': 'NotFoundError',
  'transfer was cancelled': 'AbortError',
  'hardware fault or protocol violation': 'NetworkError',
  'invalid or unsupported argument': 'NotSupportedError',
};

/** Linux errno values a USB stack reports (asm-generic/errno-base.h, errno.h). */
export const USB_ERRNO: Readonly<Record<number, { readonly name: string; readonly kind: UsbErrorKind }>> = {
  1: { name: 'EPERM', kind: 'SecurityError' },
  2: { name: 'ENOENT', kind: 'NotFoundError' },
  13: { name: 'EACCES', kind: 'SecurityError' },
  16: { name: 'EBUSY', kind: 'InvalidStateError' },
  19: { name: 'ENODEV', kind: 'NotFoundError' },
  32: { name: 'EPIPE', kind: 'stall' },
  71: { name: 'EPROTO', kind: 'NetworkError' },
  108: { name: 'ESHUTDOWN', kind: 'NotFoundError' },
  110: { name: 'ETIMEDOUT', kind: 'TimeoutError' },
};

/** libusb's error names (libusb.h, enum libusb_error), for the usb@2 shape. */
const LIBUSB: Readonly<Record<string, UsbErrorKind>> = {
  LIBUSB_ERROR_IO: 'NetworkError',
  LIBUSB_ERROR_ACCESS: 'SecurityError',
  LIBUSB_ERROR_NO_DEVICE: 'NotFoundError',
  LIBUSB_ERROR_NOT_FOUND: 'NotFoundError',
  LIBUSB_ERROR_BUSY: 'InvalidStateError',
  LIBUSB_ERROR_TIMEOUT: 'TimeoutError',
  LIBUSB_ERROR_PIPE: 'stall',
  LIBUSB_ERROR_INTERRUPTED: 'AbortError',
  LIBUSB_ERROR_NOT_SUPPORTED: 'NotSupportedError',
  LIBUSB_TRANSFER_STALL: 'stall',
  LIBUSB_TRANSFER_NO_DEVICE: 'NotFoundError',
  LIBUSB_TRANSFER_TIMED_OUT: 'TimeoutError',
  LIBUSB_TRANSFER_CANCELLED: 'AbortError',
};

const OPERATION = /^[A-Za-z]+ error: /;
const OS_ERROR = /\((?:os error|errno) (\d+)\)\s*$/;
const LIBUSB_NAME = /^(LIBUSB_(?:ERROR|TRANSFER)_[A-Z_]+)\b/;

export interface ClassifiedUsbError {
  readonly kind: UsbErrorKind;
  /** The code it was recognised by ("ENODEV", "endpoint stalled", "LIBUSB_ERROR_PIPE"), or undefined. */
  readonly code: string | undefined;
  /** The stack's own words, never empty. */
  readonly message: string;
}

/** What a `usb` package error is. */
export function classifyUsbError(e: unknown): ClassifiedUsbError {
  const rawCode = (e as { code?: unknown })?.code;
  const errno = (e as { errno?: unknown })?.errno;
  const text = (e as Error)?.message ?? (typeof e === 'string' ? e : '');
  // usb@3 sometimes rejects with an empty message (seen when the device vanishes mid-transfer)
  const message = text || (rawCode !== undefined ? String(rawCode) : '') || (e instanceof Error ? 'the USB stack gave no reason' : String(e));
  const what = text.replace(OPERATION, '').trim().toLowerCase();
  const transfer = NUSB_TRANSFER[what];
  if (transfer) return { kind: transfer, code: what, message };
  const os = OS_ERROR.exec(text);
  const n = os ? Number(os[1]) : typeof errno === 'number' ? Math.abs(errno) : undefined;
  if (n !== undefined && USB_ERRNO[n]) return { kind: USB_ERRNO[n].kind, code: USB_ERRNO[n].name, message };
  const lib = typeof rawCode === 'string' && LIBUSB[rawCode] ? rawCode : LIBUSB_NAME.exec(text)?.[1];
  if (lib && LIBUSB[lib]) return { kind: LIBUSB[lib], code: lib, message };
  return { kind: 'NetworkError', code: undefined, message };
}

/** A `usb` package error as the DOMException a browser's WebUSB would throw (a stall is handled before). */
export function webUsbError(e: unknown): Error {
  const c = classifyUsbError(e);
  return new DOMException(c.message, c.kind === 'stall' ? 'NetworkError' : c.kind);
}

/** True when the error is a STALL, which WebUSB reports as a transfer status instead. */
export const isStall = (e: unknown): boolean => classifyUsbError(e).kind === 'stall';

/** True when the machine has no USB subsystem to enumerate (a container without /sys/bus/usb). */
export function isNoUsbSubsystem(e: unknown): boolean {
  const c = classifyUsbError(e);
  return c.code === 'ENOENT' || c.message.includes('/sys/bus/usb/devices/ not found');
}
