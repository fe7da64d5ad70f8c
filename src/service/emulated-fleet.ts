/**
 * The emulated NICs (docs/protocol.md §12): the emulator loaded on first use with one bus for all of
 * them, NICs manufactured from the factory image (or one made to trust the operator's keys), saved
 * after every change (encodeState bytes in a NicStore) and restored at start with a reboot — a
 * reload is a reboot, not a factory reset — and the bench controls: power cycle, factory reset,
 * faults, timing.
 */
import { demoDeviceCaIssuer } from './demo-device-ca.ts';
import { bootStatusText } from '../core/update/protocol.ts';
import type { DeviceQuery } from '../core/update/query.ts';
import { factoryImageTrustingPems } from '../core/sign/factory-image.ts';
import { parseImage } from '../core/image/parse.ts';
import { demoNicProblem } from '../core/verify/production.ts';
import type { EmulatedNicOptions, EmulatedUsb, Fault, Identity, TimingName } from '../emulator/index.ts';
// the two light entry points (no firmware in them): the emulator itself loads on first use
import { describeFault } from '../emulator/faults.ts';
import { applyFlashOps, decodeState, encodeState, watchFlash, type FlashOp } from '../emulator/persist.ts';
import { DEMO_SERIAL } from './device-protocol.ts';
import type { NicStore } from './nic-store.ts';
import type { Outbox } from './outbox.ts';
import type { DeviceRegistry, EmulatedSlot, Slot } from './registry.ts';

export const FACTORY_IMAGE = 'samples/factory.tfw';
/** The first emulated NIC's serial (the emulator's default identity). */
export const FIRST_SERIAL = 'TFN0000001';
const labelOf = (serial: string) => (serial === DEMO_SERIAL ? 'Demo NIC' : 'Emulated NIC');

/**
 * The origin that serves the app (a page's or a Worker's location), when it is an http(s) one a
 * WebUSB landing page can name; undefined elsewhere (Node tests), where the emulator's default applies.
 */
function appOrigin(checkLandingPage: (url: string) => { url: string }): string | undefined {
  const loc = (globalThis as { location?: { origin?: unknown } }).location;
  const origin = typeof loc?.origin === 'string' ? loc.origin : undefined;
  if (!origin) return undefined;
  try {
    return checkLandingPage(`${origin}/`).url;
  } catch {
    return undefined; // not http(s), or too long for a URL descriptor: the emulator's default
  }
}

export interface FleetOptions {
  readonly registry: DeviceRegistry;
  readonly out: Outbox;
  /** Where the NICs are saved; without one they are forgotten on reload. */
  readonly store?: NicStore;
  /** Fetches the factory image; FACTORY_IMAGE is resolved against `base()`. */
  readonly fetchBytes?: (url: string) => Promise<Uint8Array>;
  readonly base: () => string;
  /** Bank size for new NICs; default the emulator's 64 MiB (tests use less). */
  readonly bankSize?: number;
}

/** A restored NIC and what it held before its reboot (for the reboot notice). */
export interface Restored {
  readonly slot: Slot;
  readonly before: DeviceQuery | undefined;
}

type Emulator = { bus: EmulatedUsb; create: (o: EmulatedNicOptions) => ReturnType<typeof import('../emulator/index.ts').createEmulatedNic> };

export class EmulatedFleet {
  readonly #o: FleetOptions;
  #emulator: Promise<Emulator> | undefined;

  constructor(o: FleetOptions) {
    this.#o = o;
  }

  #load(): Promise<Emulator> {
    return (this.#emulator ??= import('../emulator/index.ts').then(({ createEmulatedNic, EmulatedUsb, checkLandingPage }) => {
      const bus = new EmulatedUsb();
      bus.addEventListener('connect', (e) => this.#o.registry.onConnect((e as Event & { device: USBDevice }).device));
      // the emulated NIC's WebUSB landing page is the origin that serves this app
      const landingPage = appOrigin(checkLandingPage);
      // the factory's device CA certifies each new NIC's attestation key (issue #14): the DEMO one
      return { bus, create: async (o: EmulatedNicOptions) => createEmulatedNic({ ...(landingPage ? { landingPage } : {}), attestationIssuer: await demoDeviceCaIssuer(), ...o }) };
    }));
  }

  /**
   * Every write to the store, in the order it was asked for: a journal append never lands after
   * the save that supersedes it (it would be replayed onto a newer state).
   */
  #writes: Promise<void> = Promise.resolve();
  #queue(what: string, serial: string, write: () => Promise<void>): Promise<void> {
    const next = this.#writes.then(write).catch((e: Error) => this.#o.out.line(serial, 'session', `could not ${what}: ${e.message}; it will not survive a reload`));
    this.#writes = next;
    return next;
  }

  async save(slot: Slot): Promise<void> {
    const store = this.#o.store;
    if (!slot.nic || !store) return;
    this.#flushJournal(slot.serial);
    // the snapshot is taken now: changes after it go to the journal behind this save
    const bytes = encodeState(slot.nic.snapshot());
    await this.#queue("save the NIC's state", slot.serial, () => store.save(slot.serial, bytes));
  }

  /** Flash changes waiting to be journaled, per NIC (write-through: nic-store.ts). */
  readonly #pending = new Map<string, FlashOp[]>();

  /** Journals `nic`'s flash changes as they happen, a batch per turn of the event loop. */
  #journal(serial: string, nic: Parameters<typeof watchFlash>[0]): void {
    const store = this.#o.store;
    if (!store?.append) return;
    watchFlash(nic, (op) => {
      const list = this.#pending.get(serial);
      if (list) return void list.push(op);
      this.#pending.set(serial, [op]);
      setTimeout(() => this.#flushJournal(serial), 0);
    });
  }

  #flushJournal(serial: string): void {
    const ops = this.#pending.get(serial);
    const store = this.#o.store;
    if (!ops || !store?.append) return;
    this.#pending.delete(serial);
    void this.#queue("journal the NIC's flash", serial, () => store.append!(serial, ops));
  }

  async #factoryImage(): Promise<Uint8Array> {
    if (!this.#o.fetchBytes) throw new Error('no way to fetch the factory image');
    return this.#o.fetchBytes(new URL(FACTORY_IMAGE, this.#o.base()).href);
  }

  /** The saved NICs, rebooted (flash and fuses as they were, RAM lost, a pending image applied); the first NIC made if there were none. */
  async restore(): Promise<Restored[]> {
    const { registry, out } = this.#o;
    const restored: Restored[] = [];
    let saved: { serial: string; bytes: Uint8Array }[] = [];
    try {
      saved = (await this.#o.store?.loadAll()) ?? [];
    } catch (e) {
      out.line('', 'session', `saved NICs could not be read: ${(e as Error).message}`);
    }
    for (const { serial, bytes } of saved) {
      const state = decodeState(bytes);
      if (!state.ok) {
        out.line(serial, 'session', `saved state for ${serial} is unusable (${state.error}); manufacturing a new NIC instead`);
        continue;
      }
      // a page closed or reloaded in the middle of an update: the NIC lost power at its last journaled change
      let ops: FlashOp[] = [];
      try {
        ops = (await this.#o.store?.journal?.(serial)) ?? [];
      } catch (e) {
        out.line(serial, 'session', `the journal of ${serial} could not be read (${(e as Error).message}): the NIC restarts from its last save`);
      }
      const { bus, create } = await this.#load();
      const dev = await create({ state: ops.length ? applyFlashOps(state.value, ops) : state.value, usb: bus });
      if (ops.length) out.note(serial, `the page was closed in the middle of a change to this NIC (${ops.length} flash change${ops.length === 1 ? '' : 's'} journaled): it lost power then and powers on now`);
      this.#journal(dev.nic.identity.serial, dev.nic);
      const slot = registry.add({ serial: dev.nic.identity.serial, kind: 'emulated', bus, nic: dev.nic, label: labelOf(dev.nic.identity.serial), psid: dev.nic.identity.psid, timing: 'instant', device: dev });
      restored.push({ slot, before: await registry.peek(slot) });
      const boot = await dev.nic.reset();
      out.note(slot.serial, `restored from IndexedDB and rebooted: ${bootStatusText(boot)}`);
      if (dev.nic.migrated) out.note(slot.serial, dev.nic.migrated); // saved before the redundant flash layout (protocol §8.7)
      await this.save(slot);
    }
    if (registry.size === 0) await this.#manufacture({ serial: FIRST_SERIAL });
    return restored;
  }

  /** The factory image whose nextKeys are the operator's keys (PEM texts) instead of the demo keys. */
  async #trustingFactory(pems: readonly string[]): Promise<Uint8Array> {
    const r = await factoryImageTrustingPems(await this.#factoryImage(), pems.map((text, i) => ({ name: `key ${i + 1}`, text })));
    if (!r.ok) throw new Error(`the NIC cannot be made to trust this key: ${r.reason}`);
    return r.image;
  }

  async #manufacture(identity: Partial<Identity>, trustKeys?: readonly string[]): Promise<Slot> {
    const { bus, create } = await this.#load();
    // a NIC made to trust the operator's keys: the factory image with its nextKeys replaced by them
    const factoryImage = trustKeys?.length ? await this.#trustingFactory(trustKeys) : await this.#factoryImage();
    const dev = await create({ factoryImage, identity, usb: bus, ...(this.#o.bankSize ? { bankSize: this.#o.bankSize } : {}) });
    this.#journal(dev.nic.identity.serial, dev.nic);
    const slot = this.#o.registry.add({ serial: dev.nic.identity.serial, kind: 'emulated', bus, nic: dev.nic, label: labelOf(dev.nic.identity.serial), psid: dev.nic.identity.psid, timing: 'instant', device: dev });
    this.#o.out.note(slot.serial, `manufactured emulated NIC ${slot.serial} (PSID ${slot.psid}) with the factory image${trustKeys?.length ? ", its next update checked with the operator's key, not the demo keys" : ''}`);
    await this.save(slot);
    return slot;
  }

  /** The dedicated demo NIC (once): demo scenarios reset and use it, never a person's own NICs. */
  async addDemoNic(): Promise<void> {
    if (this.#o.registry.has(DEMO_SERIAL)) return;
    const slot = await this.#manufacture({ serial: DEMO_SERIAL, description: 'TrustFlash demo NIC (reset before every demo scenario)', baseMac: 'b8:ce:f6:00:0d:e0', baseGuid: 'b8cef603000d0de0' });
    this.#o.registry.postDevices();
    await this.#o.registry.query(slot);
  }

  async addNic(psid: string | undefined, trustKeys?: readonly string[], production = false): Promise<void> {
    // production mode (the page's setting): a NIC that trusts a demo key is not made, as `emulator init --production`
    if (production) {
      const image = trustKeys?.length ? await this.#trustingFactory(trustKeys) : await this.#factoryImage();
      const parsed = parseImage(image);
      const problem = parsed.ok ? await demoNicProblem(parsed.value.manifest.nextKeys) : 'the factory image does not parse';
      if (problem) throw new Error(`the NIC was not made: ${problem} (Add emulated NIC trusting my key…)`);
    }
    let n = 2;
    const serial = (i: number) => `TFN${String(i).padStart(7, '0')}`;
    while (this.#o.registry.has(serial(n))) n++;
    const h = n.toString(16).padStart(2, '0');
    const slot = await this.#manufacture({ serial: serial(n), baseMac: `b8:ce:f6:00:00:${h}`, baseGuid: `b8cef603000000${h}`, ...(psid ? { psid } : {}) }, trustKeys);
    this.#o.registry.postDevices();
    await this.#o.registry.query(slot);
  }

  async powerCycle(slot: EmulatedSlot, why: string): Promise<void> {
    const boot = await slot.nic.reset();
    this.#o.out.note(slot.serial, `${why}: ${bootStatusText(boot)}`);
    await this.#o.registry.waitDevice(slot);
    await this.#o.registry.query(slot);
    await this.save(slot);
  }

  async factoryReset(slot: EmulatedSlot): Promise<void> {
    const image = await this.#factoryImage();
    await slot.nic.setFaults([]);
    await slot.nic.factoryReset(image);
    this.#o.out.note(slot.serial, 'factory reset: re-manufactured with the factory image (the fuses keep what was burnt)');
    this.#o.registry.postDevices();
    await this.#o.registry.waitDevice(slot);
    await this.#o.registry.query(slot);
    await this.save(slot);
  }

  async setFaults(slot: EmulatedSlot, faults: readonly Fault[]): Promise<void> {
    const wasLocked = slot.nic.faults.some((f) => f.kind === 'locked-by-other');
    await slot.nic.setFaults(faults);
    this.#o.out.note(slot.serial, faults.length ? `faults armed: ${faults.map(describeFault).join(', ')}` : 'faults cleared');
    this.#o.registry.postDevices();
    // the other host's lock lives in the NIC's RAM: a power cycle drops it
    if (wasLocked && !faults.some((f) => f.kind === 'locked-by-other')) await this.powerCycle(slot, "power cycle to drop the other host's lock");
  }

  setTiming(slot: EmulatedSlot, timing: TimingName): void {
    slot.nic.setTiming(timing);
    slot.timing = timing;
    this.#o.out.note(slot.serial, `timing model: ${timing}`);
    this.#o.registry.postDevices();
  }
}
