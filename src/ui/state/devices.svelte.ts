/**
 * The devices the page can update: the emulated NICs (in the device Worker) and a real WebUSB
 * device the user picked (in the page), their QUERY answers, and what can be done to them
 * (refresh, reset, power cycle, factory reset, faults, timing, another NIC; the maintenance
 * commands are maintenance.svelte.ts's, sent through `perform`). Private $state,
 * getters, methods as the only mutators; the channel and the USB picker come in through the
 * constructor.
 */
import type { DeviceQuery } from '../../core/update/query.ts';
import type { DeviceBus, DeviceEvent, DeviceSummary, Fault, TimingName } from '../../service/device-protocol.ts';
import { hasDfuInterface } from '../../core/dfu/descriptors.ts';
import { DEMO_SERIAL } from '../../service/device-protocol.ts';
import type { DeviceChannel, RequestBody } from './device-channel.ts';
import { deviceFields, flintText, type FieldRow } from './device-view.ts';

/** Why a real USB device cannot be connected here, if it cannot. */
export type UsbSupport = 'available' | 'no-webusb' | 'insecure';

export interface DevicesOptions {
  readonly channel: DeviceChannel;
  /** The app's base URL (the device side fetches samples/factory.tfw from it). */
  readonly baseUrl: string;
  readonly usbSupport: UsbSupport;
  /** Opens the browser's USB picker (needs the click's user activation) and returns the device and its bus. */
  readonly requestUsbDevice?: () => Promise<{ device: USBDevice; bus: DeviceBus }>;
  /**
   * The USB devices this page may use already (navigator.usb.getDevices(): picked before, or
   * allowed by the WebUsbAllowDevicesForUrls policy on a managed lab machine). DFU-class ones are
   * connected at start, without the picker.
   */
  readonly grantedUsbDevices?: () => Promise<readonly { device: USBDevice; bus: DeviceBus }[]>;
}


export const USB_FILTERS: USBDeviceFilter[] = [{ classCode: 0xfe, subclassCode: 0x01 }];

export class DevicesState {
  #emulated = $state.raw<readonly DeviceSummary[]>([]);
  #usb = $state.raw<readonly DeviceSummary[]>([]);
  #selected = $state<string | undefined>(undefined);
  #queries = $state.raw<Readonly<Record<string, DeviceQuery>>>({});
  #ready = $state(false);
  #busy = $state<string | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  #notice = $state<string | undefined>(undefined);
  readonly #o: DevicesOptions;

  constructor(opts: DevicesOptions) {
    this.#o = opts;
    opts.channel.subscribe((e) => this.#onEvent(e));
  }

  get devices(): readonly DeviceSummary[] {
    return [...this.#emulated, ...this.#usb];
  }
  get ready() {
    return this.#ready;
  }
  get selectedSerial() {
    return this.#selected;
  }
  get selected(): DeviceSummary | undefined {
    return this.devices.find((d) => d.serial === this.#selected);
  }
  /** The selected device's last QUERY answer. */
  get query(): DeviceQuery | undefined {
    return this.#selected ? this.#queries[this.#selected] : undefined;
  }
  get fields(): FieldRow[] {
    const q = this.query;
    return q ? deviceFields(q) : [];
  }
  get flint(): string | undefined {
    const q = this.query;
    return q ? flintText(q) : undefined;
  }
  queryOf(serial: string): DeviceQuery | undefined {
    return this.#queries[serial];
  }
  /** What is being done right now ("resetting", …), or undefined. */
  get busy() {
    return this.#busy;
  }
  get error() {
    return this.#error;
  }
  /** The last thing that happened, in a sentence ("Reset: running 28.40.1000"). */
  get notice() {
    return this.#notice;
  }
  get usbSupport() {
    return this.#o.usbSupport;
  }
  get isEmulated(): boolean {
    return this.selected?.kind === 'emulated';
  }

  #onEvent(e: DeviceEvent): void {
    if (e.kind === 'devices') {
      if (e.source === 'emulator') this.#emulated = e.devices;
      else this.#usb = e.devices;
      if (!this.#selected || !this.devices.some((d) => d.serial === this.#selected)) this.#selected = this.devices[0]?.serial;
    } else if (e.kind === 'query') {
      this.#queries = { ...this.#queries, [e.serial]: e.query };
    } else if (e.kind === 'done' && e.id === -1) {
      this.#error = e.error?.message;
    }
  }

  /**
   * Sends one request about the devices, shown as what is being done (`busy`) and, if it fails, as
   * the error; `after` runs once it succeeded. The other device panels (maintenance) go through here.
   */
  perform(label: string, body: RequestBody, after?: () => void): Promise<boolean> {
    return this.#op(label, body, after);
  }

  async #op(label: string, body: RequestBody, after?: () => void): Promise<boolean> {
    this.#busy = label;
    this.#error = undefined;
    try {
      await this.#o.channel.request(body);
      after?.();
      return true;
    } catch (e) {
      this.#error = (e as Error).message;
      return false;
    } finally {
      this.#busy = undefined;
    }
  }

  /** Starts the emulator: saved NICs are restored and rebooted, or the first one is manufactured. */
  async start(): Promise<void> {
    await this.#op('starting the emulated NIC', { kind: 'init', baseUrl: this.#o.baseUrl });
    this.#ready = true;
    await this.#adoptGranted();
  }

  /** Connects the DFU devices the browser already lets this page use (see `grantedUsbDevices`). */
  async #adoptGranted(): Promise<void> {
    if (this.#o.usbSupport !== 'available' || !this.#o.grantedUsbDevices) return;
    let granted: readonly { device: USBDevice; bus: DeviceBus }[];
    try {
      granted = await this.#o.grantedUsbDevices();
    } catch (e) {
      this.#error = `Could not list the USB devices this page may use: ${(e as Error).message}`;
      return;
    }
    for (const g of granted) {
      if (!hasDfuInterface(g.device)) continue;
      if (g.device.serialNumber && this.#usb.some((d) => d.serial === g.device.serialNumber)) continue;
      await this.#op(`connecting ${g.device.productName ?? 'a USB device'} (already allowed for this page)`, { kind: 'adopt-usb', device: g.device, bus: g.bus });
    }
  }

  select(serial: string): void {
    if (this.devices.some((d) => d.serial === serial)) this.#selected = serial;
  }

  refresh(): Promise<boolean> {
    const serial = this.#selected;
    if (!serial) return Promise.resolve(false);
    return this.#op('reading the device', { kind: 'query', serial });
  }

  /** Resets the device over USB; afterwards the notice names the version it runs. */
  resetDevice(): Promise<boolean> {
    const serial = this.#selected;
    if (!serial) return Promise.resolve(false);
    this.#notice = undefined;
    return this.#op('resetting the device', { kind: 'reset-device', serial }, () => {
      const q = this.#queries[serial];
      this.#notice = `Reset done: ${serial} now runs ${q?.fwVersionRunning ?? 'an unknown version'}${q?.fwVersionPending ? ` (pending ${q.fwVersionPending})` : ''}.`;
    });
  }

  powerCycle(): Promise<boolean> {
    const serial = this.#selected;
    if (!serial) return Promise.resolve(false);
    return this.#op('power-cycling the NIC', { kind: 'power-cycle', serial }, () => {
      this.#notice = `Power cycled: ${serial} runs ${this.#queries[serial]?.fwVersionRunning ?? '?'}.`;
    });
  }

  factoryReset(): Promise<boolean> {
    const serial = this.#selected;
    if (!serial) return Promise.resolve(false);
    return this.#op('factory reset', { kind: 'factory-reset', serial }, () => {
      this.#notice = `Factory reset: ${serial} runs ${this.#queries[serial]?.fwVersionRunning ?? '?'} again.`;
    });
  }

  setFaults(faults: readonly Fault[]): Promise<boolean> {
    const serial = this.#selected;
    if (!serial) return Promise.resolve(false);
    return this.#op(faults.length ? 'arming faults' : 'clearing faults', { kind: 'set-faults', serial, faults });
  }

  setTiming(timing: TimingName): Promise<boolean> {
    const serial = this.#selected;
    if (!serial) return Promise.resolve(false);
    return this.#op('setting the timing model', { kind: 'set-timing', serial, timing });
  }

  /**
   * Manufactures another emulated NIC (a new serial; optionally for the other board's PSID, or
   * trusting the operator's keys, given as PEM texts, instead of the demo keys) and selects it.
   */
  async addNic(psid?: string, trustKeys?: readonly string[], production = false): Promise<boolean> {
    const before = new Set(this.devices.map((d) => d.serial));
    const ok = await this.#op(trustKeys?.length ? 'adding an emulated NIC trusting your key' : 'adding an emulated NIC', { kind: 'add-nic', ...(psid ? { psid } : {}), ...(trustKeys?.length ? { trustKeys } : {}), ...(production ? { production } : {}) });
    const added = this.devices.find((d) => !before.has(d.serial));
    if (added) this.#selected = added.serial;
    return ok;
  }

  /** The dedicated demo NIC (manufactured on first use), selected. Its serial, or undefined if it could not be made. */
  async useDemoNic(): Promise<string | undefined> {
    if (!this.devices.some((d) => d.serial === DEMO_SERIAL)) await this.#op('making the demo NIC', { kind: 'add-nic', demo: true });
    if (!this.devices.some((d) => d.serial === DEMO_SERIAL)) return undefined;
    this.#selected = DEMO_SERIAL;
    return DEMO_SERIAL;
  }

  /** The browser's USB picker, filtered to DFU-class devices; must run from a click. */
  async connectUsb(): Promise<boolean> {
    if (this.#o.usbSupport !== 'available' || !this.#o.requestUsbDevice) {
      this.#error = this.#o.usbSupport === 'insecure' ? 'WebUSB needs a secure context (https or localhost).' : 'This browser has no WebUSB (use Chrome or Edge); the emulated NIC works everywhere.';
      return false;
    }
    let picked: { device: USBDevice; bus: DeviceBus };
    try {
      picked = await this.#o.requestUsbDevice();
    } catch (e) {
      // NotFoundError: the user closed the picker without choosing
      this.#error = (e as Error).name === 'NotFoundError' ? 'No device was chosen.' : `The USB picker failed: ${(e as Error).message}`;
      return false;
    }
    const ok = await this.#op('connecting the USB device', { kind: 'adopt-usb', device: picked.device, bus: picked.bus });
    if (ok) this.#selected = picked.device.serialNumber || this.#usb.at(-1)?.serial;
    return ok;
  }

  clearNotice(): void {
    this.#notice = undefined;
  }
}
