/**
 * The device side of the app: it answers the page's DeviceRequests with DeviceEvents. It runs in
 * the device Worker (emulated NICs) and in the page (a real WebUSB device, which cannot move to a
 * Worker), and in unit tests with in-memory stores; it never touches the DOM. This file is the
 * switchboard: one request at a time (a second is refused as busy; Step / Run / Cancel and the audit
 * export pass), each ended by exactly one `done` that keeps its error code across the Worker
 * boundary. The work is done by its parts:
 *
 * - registry.ts: the devices by serial, each one's current enumeration, DfuHost and QUERY;
 * - emulated-fleet.ts: the emulated NICs (manufacture, save, restore as a reboot, bench controls);
 * - session-runner.ts: "update" and "update all", through one runner and core's StepGate;
 * - maintenance.ts: the blocked maintenance commands and the CS-token demo;
 * - outbox.ts: events and batched log lines; session-history.ts / persistent-audit.ts: what is kept.
 */
import { UpdateError } from '../core/dfu/errors.ts';
import { AuditLog, verifyAuditLog } from '../core/update/audit.ts';
import type { DeviceEvent, DeviceRequest } from './device-protocol.ts';
import type { WireError } from '../core/dfu/errors.ts';
import { EmulatedFleet } from './emulated-fleet.ts';
import type { HistoryStore } from './history-store.ts';
import { Maintenance, type TokenSigner } from './maintenance.ts';
import type { NicStore } from './nic-store.ts';
import { Outbox } from './outbox.ts';
import { openPersistentAudit, type OpenedAudit } from './persistent-audit.ts';
import { DeviceRegistry } from './registry.ts';
import { rebootNotice, SessionHistory } from './session-history.ts';
import { loadSession, SessionRunner } from './session-runner.ts';

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
  readonly signToken?: TokenSigner;
  /** Where the history and the audit chain are kept; without one they end with the page. */
  readonly historyStore?: HistoryStore;
  /** navigator.locks: marks a running session as live for other tabs (session-history.ts). */
  readonly locks?: LockManager;
}

/** This side is doing something else (one request at a time): Busy at the boundary, not worth a log line. */
class Busy extends UpdateError {
  constructor(message: string) {
    super('Busy', message);
  }
}

export class DeviceService {
  readonly #o: DeviceServiceOptions;
  readonly #out: Outbox;
  readonly #registry: DeviceRegistry;
  readonly #fleet: EmulatedFleet;
  readonly #runner: SessionRunner;
  readonly #maintenance: Maintenance;
  readonly #history: SessionHistory | undefined;
  #audit = new AuditLog();
  #auditOpened: Promise<OpenedAudit> | undefined;
  #base = 'http://localhost/';
  #busy: string | undefined;
  readonly #ready: Promise<void>;

  constructor(opts: DeviceServiceOptions) {
    this.#o = opts;
    const clock = opts.clock ?? (() => performance.now());
    const out = (this.#out = new Outbox(opts.post, clock, () => this.#audit));
    const registry = (this.#registry = new DeviceRegistry({ out, source: opts.source, clock, ...(opts.reconnectMs !== undefined ? { reconnectMs: opts.reconnectMs } : {}) }));
    const fleet = (this.#fleet = new EmulatedFleet({ registry, out, base: () => this.#base, ...(opts.store ? { store: opts.store } : {}), ...(opts.fetchBytes ? { fetchBytes: opts.fetchBytes } : {}), ...(opts.bankSize ? { bankSize: opts.bankSize } : {}) }));
    const save = (slot: Parameters<EmulatedFleet['save']>[0]) => fleet.save(slot);
    if (opts.historyStore) this.#history = new SessionHistory({ store: opts.historyStore, report: (text) => out.line('', 'session', text), ...(opts.locks ? { locks: opts.locks } : {}) });
    this.#runner = new SessionRunner({ registry, out, audit: () => this.#audit, save, setFaults: (slot, faults) => fleet.setFaults(slot, faults), clock, ...(this.#history ? { history: this.#history } : {}) });
    this.#maintenance = new Maintenance({ registry, out, save, ...(opts.signToken ? { signToken: opts.signToken } : {}) });
    // the steps' titles come with the session's chunk; init waits for them, so `ready` comes before its `done`
    this.#ready = loadSession().then(({ STEPS, STEP_TITLES }) => out.emit({ kind: 'ready', steps: STEPS.map((id) => ({ id, title: STEP_TITLES[id], status: 'pending' })) }));
  }

  /** Handles one request; always ends with one `done` for its id. */
  async handle(req: DeviceRequest): Promise<void> {
    let error: WireError | undefined;
    try {
      await this.#dispatch(req);
    } catch (e) {
      // the code survives the Worker boundary: the page decides on it, never on the sentence
      error = UpdateError.from(e).toWire();
      if (!(e instanceof Busy)) this.#out.line('', 'session', `error: ${error.message}`);
    }
    this.#out.emit({ kind: 'done', id: req.id, ...(error !== undefined ? { error } : {}) });
  }

  async #dispatch(req: DeviceRequest): Promise<void> {
    const registry = this.#registry;
    const fleet = this.#fleet;
    switch (req.kind) {
      case 'init':
        return this.#exclusive('starting', () => this.#init(req.baseUrl));
      case 'query':
        return this.#exclusive('reading the device', async () => void (await registry.query(registry.get(req.serial))));
      case 'start':
        return this.#exclusive('updating', () => this.#runner.update(req));
      case 'start-all':
        return this.#exclusive('updating all NICs', () => this.#runner.updateAll(req));
      // the running session's gate: these never wait for the update they steer
      case 'step':
        return this.#runner.step();
      case 'run':
        return this.#runner.run();
      case 'cancel':
        return this.#runner.cancel();
      case 'reset-device':
        return this.#exclusive('resetting', async () => {
          const slot = registry.get(req.serial);
          await registry.reset(slot);
          await fleet.save(slot);
        });
      case 'power-cycle':
        return this.#exclusive('power-cycling', () => fleet.powerCycle(registry.emulated(req.serial), 'power cycle'));
      case 'factory-reset':
        return this.#exclusive('factory reset', () => fleet.factoryReset(registry.emulated(req.serial)));
      case 'set-faults':
        return this.#exclusive('arming faults', () => fleet.setFaults(registry.emulated(req.serial), req.faults));
      case 'set-timing':
        return fleet.setTiming(registry.emulated(req.serial), req.timing);
      case 'add-nic':
        return this.#exclusive('adding a NIC', () => (req.demo ? fleet.addDemoNic() : fleet.addNic(req.psid, req.trustKeys, req.production === true)));
      case 'maintenance':
        return this.#exclusive('sending a maintenance command', () => this.#maintenance.send(registry.get(req.serial), req.op));
      case 'cs-token':
        return this.#exclusive('unlocking with a CS token', () => this.#maintenance.csToken(registry.emulated(req.serial), req.vsd));
      case 'export-audit': {
        const jsonl = await this.#audit.toJsonl();
        this.#out.emit({ kind: 'audit', id: req.id, jsonl, check: await verifyAuditLog(jsonl) });
        return;
      }
      case 'adopt-usb':
        return this.#exclusive('connecting', async () => {
          await this.#openAudit();
          await registry.adopt(req.device, req.bus);
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

  /** Start-up: the audit chain continued, the NICs restored (a reboot) or made, read, and what the reload changed said. */
  async #init(baseUrl: string): Promise<void> {
    this.#base = baseUrl;
    await this.#ready;
    const audit = await this.#openAudit();
    const reboots = await this.#fleet.restore();
    const registry = this.#registry;
    registry.postDevices();
    for (const slot of registry.all()) await registry.query(slot);
    const notices = [];
    for (const { slot, before } of reboots) {
      const text = rebootNotice(slot.serial, before, slot.last);
      if (!text) continue;
      this.#out.note(slot.serial, text);
      await this.#history?.rebooted(slot.serial, slot.psid, before, slot.last, text);
      notices.push({ serial: slot.serial, text });
    }
    const interrupted = (await this.#history?.recover((serial) => (registry.has(serial) ? registry.get(serial).last : undefined))) ?? [];
    for (const e of interrupted) this.#out.note(e.serial, `interrupted: the update with ${e.file} started ${e.time} never finished (the page was reloaded or closed)`);
    this.#out.emit({ kind: 'restored', reboots: notices, interrupted, audit: { resumed: audit?.resumed ?? 0, ...(audit?.keptAside ? { keptAside: audit.keptAside } : {}) } });
  }

  /**
   * The stored audit chain, continued (once; before the first record of this page). The emulator's
   * chain is this tab's by the emulator lock; a real-USB chain is taken with a Web Lock of its own,
   * since any tab may reach real devices.
   */
  #openAudit(): Promise<OpenedAudit | undefined> {
    const store = this.#o.historyStore;
    if (!store) return Promise.resolve(undefined);
    return (this.#auditOpened ??= openPersistentAudit(store, this.#o.source, (text) => this.#out.line('', 'session', text), {
      ...(this.#o.source === 'usb' && this.#o.locks ? { locks: this.#o.locks } : {}),
    }).then((a) => {
      this.#audit = a.log;
      return a;
    }));
  }
}
