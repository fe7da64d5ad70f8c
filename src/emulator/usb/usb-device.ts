/**
 * WebUSB-shaped host objects over the emulated NIC's USB function: `EmulatedUSBDevice` is the
 * subset of USBDevice a DFU host uses (one object per enumeration, as in Chrome), `EmulatedUsb` is
 * a navigator.usb-shaped bus with connect / disconnect events. The checks a browser makes before a
 * transfer reaches the device (opened, interface claimed, device still there) are made here and
 * fail the way Chrome fails them (reference/usb-dfu-and-webusb.md §3.3–3.6); everything that
 * reaches the device is answered by the device (a malformed request is a STALL, never a throw).
 */
import type { EmulatedNic } from '../nic.ts';
import { CONFIGURATION_VALUE, DESCRIPTOR_TYPE, type DescriptorSet, type Personality } from './descriptors.ts';
import { disconnectedError, type Enumeration, type NicUsbFunction, type SetupPacket } from './nic-usb-function.ts';

const REQUEST_TYPES: Record<USBRequestType, number> = { standard: 0, class: 1, vendor: 2 };
const RECIPIENTS: Record<USBRecipient, number> = { device: 0, interface: 1, endpoint: 2, other: 3 };

function domError(name: string, message: string): DOMException {
  return new DOMException(message, name);
}
const notOpened = () => domError('InvalidStateError', 'The device must be opened first.');
const notClaimed = () => domError('InvalidStateError', 'The specified interface has not been claimed.');

/** BCD 0xJJMN → [JJ, M, N] (WebUSB §usbVersionMajor / deviceVersionMajor). */
function bcd(v: number): [number, number, number] {
  return [((v >> 12) & 0xf) * 10 + ((v >> 8) & 0xf), (v >> 4) & 0xf, v & 0xf];
}

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);

class EmulatedUSBAlternateInterface implements USBAlternateInterface {
  readonly endpoints: USBEndpoint[] = [];
  constructor(
    readonly alternateSetting: number,
    readonly interfaceClass: number,
    readonly interfaceSubclass: number,
    readonly interfaceProtocol: number,
    readonly interfaceName: string | null,
  ) {}
}

class EmulatedUSBInterface implements USBInterface {
  readonly #device: EmulatedUSBDevice;
  constructor(
    device: EmulatedUSBDevice,
    readonly interfaceNumber: number,
    readonly alternates: EmulatedUSBAlternateInterface[],
  ) {
    this.#device = device;
  }
  /** Only alternate setting 0 exists. */
  get alternate(): USBAlternateInterface {
    return this.alternates[0]!;
  }
  get claimed(): boolean {
    return this.#device.isClaimed(this.interfaceNumber);
  }
}

class EmulatedUSBConfiguration implements USBConfiguration {
  constructor(
    readonly configurationValue: number,
    readonly configurationName: string | null,
    readonly interfaces: EmulatedUSBInterface[],
  ) {}
}

/** Builds the configuration objects from the configuration descriptor bytes (our own, so well formed; still bounded). */
function configurationFrom(device: EmulatedUSBDevice, d: DescriptorSet): EmulatedUSBConfiguration {
  const b = d.configuration;
  const total = Math.min(u16(b, 2), b.length);
  const alts = new Map<number, EmulatedUSBAlternateInterface[]>();
  for (let at = b[0]!; at + 2 <= total && b[at]! >= 2; at += b[at]!) {
    if (b[at + 1] !== DESCRIPTOR_TYPE.INTERFACE || at + 9 > total) continue;
    const name = d.strings.get(b[at + 8]!) ?? null;
    const alt = new EmulatedUSBAlternateInterface(b[at + 3]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, name);
    const list = alts.get(b[at + 2]!) ?? [];
    list.push(alt);
    alts.set(b[at + 2]!, list);
  }
  const interfaces = [...alts].map(([n, list]) => new EmulatedUSBInterface(device, n, list));
  return new EmulatedUSBConfiguration(b[5]!, b[6] ? (d.strings.get(b[6]) ?? null) : null, interfaces);
}

function isByte(n: unknown, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
}

/** USBControlTransferParameters → SETUP fields, or undefined if they cannot form a valid SETUP packet. */
function setupFields(setup: USBControlTransferParameters, dirIn: boolean, wLength: number): SetupPacket | undefined {
  if (typeof setup !== 'object' || setup === null) return undefined;
  const type = REQUEST_TYPES[setup.requestType];
  const recipient = RECIPIENTS[setup.recipient];
  if (type === undefined || recipient === undefined) return undefined;
  if (!isByte(setup.request, 0xff) || !isByte(setup.value, 0xffff) || !isByte(setup.index, 0xffff) || !isByte(wLength, 0xffff)) return undefined;
  return { bmRequestType: (dirIn ? 0x80 : 0) | (type << 5) | recipient, bRequest: setup.request, wValue: setup.value, wIndex: setup.index, wLength };
}

function bytesOf(data: BufferSource | undefined): Uint8Array | undefined {
  if (data === undefined) return new Uint8Array(0);
  // copied once, before the first await (STYLE.md)
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return undefined;
}

export class EmulatedUSBDevice implements USBDevice {
  /** The emulated NIC behind this device (for tests, fault injection and the UI). */
  readonly nic: EmulatedNic;
  /** The bus this device is on. */
  readonly usb: EmulatedUsb;
  readonly usbVersionMajor: number;
  readonly usbVersionMinor: number;
  readonly usbVersionSubminor: number;
  readonly deviceClass: number;
  readonly deviceSubclass: number;
  readonly deviceProtocol: number;
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceVersionMajor: number;
  readonly deviceVersionMinor: number;
  readonly deviceVersionSubminor: number;
  readonly manufacturerName: string | null;
  readonly productName: string | null;
  readonly serialNumber: string | null;
  readonly configurations: USBConfiguration[];
  readonly #fn: NicUsbFunction;
  readonly #enumeration: Enumeration;
  #connected = true;
  #opened = false;
  #configured = true;
  readonly #claimed = new Set<number>();

  constructor(fn: NicUsbFunction, enumeration: Enumeration, usb: EmulatedUsb) {
    this.#fn = fn;
    this.#enumeration = enumeration;
    this.nic = fn.nic;
    this.usb = usb;
    const d = enumeration.descriptors;
    const dev = d.device;
    [this.usbVersionMajor, this.usbVersionMinor, this.usbVersionSubminor] = bcd(u16(dev, 2));
    this.deviceClass = dev[4]!;
    this.deviceSubclass = dev[5]!;
    this.deviceProtocol = dev[6]!;
    this.vendorId = u16(dev, 8);
    this.productId = u16(dev, 10);
    [this.deviceVersionMajor, this.deviceVersionMinor, this.deviceVersionSubminor] = bcd(u16(dev, 12));
    this.manufacturerName = d.strings.get(dev[14]!) ?? null;
    this.productName = d.strings.get(dev[15]!) ?? null;
    this.serialNumber = d.strings.get(dev[16]!) ?? null;
    this.configurations = [configurationFrom(this, d)];
  }

  /** 'runtime' or 'dfu': which descriptor set this enumeration shows. */
  get personality(): Personality {
    return this.#enumeration.descriptors.personality;
  }
  /** False once this enumeration has left the bus. */
  get connected(): boolean {
    return this.#connected;
  }
  get opened(): boolean {
    return this.#opened && this.#connected;
  }
  get configuration(): USBConfiguration | null {
    return this.#configured ? (this.configurations[0] ?? null) : null;
  }

  isClaimed(interfaceNumber: number): boolean {
    return this.opened && this.#claimed.has(interfaceNumber);
  }

  /** Called by the bus when this enumeration leaves it. */
  markDisconnected(): void {
    this.#connected = false;
    this.#opened = false;
    this.#claimed.clear();
  }

  #check(needOpen = true): void {
    if (!this.#connected) throw disconnectedError();
    if (needOpen && !this.#opened) throw notOpened();
  }

  #interface(n: number): EmulatedUSBInterface | undefined {
    const c = this.configuration as EmulatedUSBConfiguration | null;
    return c?.interfaces.find((i) => i.interfaceNumber === n);
  }

  async open(): Promise<void> {
    this.#check(false);
    this.#opened = true;
  }

  async close(): Promise<void> {
    this.#check(false);
    this.#opened = false;
    this.#claimed.clear();
  }

  async forget(): Promise<void> {
    if (this.#connected) await this.close();
    this.usb.revoke(this);
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.#check();
    if (configurationValue !== CONFIGURATION_VALUE) throw domError('NotFoundError', 'The configuration value provided is not supported by the device.');
    if (this.#configured) return;
    const r = await this.#fn.setConfiguration(this.#enumeration.id, configurationValue);
    if (r.status !== 'ok') throw domError('NetworkError', 'Unable to set device configuration.');
    this.#configured = true;
    this.#claimed.clear();
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    this.#check();
    if (!this.#configured) throw domError('InvalidStateError', 'The device must have a configuration selected.');
    if (!this.#interface(interfaceNumber)) throw domError('NotFoundError', 'The interface number provided is not supported by the device in its current configuration.');
    this.#claimed.add(interfaceNumber);
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    this.#check();
    if (!this.#interface(interfaceNumber)) throw domError('NotFoundError', 'The interface number provided is not supported by the device in its current configuration.');
    this.#claimed.delete(interfaceNumber);
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    this.#check();
    const i = this.#interface(interfaceNumber);
    if (!i) throw domError('NotFoundError', 'The interface number provided is not supported by the device in its current configuration.');
    if (!this.#claimed.has(interfaceNumber)) throw notClaimed();
    if (!i.alternates.some((a) => a.alternateSetting === alternateSetting)) {
      throw domError('NotFoundError', 'The alternate setting provided is not supported by the device in its current configuration.');
    }
    const r = await this.#fn.control(this.#enumeration.id, { bmRequestType: 0x01, bRequest: 11, wValue: alternateSetting, wIndex: interfaceNumber, wLength: 0 }, new Uint8Array(0));
    if (r.status !== 'ok') throw domError('NetworkError', 'Unable to set device interface.');
  }

  /** Chrome requires an interface-addressed transfer's interface to be claimed; a non-existent one reaches the device (STALL). */
  #checkRecipient(s: SetupPacket): void {
    if ((s.bmRequestType & 0x1f) !== RECIPIENTS.interface) return;
    const n = s.wIndex & 0xff;
    if (this.#interface(n) && !this.#claimed.has(n)) throw notClaimed();
  }

  async controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    this.#check();
    const s = setupFields(setup, true, length);
    if (!s) return { status: 'stall' };
    this.#checkRecipient(s);
    const r = await this.#fn.control(this.#enumeration.id, s, new Uint8Array(0));
    if (r.status === 'stall') return { status: 'stall' };
    const copy = r.data.slice();
    return { status: 'ok', data: new DataView(copy.buffer) };
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    this.#check();
    const bytes = bytesOf(data);
    const s = bytes && setupFields(setup, false, bytes.length);
    if (!bytes || !s) return { status: 'stall', bytesWritten: 0 };
    this.#checkRecipient(s);
    const r = await this.#fn.control(this.#enumeration.id, s, bytes);
    return r.status === 'ok' ? { status: 'ok', bytesWritten: bytes.length } : { status: 'stall', bytesWritten: 0 };
  }

  /**
   * A USB port reset. If the device comes back with other descriptors (DFU mode ↔ run-time) this
   * USBDevice is gone and Chrome reports the reset as failed (NetworkError); the new device arrives
   * with a connect event.
   */
  async reset(): Promise<void> {
    this.#check();
    const r = await this.#fn.usbReset(this.#enumeration.id);
    if (r === 'reenumerated') throw domError('NetworkError', 'Unable to reset the device.');
  }

  async clearHalt(_direction: USBDirection, _endpointNumber: number): Promise<void> {
    this.#check();
    throw domError('NotFoundError', 'The specified endpoint is not part of a claimed and selected alternate interface.');
  }

  #noEndpoints(): Promise<never> {
    this.#check();
    return Promise.reject(domError('NotSupportedError', 'The emulated NIC has no endpoints besides EP0: use control transfers.'));
  }
  async transferIn(_endpointNumber: number, _length: number): Promise<USBInTransferResult> {
    return this.#noEndpoints();
  }
  async transferOut(_endpointNumber: number, _data: BufferSource): Promise<USBOutTransferResult> {
    return this.#noEndpoints();
  }
  async isochronousTransferIn(_endpointNumber: number, _packetLengths: number[]): Promise<USBIsochronousInTransferResult> {
    return this.#noEndpoints();
  }
  async isochronousTransferOut(_endpointNumber: number, _data: BufferSource, _packetLengths: number[]): Promise<USBIsochronousOutTransferResult> {
    return this.#noEndpoints();
  }
}

/** A USBConnectionEvent: `connect` / `disconnect` on the bus. */
export class EmulatedUSBConnectionEvent extends Event implements USBConnectionEvent {
  readonly device: EmulatedUSBDevice;
  constructor(type: 'connect' | 'disconnect', device: EmulatedUSBDevice) {
    super(type);
    this.device = device;
  }
}

interface Grant {
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber: string | null;
}

/** WebUSB §3 "match a device filter": class filters match the device class or any interface. */
function matches(d: EmulatedUSBDevice, f: USBDeviceFilter): boolean {
  if (f.vendorId !== undefined && f.vendorId !== d.vendorId) return false;
  if (f.productId !== undefined && f.productId !== d.productId) return false;
  if (f.serialNumber !== undefined && f.serialNumber !== d.serialNumber) return false;
  if (f.classCode === undefined) return true;
  const fits = (cls: number, sub: number, proto: number) =>
    f.classCode === cls && (f.subclassCode === undefined || f.subclassCode === sub) && (f.protocolCode === undefined || f.protocolCode === proto);
  if (fits(d.deviceClass, d.deviceSubclass, d.deviceProtocol)) return true;
  return d.configurations.some((c) => c.interfaces.some((i) => i.alternates.some((a) => fits(a.interfaceClass, a.interfaceSubclass, a.interfaceProtocol))));
}

function checkFilter(f: USBDeviceFilter): void {
  if (f.productId !== undefined && f.vendorId === undefined) throw new TypeError('A filter containing a productId must also contain a vendorId.');
  if (f.subclassCode !== undefined && f.classCode === undefined) throw new TypeError('A filter containing a subclassCode must also contain a classCode.');
  if (f.protocolCode !== undefined && f.subclassCode === undefined) throw new TypeError('A filter containing a protocolCode must also contain a subclassCode.');
}

type ConnectionListener = (this: EmulatedUsb, ev: EmulatedUSBConnectionEvent) => unknown;

/**
 * A navigator.usb-shaped bus. Devices on it are physically present; the page sees those it has
 * permission for (a grant is {vendorId, productId, serialNumber}, so it survives the DFU detach).
 * requestDevice has no picker: it grants and returns the first present device matching the filters.
 */
export class EmulatedUsb extends EventTarget implements USB {
  onconnect: ((this: this, ev: USBConnectionEvent) => unknown) | null = null;
  ondisconnect: ((this: this, ev: USBConnectionEvent) => unknown) | null = null;
  #present: EmulatedUSBDevice[] = [];
  #grants: Grant[] = [];

  override addEventListener(type: 'connect' | 'disconnect', listener: ConnectionListener, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | ConnectionListener | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }
  override removeEventListener(type: 'connect' | 'disconnect', listener: ConnectionListener, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | ConnectionListener | null, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  async getDevices(): Promise<EmulatedUSBDevice[]> {
    return this.#present.filter((d) => this.isGranted(d));
  }

  async requestDevice(options?: USBDeviceRequestOptions): Promise<EmulatedUSBDevice> {
    if (!options || !Array.isArray(options.filters)) throw new TypeError('"options.filters" expected an array of USBDeviceFilter, got ' + typeof options?.filters);
    options.filters.forEach(checkFilter);
    options.exclusionFilters?.forEach(checkFilter);
    const pick = this.#present.find(
      (d) => (options.filters.length === 0 || options.filters.some((f) => matches(d, f))) && !(options.exclusionFilters ?? []).some((f) => matches(d, f)),
    );
    if (!pick) throw domError('NotFoundError', 'No device selected.');
    this.grant(pick);
    return pick;
  }

  isGranted(d: EmulatedUSBDevice): boolean {
    return this.#grants.some((g) => g.vendorId === d.vendorId && g.productId === d.productId && g.serialNumber === d.serialNumber);
  }

  grant(d: EmulatedUSBDevice): void {
    if (!this.isGranted(d)) this.#grants.push({ vendorId: d.vendorId, productId: d.productId, serialNumber: d.serialNumber });
  }

  /** USBDevice.forget(): the permission goes; the device stays on the bus. */
  revoke(d: EmulatedUSBDevice): void {
    this.#grants = this.#grants.filter((g) => !(g.vendorId === d.vendorId && g.productId === d.productId && g.serialNumber === d.serialNumber));
  }

  /** A device enumerated on the bus. */
  plug(d: EmulatedUSBDevice): void {
    this.#present.push(d);
    if (this.isGranted(d)) this.#dispatch(new EmulatedUSBConnectionEvent('connect', d));
  }

  /** A device left the bus: its USBDevice is dead from now on. */
  unplug(d: EmulatedUSBDevice): void {
    const i = this.#present.indexOf(d);
    if (i < 0) return;
    this.#present.splice(i, 1);
    d.markDisconnected();
    if (this.isGranted(d)) {
      this.#dispatch(new EmulatedUSBConnectionEvent('disconnect', d));
    }
    // WebUSB §"disconnect": a grant without a serial number does not survive the device leaving
    if (d.serialNumber === null) this.revoke(d);
  }

  #dispatch(ev: EmulatedUSBConnectionEvent): void {
    this.dispatchEvent(ev);
    const handler = ev.type === 'connect' ? this.onconnect : this.ondisconnect;
    handler?.call(this, ev);
  }
}

/**
 * Puts a USB function on a bus: every enumeration becomes an EmulatedUSBDevice (granted, as the
 * user picked this emulated NIC). Returns the first one.
 */
export function plugIn(fn: NicUsbFunction, usb: EmulatedUsb): EmulatedUSBDevice {
  const devices = new Map<number, EmulatedUSBDevice>();
  let first: EmulatedUSBDevice | undefined;
  fn.start({
    attached(e) {
      const d = new EmulatedUSBDevice(fn, e, usb);
      devices.set(e.id, d);
      if (!first) {
        first = d;
        usb.grant(d);
      }
      usb.plug(d);
    },
    detached(e) {
      const d = devices.get(e.id);
      devices.delete(e.id);
      if (d) usb.unplug(d);
    },
  });
  return first!;
}
