/**
 * The devices the device side knows, by serial (emulated NICs and real WebUSB devices alike), and
 * how each is reached: its current enumeration (found again after a reset or power loss), one open
 * DfuHost per enumeration (its transfer log written to the page's log as text), and QUERY. It
 * posts the device list, QUERY answers and device STATUS to the page.
 */
import { DfuHost } from '../core/dfu/host.ts';
import { NicClient } from '../core/update/nic-client.ts';
import type { DeviceStatus } from '../core/update/protocol.ts';
import type { DeviceQuery } from '../core/update/query.ts';
import { describeTransfer } from '../core/update/transfer-text.ts';
import { escapeControlsInline } from '../core/bytes/safe-text.ts';
import type { EmulatedNic, TimingName } from '../emulator/index.ts';
import { describeFault } from '../emulator/faults.ts';
import type { DeviceBus, DeviceSummary } from './device-protocol.ts';
import type { Outbox } from './outbox.ts';

export interface Slot {
  readonly serial: string;
  readonly kind: 'emulated' | 'usb';
  readonly bus: DeviceBus;
  readonly nic?: EmulatedNic;
  label: string;
  psid?: string;
  timing?: TimingName;
  device: USBDevice;
  host?: DfuHost;
  /** The last QUERY answer. */
  last?: DeviceQuery;
  /** The last STATUS posted without an instruction (a repeat of it is not posted again). */
  lastStatus?: string;
}

export type EmulatedSlot = Slot & { nic: EmulatedNic };

export class DeviceRegistry {
  readonly #slots = new Map<string, Slot>();
  readonly #out: Outbox;
  readonly #source: 'emulator' | 'usb';
  readonly #clock: () => number;
  readonly #reconnectMs: number;

  constructor(o: { out: Outbox; source: 'emulator' | 'usb'; clock: () => number; reconnectMs?: number }) {
    this.#out = o.out;
    this.#source = o.source;
    this.#clock = o.clock;
    this.#reconnectMs = o.reconnectMs ?? 10_000;
  }

  get size(): number {
    return this.#slots.size;
  }
  has(serial: string): boolean {
    return this.#slots.has(serial);
  }
  all(): Slot[] {
    return [...this.#slots.values()];
  }

  get(serial: string): Slot {
    const s = this.#slots.get(serial);
    if (!s) throw new Error(`no device with serial ${JSON.stringify(serial)}`);
    return s;
  }
  emulated(serial: string): EmulatedSlot {
    const s = this.get(serial);
    if (!s.nic) throw new Error(`${serial} is a real USB device: fault injection, timing and resets of the emulator apply to emulated NICs only`);
    return s as EmulatedSlot;
  }

  add(slot: Slot): Slot {
    this.#slots.set(slot.serial, slot);
    slot.nic?.on((e) => {
      if (e.kind === 'power-loss') this.#out.line(slot.serial, 'nic', `power lost during ${e.where}`);
      else if (e.kind === 'boot') this.#out.line(slot.serial, 'nic', `boot: ${e.text}`);
      else this.#out.line(slot.serial, 'nic', `fault fired: ${e.fault}`);
    });
    return slot;
  }

  /** A device came (back) on a bus: a known serial gets its new enumeration. */
  onConnect(device: USBDevice): void {
    const slot = this.#slots.get(device.serialNumber ?? '');
    if (slot && slot.device !== device) {
      slot.device = device;
      slot.host = undefined;
    }
  }

  /** A real WebUSB device the user picked (page side only); queried at once. */
  async adopt(device: USBDevice, bus: DeviceBus): Promise<void> {
    const serial = device.serialNumber || `${device.vendorId.toString(16).padStart(4, '0')}:${device.productId.toString(16).padStart(4, '0')}`;
    const existing = this.#slots.get(serial);
    if (existing) {
      existing.device = device;
      existing.host = undefined;
    } else {
      bus.addEventListener('connect', (e) => this.onConnect((e as Event & { device: USBDevice }).device));
      this.add({ serial, kind: 'usb', bus, label: escapeControlsInline(device.productName || 'USB device'), device });
    }
    this.postDevices();
    await this.query(this.get(serial));
  }

  postDevices(): void {
    const devices: DeviceSummary[] = this.all().map((s) => ({
      serial: s.serial,
      kind: s.kind,
      label: s.label,
      ...(s.psid ? { psid: s.psid } : {}),
      ...(s.timing ? { timing: s.timing } : {}),
      faults: s.nic ? s.nic.faults.map(describeFault) : [],
    }));
    this.#out.emit({ kind: 'devices', source: this.#source, devices });
  }

  /**
   * A device STATUS for the page's device panel and MCC diagram. An answer to an instruction is
   * always posted (VERIFY and ACTIVATE show only by it); a plain re-read that says what the last
   * one said is not (the download's STATUS reads).
   */
  postStatus(slot: Slot, status: DeviceStatus, instruction?: number): void {
    const key = `${status.state}/${status.error}/${status.result}/${status.handleOwned}/${status.pendingReset}`;
    if (instruction === undefined && key === slot.lastStatus) return;
    slot.lastStatus = key;
    this.#out.emit({ kind: 'status', serial: slot.serial, status, ...(instruction !== undefined ? { instruction } : {}) });
  }

  /** The device's current enumeration: waits for it to come back after a reset or power loss. */
  async waitDevice(slot: Slot, gone?: USBDevice): Promise<USBDevice> {
    const deadline = this.#clock() + this.#reconnectMs;
    for (;;) {
      const found = (await slot.bus.getDevices()).find((d) => d.serialNumber === slot.serial && d !== gone);
      if (found) {
        if (found !== slot.device) {
          slot.device = found;
          slot.host = undefined;
        }
        return found;
      }
      if (this.#clock() > deadline) throw new Error(`${slot.serial} did not come back on the bus`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** An open DfuHost on the device's current enumeration; every transfer goes to the log as text. */
  async host(slot: Slot): Promise<DfuHost> {
    const device = await this.waitDevice(slot);
    if (slot.host && slot.host.device === device && device.opened) return slot.host;
    const host = new DfuHost(device, {
      onTransfer: (t) => {
        const { request, answer } = describeTransfer(t);
        this.#out.line(slot.serial, 'host', request);
        this.#out.line(slot.serial, 'device', answer);
      },
    });
    await host.open();
    slot.host = host;
    return host;
  }

  /** Reads QUERY and STATUS and posts them; undefined for a generic DFU device. */
  async query(slot: Slot): Promise<DeviceQuery | undefined> {
    const host = await this.host(slot);
    const nic = new NicClient(host);
    if (!(await nic.supported())) {
      this.#out.line(slot.serial, 'session', 'a generic DFU device: it has no secure-update protocol and does not verify signatures itself');
      return undefined;
    }
    const q = await nic.query();
    slot.last = q;
    const status = await nic.status();
    if (q.psid && slot.psid !== q.psid) {
      slot.psid = q.psid;
      this.postDevices();
    }
    this.#out.emit({ kind: 'query', serial: slot.serial, query: q });
    this.postStatus(slot, status);
    return q;
  }

  /** QUERY without telling the page (what a restored NIC held before its reboot). */
  async peek(slot: Slot): Promise<DeviceQuery | undefined> {
    try {
      return await new NicClient(await this.host(slot)).query();
    } catch {
      return undefined;
    }
  }

  /** Host-side reset over USB (vendor RESET): the device reboots, runs its pending image, and is found again. */
  async reset(slot: Slot): Promise<DeviceQuery | undefined> {
    const host = await this.host(slot);
    const old = host.device;
    this.#out.note(slot.serial, 'reset requested (vendor RESET): the device reboots and runs its pending image, if any');
    await new NicClient(host).reset();
    slot.host = undefined;
    await this.waitDevice(slot, old);
    const q = await this.query(slot);
    if (q) this.#out.note(slot.serial, `after reset: running ${q.fwVersionRunning ?? '?'}${q.fwVersionPending ? `, pending ${q.fwVersionPending}` : ''}`);
    return q;
  }
}
