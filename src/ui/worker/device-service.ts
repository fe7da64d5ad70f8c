/**
 * The device side of the app: it owns the devices (emulated NICs, or a real WebUSB device when it
 * runs in the page), the DfuHost / NicClient for each, and the UpdateSession. It answers the
 * page's DeviceRequests with DeviceEvents and never touches the DOM, so the same class runs in the
 * device Worker (emulator) and in the page (real USB), and in unit tests with an in-memory store.
 *
 * One update runs at a time. The session's gate pauses before each step (Step / Run / Cancel) and
 * reads QUERY there, so the device panel is current after every step. Emulated NICs are saved
 * (encodeState bytes) after every session, reset and factory reset; at start they are restored and
 * rebooted — a reload is a reboot, not a factory reset — and the page is told when that reboot
 * applied a pending image. With a history store, the audit chain continues across page loads and
 * each session leaves a history entry (session-history.ts).
 */
import { DfuHost, type TransferLogEntry } from '../../core/dfu/host.ts';
import type { TrustStore } from '../../core/crypto/trust.ts';
import { AuditLog, verifyAuditLog } from '../../core/update/audit.ts';
import { NicClient } from '../../core/update/nic-client.ts';
import { bootStatusText, encodeTokenBody, MAINT_OP, MAINT_OP_MSTFLINT, TOKEN_MAX_SECONDS, tokenOps, VSD_MAX } from '../../core/update/protocol.ts';
import { type DeviceQuery } from '../../core/update/query.ts';
import { UpdateError } from '../../core/dfu/errors.ts';
import { escapeControlsInline } from '../../core/bytes/safe-text.ts';
import type { SessionProgress, SessionResult, StepId, StepState, UpdateSession } from '../../core/update/session.ts';
import type { EmulatedNic, EmulatedNicOptions, EmulatedUsb, Fault, Identity, TimingName } from '../../emulator/index.ts';
// the two light entry points (no firmware in them): the emulator itself loads on first use
import { describeFault } from '../../emulator/faults.ts';
import { decodeState, encodeState } from '../../emulator/persist.ts';
import { DEMO_SERIAL } from './device-protocol.ts';
import { factoryImageTrustingPems } from '../../core/sign/factory-image.ts';
import type { WireError } from './device-protocol.ts';
import type { CsTokenStep, DeviceBus, DeviceEvent, DeviceRequest, DeviceSummary, LogLine, LogSource, MaintenanceOp, RunMode, TrustSource } from './device-protocol.ts';
import type { NicStore } from './nic-store.ts';
import { describeTransfer, StatusTracker } from './transfer-log.ts';
import type { HistoryStore, SessionMarker } from './history-store.ts';
import { openPersistentAudit, type OpenedAudit } from './persistent-audit.ts';
import { rebootNotice, SessionHistory, versionText } from './session-history.ts';

export interface DeviceServiceOptions {
  /** 'emulator': owns emulated NICs (in the Worker); 'usb': real devices the page picked. */
  readonly source: 'emulator' | 'usb';
  readonly post: (e: DeviceEvent) => void;
  /** Where emulated NICs are saved; without one they are forgotten on reload. */
  readonly store?: NicStore;
  /** Fetches the factory image (public/samples/factory.tfw); the URL is resolved against init's baseUrl. */
  readonly fetchBytes?: (url: string) => Promise<Uint8Array>;
  /** Bank size for new NICs; default the emulator's 64 MiB (tests use less). */
  readonly bankSize?: number;
  /** How long a device may take to come back after a reset or power loss. */
  readonly reconnectMs?: number;
  readonly clock?: () => number;
  /**
   * Signs a CS token's 60-byte body (the CS-token demo). The Worker passes the DEMO signer key,
   * whose private half is public; without a signer the demo is refused.
   */
  readonly signToken?: (body: Uint8Array) => Promise<SignedTokenParts>;
  /** Where the history and the audit chain are kept; without one they end with the page. */
  readonly historyStore?: HistoryStore;
  /** navigator.locks: marks a running session as live for other tabs (session-history.ts). */
  readonly locks?: LockManager;
}

/** What a token signer returns: the key id the device looks the key up by, and the signature. */
export interface SignedTokenParts {
  /** SHA-256 of the signer's SubjectPublicKeyInfo (DER). */
  readonly keyId: Uint8Array;
  /** RSASSA-PKCS1-v1_5 / SHA-256 / RSA-2048 over the body. */
  readonly signature: Uint8Array;
  /** Who signed, for a person ("DEMO vendor signer key (public, demo only)"). */
  readonly signer: string;
}

/** How long the demo's CS token asks to be valid (the device caps it at TOKEN_MAX_SECONDS). */
export const DEMO_TOKEN_SECONDS = 300;

interface Slot {
  readonly serial: string;
  readonly kind: 'emulated' | 'usb';
  readonly bus: DeviceBus;
  readonly nic?: EmulatedNic;
  readonly tracker: StatusTracker;
  label: string;
  psid?: string;
  timing?: TimingName;
  device: USBDevice;
  host?: DfuHost;
  /** The last QUERY answer. */
  last?: DeviceQuery;
}

export const FACTORY_IMAGE = 'samples/factory.tfw';
/** The first emulated NIC's serial (the emulator's default identity). */
export const FIRST_SERIAL = 'TFN0000001';
const labelOf = (serial: string) => (serial === DEMO_SERIAL ? 'Demo NIC' : 'Emulated NIC');

const PROGRESS_EVERY_MS = 50;

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
const LOG_FLUSH_MS = 30;

class Busy extends Error {}

export class DeviceService {
  readonly #o: DeviceServiceOptions;
  readonly #slots = new Map<string, Slot>();
  /** The emulated NICs' bus (one navigator.usb for all of them); the emulator loads on first use. */
  #emulator: Promise<{ bus: EmulatedUsb; create: (o: EmulatedNicOptions) => ReturnType<typeof import('../../emulator/index.ts').createEmulatedNic> }> | undefined;
  #audit = new AuditLog();
  readonly #history: SessionHistory | undefined;
  #auditOpened: Promise<OpenedAudit> | undefined;
  readonly #trustCache = new Map<string, Promise<TrustStore>>();
  readonly #clock: () => number;
  readonly #t0: number;
  #base = 'http://localhost/';
  #busy: string | undefined;
  #log: LogLine[] = [];
  #logTimer: ReturnType<typeof setTimeout> | undefined;
  // the running session
  #session: UpdateSession | undefined;
  #mode: RunMode = 'run';
  #credits = 0;
  #resume: ((r: 'continue' | 'cancel') => void) | undefined;
  #cancelRequested = false;

  constructor(opts: DeviceServiceOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#t0 = this.#clock();
    const report = (text: string) => this.#line('', 'session', text);
    if (opts.historyStore) this.#history = new SessionHistory({ store: opts.historyStore, report, ...(opts.locks ? { locks: opts.locks } : {}) });
    // the session (with the verifier and pkijs) is its own chunk; the steps' titles come with it
    void this.#sessionModule().then(({ STEPS, STEP_TITLES }) => this.#emit({ kind: 'ready', steps: STEPS.map((id) => ({ id, title: STEP_TITLES[id], status: 'pending' })) }));
  }

  /** Handles one request; always ends with one `done` for its id. */
  async handle(req: DeviceRequest): Promise<void> {
    let error: WireError | undefined;
    try {
      await this.#dispatch(req);
    } catch (e) {
      // the code survives the Worker boundary: the page decides on it, never on the sentence
      error = e instanceof Busy ? { code: 'Busy', message: e.message } : e instanceof UpdateError ? { code: e.code, message: e.message } : { code: 'Internal', message: `${(e as Error)?.message ?? String(e)}` };
      if (!(e instanceof Busy)) this.#line('', 'session', `error: ${error.message}`);
    }
    this.#emit({ kind: 'done', id: req.id, ...(error !== undefined ? { error } : {}) });
  }

  async #dispatch(req: DeviceRequest): Promise<void> {
    switch (req.kind) {
      case 'init':
        return this.#exclusive('starting', () => this.#init(req.baseUrl));
      case 'query':
        return this.#exclusive('reading the device', async () => void (await this.#query(this.#slot(req.serial))));
      case 'start':
        return this.#exclusive('updating', () => this.#start(req));
      case 'step':
        if (this.#resume) this.#continue('continue');
        else if (this.#session) this.#credits++;
        return;
      case 'run':
        this.#mode = 'run';
        if (this.#resume) this.#continue('continue');
        return;
      case 'cancel':
        this.#cancelRequested = true;
        if (this.#resume) this.#continue('cancel');
        this.#session?.cancel();
        return;
      case 'reset-device':
        return this.#exclusive('resetting', () => this.#resetDevice(this.#slot(req.serial)));
      case 'power-cycle':
        return this.#exclusive('power-cycling', () => this.#powerCycle(this.#emulated(req.serial), 'power cycle'));
      case 'factory-reset':
        return this.#exclusive('factory reset', () => this.#factoryReset(this.#emulated(req.serial)));
      case 'set-faults':
        return this.#exclusive('arming faults', () => this.#setFaults(this.#emulated(req.serial), req.faults));
      case 'set-timing': {
        const slot = this.#emulated(req.serial);
        slot.nic!.setTiming(req.timing);
        slot.timing = req.timing;
        this.#note(slot, `timing model: ${req.timing}`);
        this.#postDevices();
        return;
      }
      case 'add-nic':
        return this.#exclusive('adding a NIC', () => (req.demo ? this.#addDemoNic() : this.#addNic(req.psid, req.trustKeys)));
      case 'maintenance':
        return this.#exclusive('sending a maintenance command', () => this.#maintenance(this.#slot(req.serial), req.op));
      case 'cs-token':
        return this.#exclusive('unlocking with a CS token', () => this.#csToken(this.#emulated(req.serial), req.vsd));
      case 'start-all':
        return this.#exclusive('updating all NICs', () => this.#startAll(req));
      case 'export-audit': {
        const jsonl = await this.#audit.toJsonl();
        const check = await verifyAuditLog(jsonl);
        this.#emit({ kind: 'audit', id: req.id, jsonl, check });
        return;
      }
      case 'adopt-usb':
        return this.#exclusive('connecting', async () => {
          await this.#openAudit();
          await this.#adopt(req.device, req.bus);
        });
    }
  }

  async #exclusive(what: string, work: () => Promise<void>): Promise<void> {
    if (this.#busy) throw new Busy(`busy: ${this.#busy}; wait for it to finish`);
    this.#busy = what;
    try {
      await work();
    } finally {
      this.#busy = undefined;
    }
  }

  #slot(serial: string): Slot {
    const s = this.#slots.get(serial);
    if (!s) throw new Error(`no device with serial ${JSON.stringify(serial)}`);
    return s;
  }
  #emulated(serial: string): Slot & { nic: EmulatedNic } {
    const s = this.#slot(serial);
    if (!s.nic) throw new Error(`${serial} is a real USB device: fault injection, timing and resets of the emulator apply to emulated NICs only`);
    return s as Slot & { nic: EmulatedNic };
  }

  // ---- events --------------------------------------------------------------------------------

  #emit(e: DeviceEvent): void {
    this.#flushLog();
    this.#o.post(e);
  }

  #line(serial: string, source: LogSource, text: string): void {
    this.#log.push({ t: Math.round(this.#clock() - this.#t0), serial, source, text });
    this.#logTimer ??= setTimeout(() => this.#flushLog(), LOG_FLUSH_MS);
  }

  #flushLog(): void {
    clearTimeout(this.#logTimer);
    this.#logTimer = undefined;
    if (this.#log.length === 0) return;
    const lines = this.#log;
    this.#log = [];
    this.#o.post({ kind: 'log', lines });
  }

  /** A line in the log that also goes into the audit log. */
  #note(slot: Pick<Slot, 'serial'>, text: string): void {
    this.#line(slot.serial, 'session', text);
    void this.#audit.add('note', { serial: slot.serial, text });
  }

  #postDevices(): void {
    const devices: DeviceSummary[] = [...this.#slots.values()].map((s) => ({
      serial: s.serial,
      kind: s.kind,
      label: s.label,
      ...(s.psid ? { psid: s.psid } : {}),
      ...(s.timing ? { timing: s.timing } : {}),
      faults: s.nic ? s.nic.faults.map(describeFault) : [],
    }));
    this.#emit({ kind: 'devices', source: this.#o.source, devices });
  }

  #onTransfer(slot: Slot, t: TransferLogEntry): void {
    const { request, answer } = describeTransfer(t);
    this.#line(slot.serial, 'host', request);
    this.#line(slot.serial, 'device', answer);
    const s = slot.tracker.observe(t);
    if (s) this.#emit({ kind: 'status', serial: slot.serial, ...s });
  }

  // ---- devices -------------------------------------------------------------------------------

  #loadEmulator() {
    return (this.#emulator ??= import('../../emulator/index.ts').then(({ createEmulatedNic, EmulatedUsb, checkLandingPage }) => {
      const bus = new EmulatedUsb();
      bus.addEventListener('connect', (e) => this.#onConnect((e as Event & { device: USBDevice }).device));
      // the emulated NIC's WebUSB landing page is the origin that serves this app
      const landingPage = appOrigin(checkLandingPage);
      return { bus, create: (o: EmulatedNicOptions) => createEmulatedNic({ ...(landingPage ? { landingPage } : {}), ...o }) };
    }));
  }

  #onConnect(device: USBDevice): void {
    const slot = [...this.#slots.values()].find((s) => s.serial === device.serialNumber);
    if (slot && slot.device !== device) {
      slot.device = device;
      slot.host = undefined;
    }
  }

  #watchNic(slot: Slot): void {
    slot.nic?.on((e) => {
      if (e.kind === 'power-loss') this.#line(slot.serial, 'nic', `power lost during ${e.where}`);
      else if (e.kind === 'boot') this.#line(slot.serial, 'nic', `boot: ${e.text}`);
      else this.#line(slot.serial, 'nic', `fault fired: ${e.fault}`);
    });
  }

  #addSlot(slot: Slot): Slot {
    this.#slots.set(slot.serial, slot);
    this.#watchNic(slot);
    return slot;
  }

  /** The device's current enumeration: waits for it to come back after a reset or power loss. */
  async #waitDevice(slot: Slot, gone?: USBDevice): Promise<USBDevice> {
    const deadline = this.#clock() + (this.#o.reconnectMs ?? 10_000);
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

  async #host(slot: Slot): Promise<DfuHost> {
    const device = await this.#waitDevice(slot);
    if (slot.host && slot.host.device === device && device.opened) return slot.host;
    const host = new DfuHost(device, { onTransfer: (t) => this.#onTransfer(slot, t) });
    await host.open();
    slot.host = host;
    return host;
  }

  /** Reads QUERY (and STATUS) and posts them; undefined for a generic DFU device. */
  async #query(slot: Slot): Promise<DeviceQuery | undefined> {
    const host = await this.#host(slot);
    const nic = new NicClient(host);
    if (!(await nic.supported())) {
      this.#line(slot.serial, 'session', 'a generic DFU device: it has no secure-update protocol and does not verify signatures itself');
      return undefined;
    }
    const q = await nic.query();
    slot.last = q;
    await nic.status();
    if (q.psid && slot.psid !== q.psid) {
      slot.psid = q.psid;
      this.#postDevices();
    }
    this.#emit({ kind: 'query', serial: slot.serial, query: q });
    return q;
  }

  async #save(slot: Slot): Promise<void> {
    if (!slot.nic || !this.#o.store) return;
    try {
      await this.#o.store.save(slot.serial, encodeState(slot.nic.snapshot()));
    } catch (e) {
      this.#line(slot.serial, 'session', `could not save the NIC's state: ${(e as Error).message}; it will not survive a reload`);
    }
  }

  async #factoryImage(): Promise<Uint8Array> {
    if (!this.#o.fetchBytes) throw new Error('no way to fetch the factory image');
    return this.#o.fetchBytes(new URL(FACTORY_IMAGE, this.#base).href);
  }

  async #init(baseUrl: string): Promise<void> {
    this.#base = baseUrl;
    const audit = await this.#openAudit();
    const reboots: { slot: Slot; before: DeviceQuery | undefined }[] = [];
    let saved: { serial: string; bytes: Uint8Array }[] = [];
    try {
      saved = (await this.#o.store?.loadAll()) ?? [];
    } catch (e) {
      this.#line('', 'session', `saved NICs could not be read: ${(e as Error).message}`);
    }
    for (const { serial, bytes } of saved) {
      const state = decodeState(bytes);
      if (!state.ok) {
        this.#line(serial, 'session', `saved state for ${serial} is unusable (${state.error}); manufacturing a new NIC instead`);
        continue;
      }
      const { bus, create } = await this.#loadEmulator();
      const dev = await create({ state: state.value, usb: bus });
      const slot = this.#addSlot({ serial: dev.nic.identity.serial, kind: 'emulated', bus, nic: dev.nic, tracker: new StatusTracker(), label: labelOf(dev.nic.identity.serial), psid: dev.nic.identity.psid, timing: 'instant', device: dev });
      // a reload is a reboot: flash and fuses as they were, RAM lost, a pending image applied
      reboots.push({ slot, before: await this.#peek(slot) });
      const boot = await dev.nic.reset();
      this.#note(slot, `restored from IndexedDB and rebooted: ${bootStatusText(boot)}`);
      if (dev.nic.migrated) this.#note(slot, dev.nic.migrated); // saved before the redundant flash layout (protocol §8.7)
      await this.#save(slot);
    }
    if (this.#slots.size === 0) await this.#manufacture({ serial: FIRST_SERIAL });
    this.#postDevices();
    for (const slot of this.#slots.values()) await this.#query(slot);
    const notices = [];
    for (const { slot, before } of reboots) {
      const text = rebootNotice(slot.serial, before, slot.last);
      if (!text) continue;
      this.#note(slot, text);
      await this.#history?.rebooted(slot.serial, slot.psid, before, slot.last, text);
      notices.push({ serial: slot.serial, text });
    }
    const interrupted = (await this.#history?.recover((serial) => this.#slots.get(serial)?.last)) ?? [];
    for (const e of interrupted) this.#note(e, `interrupted: the update with ${e.file} started ${e.time} never finished (the page was reloaded or closed)`);
    this.#emit({ kind: 'restored', reboots: notices, interrupted, audit: { resumed: audit?.resumed ?? 0, ...(audit?.keptAside ? { keptAside: audit.keptAside } : {}) } });
  }

  /**
   * The stored audit chain, continued (once; before the first record of this page). The emulator's
   * chain is this tab's by the emulator lock; a real-USB chain is taken with a Web Lock of its own,
   * since any tab may reach real devices.
   */
  #openAudit(): Promise<OpenedAudit | undefined> {
    const store = this.#o.historyStore;
    if (!store) return Promise.resolve(undefined);
    return (this.#auditOpened ??= openPersistentAudit(store, this.#o.source, (text) => this.#line('', 'session', text), {
      ...(this.#o.source === 'usb' && this.#o.locks ? { locks: this.#o.locks } : {}),
    }).then((a) => {
      this.#audit = a.log;
      return a;
    }));
  }

  /** QUERY without telling the page (what a restored NIC held before its reboot). */
  async #peek(slot: Slot): Promise<DeviceQuery | undefined> {
    try {
      return await new NicClient(await this.#host(slot)).query();
    } catch {
      return undefined;
    }
  }

  #marker(slot: Slot, file: string, size: number): Omit<SessionMarker, 'id' | 'time'> {
    const before = versionText(slot.last);
    return { serial: slot.serial, ...(slot.psid ? { psid: slot.psid } : {}), device: slot.kind, file, size, ...(before ? { before } : {}) };
  }

  /** The factory image whose nextKeys are the operator's keys (PEM texts) instead of the demo keys. */
  async #trustingFactory(pems: readonly string[]): Promise<Uint8Array> {
    const r = await factoryImageTrustingPems(await this.#factoryImage(), pems.map((text, i) => ({ name: `key ${i + 1}`, text })));
    if (!r.ok) throw new Error(`the NIC cannot be made to trust this key: ${r.reason}`);
    return r.image;
  }

  async #manufacture(identity: Partial<Identity>, trustKeys?: readonly string[]): Promise<Slot> {
    const { bus, create } = await this.#loadEmulator();
    // a NIC made to trust the operator's keys: the factory image with its nextKeys replaced by them
    const factoryImage = trustKeys?.length ? await this.#trustingFactory(trustKeys) : await this.#factoryImage();
    const dev = await create({ factoryImage, identity, usb: bus, ...(this.#o.bankSize ? { bankSize: this.#o.bankSize } : {}) });
    const slot = this.#addSlot({ serial: dev.nic.identity.serial, kind: 'emulated', bus, nic: dev.nic, tracker: new StatusTracker(), label: labelOf(dev.nic.identity.serial), psid: dev.nic.identity.psid, timing: 'instant', device: dev });
    this.#note(slot, `manufactured emulated NIC ${slot.serial} (PSID ${slot.psid}) with the factory image${trustKeys?.length ? ", its next update checked with the operator's key, not the demo keys" : ''}`);
    await this.#save(slot);
    return slot;
  }

  async #addDemoNic(): Promise<void> {
    if (this.#slots.has(DEMO_SERIAL)) return;
    const slot = await this.#manufacture({ serial: DEMO_SERIAL, description: 'TrustFlash demo NIC (reset before every demo scenario)', baseMac: 'b8:ce:f6:00:0d:e0', baseGuid: 'b8cef603000d0de0' });
    this.#postDevices();
    await this.#query(slot);
  }

  async #addNic(psid: string | undefined, trustKeys?: readonly string[]): Promise<void> {
    let n = 2;
    const serial = (i: number) => `TFN${String(i).padStart(7, '0')}`;
    while (this.#slots.has(serial(n))) n++;
    const h = n.toString(16).padStart(2, '0');
    const slot = await this.#manufacture({ serial: serial(n), baseMac: `b8:ce:f6:00:00:${h}`, baseGuid: `b8cef603000000${h}`, ...(psid ? { psid } : {}) }, trustKeys);
    this.#postDevices();
    await this.#query(slot);
  }

  async #adopt(device: USBDevice, bus: DeviceBus): Promise<void> {
    const serial = device.serialNumber || `${device.vendorId.toString(16).padStart(4, '0')}:${device.productId.toString(16).padStart(4, '0')}`;
    const existing = this.#slots.get(serial);
    if (existing) {
      existing.device = device;
      existing.host = undefined;
    } else {
      bus.addEventListener('connect', (e) => this.#onConnect((e as Event & { device: USBDevice }).device));
      this.#addSlot({ serial, kind: 'usb', bus, tracker: new StatusTracker(), label: escapeControlsInline(device.productName || 'USB device'), device });
    }
    this.#postDevices();
    await this.#query(this.#slot(serial));
  }

  async #resetDevice(slot: Slot): Promise<void> {
    const host = await this.#host(slot);
    const old = host.device;
    this.#note(slot, 'reset requested (vendor RESET): the device reboots and runs its pending image, if any');
    await new NicClient(host).reset();
    slot.host = undefined;
    await this.#waitDevice(slot, old);
    const q = await this.#query(slot);
    if (q) this.#note(slot, `after reset: running ${q.fwVersionRunning ?? '?'}${q.fwVersionPending ? `, pending ${q.fwVersionPending}` : ''}`);
    await this.#save(slot);
  }

  async #powerCycle(slot: Slot & { nic: EmulatedNic }, why: string): Promise<void> {
    const boot = await slot.nic.reset();
    this.#note(slot, `${why}: ${bootStatusText(boot)}`);
    await this.#waitDevice(slot);
    await this.#query(slot);
    await this.#save(slot);
  }

  async #factoryReset(slot: Slot & { nic: EmulatedNic }): Promise<void> {
    const image = await this.#factoryImage();
    await slot.nic.setFaults([]);
    await slot.nic.factoryReset(image);
    this.#note(slot, 'factory reset: re-manufactured with the factory image (the fuses keep what was burnt)');
    this.#postDevices();
    await this.#waitDevice(slot);
    await this.#query(slot);
    await this.#save(slot);
  }

  async #setFaults(slot: Slot & { nic: EmulatedNic }, faults: readonly Fault[]): Promise<void> {
    const wasLocked = slot.nic.faults.some((f) => f.kind === 'locked-by-other');
    await slot.nic.setFaults(faults);
    this.#note(slot, faults.length ? `faults armed: ${faults.map(describeFault).join(', ')}` : 'faults cleared');
    this.#postDevices();
    // the other host's lock lives in the NIC's RAM: a power cycle drops it
    if (wasLocked && !faults.some((f) => f.kind === 'locked-by-other')) await this.#powerCycle(slot, "power cycle to drop the other host's lock");
  }

  /**
   * Sends a maintenance command as flint would (MAINT, docs/protocol.md §4.6). Secure firmware
   * refuses it with a STALL; LAST_RESULT then says why.
   */
  async #maintenance(slot: Slot, op: MaintenanceOp): Promise<void> {
    const argument: Record<MaintenanceOp, Uint8Array> = {
      RAW_FLASH_WRITE: new Uint8Array(16).fill(0xff),
      SET_VSD: new TextEncoder().encode('bench 7'),
      ROM_BURN: new Uint8Array(16),
    };
    this.#note(slot, `maintenance command ${op} sent`);
    const r = await new NicClient(await this.#host(slot)).maintenance(op, argument[op]);
    const last = r.accepted ? undefined : r.last;
    this.#note(slot, r.accepted ? `${op} accepted by the device` : `${op} refused by the device: ${last?.text ?? 'STALL'}`);
    this.#emit({ kind: 'maintenance', serial: slot.serial, op, refused: !r.accepted, ...(last ? { deviceText: last.text, registerStatus: last.code } : {}), mstflint: MAINT_OP_MSTFLINT[MAINT_OP[op]] ?? '' });
  }

  /** MAINT SET_VSD: undefined when the device took it, else what it said (LAST_RESULT) when it stalled. */
  async #setVsd(nic: NicClient, value: Uint8Array): Promise<string | undefined> {
    const r = await nic.maintenance('SET_VSD', value);
    return r.accepted ? undefined : (r.last?.text ?? 'the request was stalled');
  }

  /**
   * The CS-token demo (reference §5.4): SET_VSD refused under secure firmware; the device's
   * challenge read; a token for that nonce and PSID signed and applied; SET_VSD accepted.
   */
  async #csToken(slot: Slot & { nic: EmulatedNic }, vsd: string): Promise<void> {
    const sign = this.#o.signToken;
    if (!sign) throw new Error('no CS-token signer is available here');
    const value = new TextEncoder().encode(vsd);
    if (value.length === 0 || value.length > VSD_MAX) throw new RangeError(`"vsd" expected 1..${VSD_MAX} bytes, got ${value.length}`);
    const nic = new NicClient(await this.#host(slot));
    const step = (id: CsTokenStep, ok: boolean, text: string) => {
      this.#note(slot, `CS token: ${text}`);
      this.#emit({ kind: 'cs-token', serial: slot.serial, step: id, ok, text });
    };

    const refused = await this.#setVsd(nic, value);
    if (refused === undefined) {
      step('refused', false, 'SET_VSD was accepted without asking for a token: a token applied earlier is still active');
      await this.#query(slot);
      return;
    }
    step('refused', true, `SET_VSD refused by the device: ${refused} (${MAINT_OP_MSTFLINT[MAINT_OP.SET_VSD]})`);

    const ch = await nic.tokenChallenge();
    const nonceHex = [...ch.nonce].map((b) => b.toString(16).padStart(2, '0')).join('');
    step('challenge', true, `challenge read: nonce ${nonceHex.slice(0, 8)}…${nonceHex.slice(-4)} for PSID ${ch.psid}`);

    const body = encodeTokenBody({ ops: tokenOps([MAINT_OP.SET_VSD]), seconds: DEMO_TOKEN_SECONDS, nonce: ch.nonce, psid: ch.psid });
    const signed = await sign(body);
    const keyHex = [...signed.keyId.slice(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join('');
    step('signed', true, `token for SET_VSD, ${DEMO_TOKEN_SECONDS} s, signed by the ${signed.signer} (key id ${keyHex}…)`);

    const applied = await nic.tokenApply({ body, keyId: signed.keyId, signature: signed.signature });
    if (!applied.accepted) {
      step('applied', false, `the device refused the token: ${applied.last?.text ?? 'STALL'}`);
      return;
    }
    const seconds = Math.min(DEMO_TOKEN_SECONDS, TOKEN_MAX_SECONDS);
    step('applied', true, `token applied: SET_VSD is unlocked for ${seconds} s (the device caps any token at ${TOKEN_MAX_SECONDS} s and accepts one answer per challenge); raw flash writes and ROM burns stay refused`);

    const again = await this.#setVsd(nic, value);
    if (again !== undefined) {
      step('accepted', false, `SET_VSD still refused: ${again}`);
      return;
    }
    await this.#query(slot);
    await this.#save(slot);
    step('accepted', true, `SET_VSD accepted: the device VSD is now "${vsd}"`);
  }

  // ---- several NICs at once ------------------------------------------------------------------

  /** One session per NIC, concurrently; each NIC has its own DfuHost and UpdateSession. */
  async #startAll(req: Extract<DeviceRequest, { kind: 'start-all' }>): Promise<void> {
    const slots = req.serials ? req.serials.map((s) => this.#slot(s)) : [...this.#slots.values()].filter((s) => s.kind === 'emulated');
    if (slots.length === 0) throw new Error('there is no device to update');
    this.#cancelRequested = false;
    // the transferred buffer is this side's one copy; the sessions only read it
    const bytes = new Uint8Array(req.bytes);
    const { UpdateSession } = await this.#sessionModule();
    const trust = await this.#trust(req.trust);
    this.#emit({ kind: 'batch-start', name: req.name, serials: slots.map((s) => s.serial) });
    await Promise.all(
      slots.map(async (slot) => {
        const serial = slot.serial;
        let result: SessionResult;
        let lastProgress = 0;
        let marker: SessionMarker | undefined;
        try {
          const host = await this.#host(slot);
          marker = await this.#history?.begin(this.#marker(slot, req.name, bytes.length));
          this.#note(slot, `update started (all NICs): ${req.name} (${bytes.length} bytes)`);
          const session = new UpdateSession({
            host,
            usb: slot.bus,
            firmware: { kind: 'image', bytes },
            trust,
            audit: this.#audit,
            gate: async () => (this.#cancelRequested ? 'cancel' : 'continue'),
            onProgress: (p) => {
              const now = this.#clock();
              if (now - lastProgress >= PROGRESS_EVERY_MS || p.fraction >= 1) {
                lastProgress = now;
                this.#emit({ kind: 'batch-progress', serial, progress: p });
              }
            },
            onLog: (text) => this.#line(serial, 'session', text),
          });
          result = await session.run();
        } catch (e) {
          result = { outcome: 'failed', message: (e as Error).message, deviceVerifies: true, steps: [] };
        }
        this.#note(slot, `result: ${result.outcome}: ${result.message}`);
        try {
          await this.#query(slot);
        } catch (e) {
          this.#line(serial, 'session', `the device could not be read after the update: ${(e as Error).message}`);
        }
        await this.#save(slot);
        if (marker) await this.#history?.finish(marker, result);
        this.#emit({ kind: 'batch-result', serial, name: req.name, result });
      }),
    );
    this.#postDevices();
  }

  // ---- the update session --------------------------------------------------------------------

  #trust(sources: readonly TrustSource[]): Promise<TrustStore> {
    const key = JSON.stringify(sources.map((s) => [s.name, s.text]));
    let hit = this.#trustCache.get(key);
    if (!hit) {
      hit = import('../../core/crypto/trust.ts').then(async ({ loadTrustStore }) => {
        const { store, errors } = await loadTrustStore(sources);
        for (const e of errors) this.#line('', 'session', `trust store: ${e}`);
        return store;
      });
      this.#trustCache.set(key, hit);
    }
    return hit;
  }

  #continue(r: 'continue' | 'cancel'): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.(r);
  }

  #sessionModule() {
    return import('../../core/update/session.ts');
  }

  async #start(req: Extract<DeviceRequest, { kind: 'start' }>): Promise<void> {
    const slot = this.#slot(req.serial);
    // a Cancel that arrives while the session is being set up still counts
    this.#cancelRequested = false;
    // the transferred buffer is this side's own copy: it is verified and sent as is
    const bytes = new Uint8Array(req.bytes);
    if (req.faults && slot.nic && (req.faults.length > 0 || slot.nic.faults.length > 0)) await this.#setFaults(slot as Slot & { nic: EmulatedNic }, req.faults);
    const { UpdateSession } = await this.#sessionModule();
    const trust = await this.#trust(req.trust);
    const host = await this.#host(slot);
    this.#mode = req.mode;
    // Step starts the session and takes its first step
    this.#credits = req.mode === 'step' ? 1 : 0;
    const serial = slot.serial;
    let speaksProtocol = true;
    let lastProgress = 0;
    let pendingProgress: SessionProgress | undefined;
    let prevSteps: readonly StepState[] = [];
    const gate = async (next: StepId): Promise<'continue' | 'cancel'> => {
      if (next !== 'query' && speaksProtocol) {
        // the device panel is refreshed between steps (the session is paused, the bus is free)
        try {
          const q = await new NicClient(host).query();
          this.#emit({ kind: 'query', serial, query: q });
        } catch {
          speaksProtocol = false;
        }
      }
      if (this.#cancelRequested) return 'cancel';
      if (this.#mode === 'run') return 'continue';
      if (this.#credits > 0) {
        this.#credits--;
        return 'continue';
      }
      this.#emit({ kind: 'waiting', serial, next });
      const r = await new Promise<'continue' | 'cancel'>((resolve) => (this.#resume = resolve));
      this.#emit({ kind: 'waiting', serial, next: null });
      return r;
    };
    this.#emit({ kind: 'session-start', serial, name: req.name, size: bytes.length, mode: req.mode });
    this.#note(slot, `update started: ${req.name} (${bytes.length} bytes), ${req.mode === 'step' ? 'step by step' : 'running through'}`);
    const session = new UpdateSession({
      host,
      usb: slot.bus,
      firmware: { kind: 'image', bytes },
      trust,
      audit: this.#audit,
      gate,
      onSteps: (steps) => {
        for (const s of steps) {
          const before = prevSteps.find((p) => p.id === s.id);
          if (before?.status === s.status && before.detail === s.detail) continue;
          if (s.status === 'running') this.#line(serial, 'session', `▶ ${s.title}`);
          else if (s.status === 'done') this.#line(serial, 'session', `✔ ${s.title}${s.detail ? ` — ${s.detail}` : ''}`);
          else if (s.status === 'failed') this.#line(serial, 'session', `✘ ${s.title} — ${s.detail ?? 'failed'}`);
          else if (s.status === 'skipped' && s.detail) this.#line(serial, 'session', `– ${s.title} — ${s.detail}`);
        }
        prevSteps = steps;
        this.#emit({ kind: 'steps', serial, steps });
      },
      onProgress: (p) => {
        const now = this.#clock();
        pendingProgress = p;
        if (now - lastProgress >= PROGRESS_EVERY_MS || p.fraction >= 1 || (p.bytesTotal > 0 && p.bytesSent === p.bytesTotal)) {
          lastProgress = now;
          pendingProgress = undefined;
          this.#emit({ kind: 'progress', serial, progress: p });
        }
      },
      onLog: (text) => this.#line(serial, 'session', text),
    });
    this.#session = session;
    // on disk before the session runs: a reload from here on is flagged "interrupted" on return
    const marker = await this.#history?.begin(this.#marker(slot, req.name, bytes.length));
    let result: SessionResult;
    try {
      result = await session.run();
    } finally {
      this.#session = undefined;
      this.#resume = undefined;
    }
    if (pendingProgress) this.#emit({ kind: 'progress', serial, progress: pendingProgress });
    this.#note(slot, `result: ${result.outcome}: ${result.message}`);
    // the device may have re-enumerated (power loss, pulled cable): read it again where it is now
    try {
      await this.#query(slot);
    } catch (e) {
      this.#line(serial, 'session', `the device could not be read after the update: ${(e as Error).message}`);
    }
    await this.#save(slot);
    if (marker) await this.#history?.finish(marker, result);
    this.#postDevices();
    this.#emit({ kind: 'result', serial, name: req.name, result });
  }
}
