/**
 * The NIC's USB function, device side: what sits behind endpoint 0. It owns the personality
 * (run-time or DFU mode), answers standard requests from the descriptor bytes, hands class
 * requests to the DFU class and vendor requests to the vendor handler, and enumerates: it leaves
 * the bus and comes back (DETACH with bitWillDetach, a USB reset that changes personality, a
 * pulled cable, a NIC reset or power loss). Each enumeration is a new USBDevice for the host; the
 * WebUSB-shaped objects live in usb-device.ts and reach this only through `control` and `usbReset`.
 */
import { DeviceReset, type EmulatedNic } from '../nic.ts';
import {
  ALL_DFU_ATTRIBUTES,
  CONFIGURATION_VALUE,
  DEFAULT_DETACH_TIMEOUT_MS,
  DEFAULT_TRANSFER_SIZE,
  DESCRIPTOR_TYPE,
  DFU_ATTRIBUTE,
  STRING_INDEX,
  buildDescriptors,
  checkTransferSize,
  langIdDescriptor,
  stringDescriptor,
  type DescriptorSet,
  type Personality,
} from './descriptors.ts';
import { MS_OS_20_INDEX, MS_OS_20_VENDOR_CODE, WEBUSB_REQUEST, WEBUSB_VENDOR_CODE } from './bos.ts';
import { DfuClass, type DfuApplication } from './dfu-class.ts';
import { SecureDfuFlow } from './secure-dfu.ts';
import { VendorRequests } from './vendor.ts';
import { CablePulled } from './cable.ts';

/** Bus timings of a re-enumeration (real milliseconds, not the NIC clock: the host's bus sees them). */
export const REENUMERATION = {
  /** From the DETACH (or the end of manifestation) to the device leaving the bus (bitWillDetach). */
  willDetachMs: 20,
  /** From leaving the bus (or the NIC's reboot) to showing up again. */
  attachMs: 20,
  /** A pulled cable is plugged back in after this long. */
  cableReplugMs: 50,
} as const;

export interface UsbFunctionOptions {
  /** DFU wTransferSize, 1..65535; default 4096. */
  readonly transferSize?: number;
  /** bitManifestationTolerant (default true). Without it the device resets itself after manifestation. */
  readonly manifestationTolerant?: boolean;
  /**
   * Answer the vendor requests (QUERY, CONTROL, …); default true. With false the NIC behaves as a
   * generic DFU device to the host: only the DFU class remains (the firmware still verifies).
   */
  readonly vendorRequests?: boolean;
  /**
   * The WebUSB landing page the device announces (an http:// or https:// URL, at most 252 bytes
   * after the prefix; RangeError otherwise). Default DEFAULT_LANDING_PAGE (bos.ts).
   */
  readonly landingPage?: string;
}

/** The 8 bytes of a SETUP packet (USB 2.0 §9.3), as fields. */
export interface SetupPacket {
  readonly bmRequestType: number;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly wLength: number;
}

export type ControlResult = { readonly status: 'ok'; readonly data: Uint8Array } | { readonly status: 'stall' };

/** One appearance of the device on the bus. */
export interface Enumeration {
  readonly id: number;
  readonly descriptors: DescriptorSet;
}

export interface EnumerationListener {
  attached(e: Enumeration): void;
  detached(e: Enumeration): void;
}

// USB 2.0 §9.4 Table 9-4
const STANDARD = {
  GET_STATUS: 0,
  CLEAR_FEATURE: 1,
  SET_FEATURE: 3,
  SET_ADDRESS: 5,
  GET_DESCRIPTOR: 6,
  SET_DESCRIPTOR: 7,
  GET_CONFIGURATION: 8,
  SET_CONFIGURATION: 9,
  GET_INTERFACE: 10,
  SET_INTERFACE: 11,
  SYNCH_FRAME: 12,
} as const;

const REQUEST_TYPE = { STANDARD: 0, CLASS: 1, VENDOR: 2 } as const;
const RECIPIENT = { DEVICE: 0, INTERFACE: 1, ENDPOINT: 2, OTHER: 3 } as const;

const STALL: ControlResult = { status: 'stall' };

/**
 * Vendor requests addressed to the device (not to an interface): those of the platform
 * capabilities in the BOS, found by bRequest (the capability's vendor code) and wIndex (the
 * request). All are IN. Anything not in this table STALLs, like any request the device does not
 * know.
 */
interface DeviceVendorRequest {
  readonly name: string;
  readonly bRequest: number;
  readonly wIndex: number;
  /** The descriptor for wValue, or undefined (STALL). */
  readonly answer: (d: DescriptorSet, wValue: number) => Uint8Array | undefined;
}
const DEVICE_VENDOR_REQUESTS: readonly DeviceVendorRequest[] = [
  // WebUSB §4.2.1 Get URL: wValue = the URL descriptor index; an index without a URL STALLs
  { name: 'WebUSB GET_URL', bRequest: WEBUSB_VENDOR_CODE, wIndex: WEBUSB_REQUEST.GET_URL, answer: (d, wValue) => d.urls.get(wValue) },
  // MS OS 2.0 Table 8: wIndex MS_OS_20_DESCRIPTOR_INDEX, wValue 0 returns the descriptor set
  { name: 'MS OS 2.0 descriptor set', bRequest: MS_OS_20_VENDOR_CODE, wIndex: MS_OS_20_INDEX.MS_OS_20_DESCRIPTOR_INDEX, answer: (d, wValue) => (wValue === 0 ? d.msOs20 : undefined) },
];
const NO_ERROR_TEXT = 'No error';

/** Largest debt (and credit) of modelled bus time before the device waits: a few timer ticks. */
const OWED_MAX_MS = 4;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function transferError(): DOMException {
  return new DOMException('A transfer error has occurred.', 'NetworkError');
}
export function disconnectedError(): DOMException {
  return new DOMException('The device was disconnected.', 'NotFoundError');
}

export class NicUsbFunction {
  readonly nic: EmulatedNic;
  readonly transferSize: number;
  readonly #descriptors: Record<Personality, DescriptorSet>;
  readonly #flow: SecureDfuFlow;
  readonly #dfu: DfuClass;
  readonly #vendor: VendorRequests;
  readonly #vendorEnabled: boolean;
  #listener: EnumerationListener | undefined;
  #current: Enumeration | undefined;
  #nextId = 1;
  #configuration = CONFIGURATION_VALUE;
  #ep0: Promise<unknown> = Promise.resolve();
  #attachTimer: ReturnType<typeof setTimeout> | undefined;
  #selfResetTimer: ReturnType<typeof setTimeout> | undefined;
  #selfResetArmed = false;

  constructor(nic: EmulatedNic, opts: UsbFunctionOptions = {}) {
    this.nic = nic;
    this.transferSize = checkTransferSize(opts.transferSize ?? DEFAULT_TRANSFER_SIZE);
    const attributes = opts.manifestationTolerant === false ? ALL_DFU_ATTRIBUTES & ~DFU_ATTRIBUTE.bitManifestationTolerant : ALL_DFU_ATTRIBUTES;
    const common = {
      serial: nic.identity.serial,
      transferSize: this.transferSize,
      dfuAttributes: attributes,
      detachTimeoutMs: DEFAULT_DETACH_TIMEOUT_MS,
      ...(opts.landingPage !== undefined ? { landingPage: opts.landingPage } : {}),
    };
    this.#descriptors = {
      runtime: buildDescriptors({ ...common, personality: 'runtime' }),
      dfu: buildDescriptors({ ...common, personality: 'dfu' }),
    };
    this.#flow = new SecureDfuFlow(nic);
    const flow = this.#flow;
    const app: DfuApplication = {
      now: () => nic.clock(),
      download: (block, index) => flow.download(block, index),
      poll: () => flow.poll(),
      incomplete: () => flow.incomplete(),
      manifest: () => flow.manifest(),
      abort: () => flow.abort(),
      upload: (offset, length) => flow.upload(offset, length),
      firmwareValid: () => flow.firmwareValid(),
      firmwareInvalidText: () => flow.firmwareInvalidText(),
      selfReset: (afterMs) => this.#scheduleSelfReset(afterMs),
      cancelSelfReset: () => this.#cancelSelfReset(),
    };
    this.#dfu = new DfuClass(app, { attributes, transferSize: this.transferSize, detachTimeoutMs: DEFAULT_DETACH_TIMEOUT_MS });
    this.#vendorEnabled = opts.vendorRequests ?? true;
    this.#vendor = new VendorRequests(nic, { transferSize: this.transferSize, onReset: () => this.#resetNic() });
    // Every boot of the NIC (a reset, a power loss in the middle of a command) re-enumerates.
    nic.on((e) => {
      if (e.kind === 'boot') this.#onBoot();
    });
  }

  /** Plugs the function in: the first enumeration is announced synchronously. */
  start(listener: EnumerationListener): Enumeration {
    if (this.#listener) throw new TypeError('"start" expected to be called once, got a second call');
    this.#listener = listener;
    return this.#attach(this.#dfu.personality);
  }

  #attach(personality: Personality): Enumeration {
    clearTimeout(this.#attachTimer);
    this.#attachTimer = undefined;
    this.#configuration = CONFIGURATION_VALUE;
    const e: Enumeration = { id: this.#nextId++, descriptors: this.#descriptors[personality] };
    this.#current = e;
    this.#listener?.attached(e);
    return e;
  }

  #detach(): void {
    const e = this.#current;
    if (!e) return;
    this.#current = undefined;
    this.#listener?.detached(e);
  }

  #attachLater(ms: number): void {
    clearTimeout(this.#attachTimer);
    this.#attachTimer = setTimeout(() => {
      this.#attachTimer = undefined;
      if (!this.#current && this.nic.poweredOn) this.#attach(this.#dfu.personality);
    }, ms);
  }

  /**
   * bitWillDetach: after DETACH (or a non-tolerant manifestation) the device resets itself, unless
   * a stalled request cancels the detach first (appDETACH → appIDLE).
   */
  #scheduleSelfReset(afterMs: number): void {
    this.#cancelSelfReset();
    this.#selfResetArmed = true;
    this.#selfResetTimer = setTimeout(() => {
      this.#selfResetTimer = undefined;
      this.#queue(async () => {
        if (!this.#selfResetArmed || !this.#current) return;
        this.#selfResetArmed = false;
        this.#detach();
        await this.#dfu.usbReset();
        this.#attachLater(REENUMERATION.attachMs);
      }).catch(() => undefined);
    }, REENUMERATION.willDetachMs + afterMs);
  }

  #cancelSelfReset(): void {
    this.#selfResetArmed = false;
    clearTimeout(this.#selfResetTimer);
    this.#selfResetTimer = undefined;
  }

  #onBoot(): void {
    this.#cancelSelfReset();
    this.#detach();
    this.#flow.forget();
    this.#vendor.forget();
    this.#dfu.powerOn();
    this.#attachLater(REENUMERATION.attachMs);
  }

  /** Vendor RESET: the status stage is acknowledged, then the device leaves the bus and the NIC reboots. */
  #resetNic(): void {
    this.#detach();
    // a NIC that cannot boot stays off the bus, as dead hardware does
    this.nic.reset().catch(() => undefined);
  }

  /** EP0 handles one request at a time. */
  #queue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#ep0.then(work);
    this.#ep0 = run.catch(() => undefined);
    return run;
  }

  /**
   * Modelled time the bus still owes. Timers cannot wait a fraction of a millisecond (a 0.3 ms
   * high-speed transfer would cost a whole timer tick), so each transfer adds its modelled time to a
   * debt, and the device waits once more than OWED_MAX_MS is owed, then subtracts what it really
   * waited (a timer that overshoots leaves up to OWED_MAX_MS of credit). Idle time on the host never
   * pays the debt: the sum of the waits is the modelled time, so the emulator is never faster than
   * its model (benchmarks compare against that model).
   */
  #owedMs = 0;
  async #wire(bytes: number): Promise<void> {
    const slow = this.nic.faults.some((f) => f.kind === 'slow') ? 10 : 1;
    await this.#hold(this.nic.timing.transferMs(bytes) * slow);
  }
  async #hold(ms: number): Promise<void> {
    if (ms <= 0) return;
    this.#owedMs += ms;
    if (this.#owedMs <= OWED_MAX_MS) return;
    const start = performance.now();
    await sleep(this.#owedMs);
    this.#owedMs = Math.max(-OWED_MAX_MS, this.#owedMs - (performance.now() - start));
  }

  /**
   * One control transfer on enumeration `id`. Resolves with the device's answer (data or STALL);
   * rejects with NotFoundError if that enumeration is gone, NetworkError if the device left the bus
   * during the transfer.
   */
  control(id: number, setup: SetupPacket, data: Uint8Array): Promise<ControlResult> {
    return this.#queue(async () => {
      if (this.#current?.id !== id) throw disconnectedError();
      const dirIn = (setup.bmRequestType & 0x80) !== 0;
      if (!dirIn) await this.#wire(data.length);
      if (this.#current?.id !== id) throw transferError();
      let result: ControlResult;
      try {
        result = await this.#dispatch(setup, data);
      } catch (e) {
        if (e instanceof CablePulled) {
          await this.#lost();
          throw transferError();
        }
        // power lost inside the firmware: the NIC has rebooted and #onBoot re-enumerates
        if (e instanceof DeviceReset) throw transferError();
        throw e;
      }
      if (dirIn) await this.#wire(result.status === 'ok' ? result.data.length : 0);
      return result;
    });
  }

  async #lost(): Promise<void> {
    this.#detach();
    await this.#dfu.busLost();
    this.#attachLater(REENUMERATION.cableReplugMs);
  }

  /**
   * The cable of enumeration `id` was pulled from outside (a real bus: the gadget's UDC was
   * unbound): the device leaves the bus, the DFU class drops any transfer in progress, and the
   * cable is plugged back in after REENUMERATION.cableReplugMs.
   */
  cableLost(id: number): Promise<void> {
    return this.#queue(async () => {
      if (this.#current?.id !== id) return;
      await this.#lost();
    });
  }

  /**
   * A USB reset on enumeration `id`. Returns 'same' if the device came back with the same
   * descriptors (the host keeps its USBDevice) or 'reenumerated' (it left and comes back as another).
   */
  usbReset(id: number): Promise<'same' | 'reenumerated'> {
    return this.#queue(async () => {
      const e = this.#current;
      if (e?.id !== id) throw disconnectedError();
      const next = await this.#dfu.usbReset();
      this.#configuration = CONFIGURATION_VALUE;
      if (next === e.descriptors.personality) return 'same';
      this.#detach();
      this.#attachLater(REENUMERATION.attachMs);
      return 'reenumerated';
    });
  }

  /** SET_CONFIGURATION from the host's selectConfiguration. */
  setConfiguration(id: number, value: number): Promise<ControlResult> {
    return this.control(id, { bmRequestType: 0x00, bRequest: STANDARD.SET_CONFIGURATION, wValue: value, wIndex: 0, wLength: 0 }, new Uint8Array(0));
  }

  async #dispatch(s: SetupPacket, data: Uint8Array): Promise<ControlResult> {
    const e = this.#current!;
    const d = e.descriptors;
    const dirIn = (s.bmRequestType & 0x80) !== 0;
    const type = (s.bmRequestType >> 5) & 3;
    const recipient = s.bmRequestType & 0x1f;
    // an OUT data stage is exactly wLength bytes; anything else is a malformed request
    if (!dirIn && data.length !== s.wLength) return STALL;
    const truncate = (r: { stall: true } | { stall: false; data: Uint8Array }): ControlResult =>
      r.stall ? STALL : { status: 'ok', data: dirIn ? r.data.subarray(0, s.wLength) : new Uint8Array(0) };
    if (type === REQUEST_TYPE.STANDARD) return this.#standard(s, d, dirIn, recipient);
    if (type === REQUEST_TYPE.VENDOR && recipient === RECIPIENT.DEVICE) return this.#deviceVendor(s, d, dirIn);
    if (recipient !== RECIPIENT.INTERFACE || (s.wIndex & 0xff) !== d.dfuInterface || s.wIndex >> 8 !== 0) return STALL;
    const request = { request: s.bRequest, value: s.wValue, length: s.wLength, direction: dirIn ? ('in' as const) : ('out' as const), data };
    if (type === REQUEST_TYPE.CLASS) return truncate(await this.#dfu.handle(request));
    if (type === REQUEST_TYPE.VENDOR) {
      if (!this.#vendorEnabled) return STALL;
      // a vendor request completes (its status stage) when the firmware is done: flash work it did
      // (programming a DATA block, erasing in UPDATE_COMPONENT) holds the bus that long
      const busyBefore = this.nic.flash.busyMs;
      const answer = truncate(await this.#vendor.handle(request));
      await this.#hold(this.nic.flash.busyMs - busyBefore);
      return answer;
    }
    return STALL;
  }

  /** A vendor request to the device: DEVICE_VENDOR_REQUESTS, IN only; anything else STALLs. */
  #deviceVendor(s: SetupPacket, d: DescriptorSet, dirIn: boolean): ControlResult {
    const entry = DEVICE_VENDOR_REQUESTS.find((r) => r.bRequest === s.bRequest && r.wIndex === s.wIndex);
    const bytes = dirIn ? entry?.answer(d, s.wValue) : undefined;
    return bytes ? { status: 'ok', data: bytes.subarray(0, s.wLength) } : STALL;
  }

  /** USB 2.0 §9.4, the requests a host sends to this device's EP0. */
  #standard(s: SetupPacket, d: DescriptorSet, dirIn: boolean, recipient: number): ControlResult {
    const reply = (bytes: Uint8Array): ControlResult => (dirIn ? { status: 'ok', data: bytes.subarray(0, s.wLength) } : STALL);
    const ack: ControlResult = dirIn ? STALL : { status: 'ok', data: new Uint8Array(0) };
    const hasInterface = recipient === RECIPIENT.INTERFACE && s.wIndex >> 8 === 0 && d.interfaces.includes(s.wIndex & 0xff);
    switch (s.bRequest) {
      case STANDARD.GET_STATUS:
        if (s.wValue !== 0) return STALL;
        // §9.4.5: device bit 0 = self-powered; interface and endpoint 0 report zeros
        if (recipient === RECIPIENT.DEVICE && s.wIndex === 0) return reply(Uint8Array.of(0x01, 0x00));
        if (hasInterface || (recipient === RECIPIENT.ENDPOINT && (s.wIndex === 0x00 || s.wIndex === 0x80))) return reply(Uint8Array.of(0, 0));
        return STALL;
      case STANDARD.GET_DESCRIPTOR: {
        const dtype = s.wValue >> 8;
        const index = s.wValue & 0xff;
        if (recipient === RECIPIENT.DEVICE) {
          if (dtype === DESCRIPTOR_TYPE.DEVICE && index === 0) return reply(d.device);
          if (dtype === DESCRIPTOR_TYPE.CONFIGURATION && index === 0) return reply(d.configuration);
          if (dtype === DESCRIPTOR_TYPE.STRING) {
            if (index === STRING_INDEX.LANGID) return reply(langIdDescriptor());
            if (index === STRING_INDEX.LAST_ERROR) return reply(stringDescriptor(this.#dfu.errorText || NO_ERROR_TEXT));
            const text = d.strings.get(index);
            return text === undefined ? STALL : reply(stringDescriptor(text));
          }
          if (dtype === DESCRIPTOR_TYPE.BOS && index === 0) return reply(d.bos);
          return STALL; // no device qualifier (full-speed only), no other-speed configuration
        }
        // DFU 1.1 §4.1.3: the functional descriptor can also be read through the interface
        if (hasInterface && (s.wIndex & 0xff) === d.dfuInterface && dtype === DESCRIPTOR_TYPE.DFU_FUNCTIONAL && index === 0) return reply(d.dfuFunctional);
        return STALL;
      }
      case STANDARD.GET_CONFIGURATION:
        return recipient === RECIPIENT.DEVICE && s.wValue === 0 && s.wIndex === 0 ? reply(Uint8Array.of(this.#configuration)) : STALL;
      case STANDARD.SET_CONFIGURATION:
        if (recipient !== RECIPIENT.DEVICE || (s.wValue !== 0 && s.wValue !== CONFIGURATION_VALUE)) return STALL;
        this.#configuration = s.wValue;
        return ack;
      case STANDARD.GET_INTERFACE:
        return hasInterface && this.#configuration !== 0 ? reply(Uint8Array.of(0)) : STALL;
      case STANDARD.SET_INTERFACE:
        // every interface has alternate setting 0 only
        return hasInterface && s.wValue === 0 && this.#configuration !== 0 ? ack : STALL;
      default:
        return STALL;
    }
  }
}
