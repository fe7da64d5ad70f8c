/**
 * `trustflash/emulator`: an emulated secure NIC behind a WebUSB-shaped USBDevice. The same host
 * code that drives navigator.usb (or Node's `usb`) drives this; it runs in a page, a Worker and
 * Node (no node: imports).
 *
 *   const device = await createEmulatedNic({ factoryImage });
 *   device.usb.addEventListener('connect', (e) => …); // re-enumerations (DETACH, reset, faults)
 *   device.nic                                         // the hardware: flash, faults, reset()
 */
import { EmulatedNic, type NicOptions } from './nic.ts';
import { checkLandingPage } from './usb/bos.ts';
import { checkTransferSize } from './usb/descriptors.ts';
import { NicUsbFunction, type UsbFunctionOptions } from './usb/nic-usb-function.ts';
import { EmulatedUsb, plugIn, type EmulatedUSBDevice } from './usb/usb-device.ts';

export interface EmulatedNicOptions extends NicOptions, UsbFunctionOptions {
  /** Put the NIC on this bus (several NICs on one navigator.usb); default a new bus. */
  readonly usb?: EmulatedUsb;
}

/** Manufactures (or restores) a NIC, powers it on and plugs its USB function in: returns the first enumeration. */
export async function createEmulatedNic(options: EmulatedNicOptions): Promise<EmulatedUSBDevice> {
  if (options.transferSize !== undefined) checkTransferSize(options.transferSize);
  if (options.landingPage !== undefined) checkLandingPage(options.landingPage);
  const nic = await EmulatedNic.create(options);
  const fn = new NicUsbFunction(nic, options);
  return plugIn(fn, options.usb ?? new EmulatedUsb());
}

export { EmulatedUsb };
// the package's public surface for hosts, tools and the app: nothing outside src/emulator (and the
// gadget, which serves its USB function) reaches past this file (tests/unit/layering)
export { applyFlashOps, decodeState, encodeState, STATE_PAGE_SIZE, watchFlash, writeState, type FlashOp } from './persist.ts';
export { parseFault, describeFault } from './faults.ts';
export { checkLandingPage } from './usb/bos.ts';
export type { EmulatedUSBDevice, EmulatedUSBConnectionEvent } from './usb/usb-device.ts';
export { EmulatedNic } from './nic.ts';
export type { NicOptions, NicState, NicEvent } from './nic.ts';
export { NicUsbFunction } from './usb/nic-usb-function.ts';
export type { Fault } from './faults.ts';
export type { TimingName } from './timing.ts';
export type { Identity } from './factory.ts';
export type { AttestationIssuer, AttestationRequest } from './attestation.ts';
export { NO_RECEIPT, NO_RECEIPT_TEXT } from './firmware.ts';
