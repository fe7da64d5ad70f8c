/**
 * Runs UpdateSessions for the page: "update" (one device, Step / Run / Cancel through a StepGate)
 * and "update all" (one session per device, concurrently, straight through behind one shared gate)
 * go through the same #run: a history marker on disk first, the session's one event stream turned
 * into DeviceEvents, and afterwards the device read again where it is now, saved, and the history
 * entry finished. Page intents (step, run, cancel) go to the gate of the running update.
 */
import type { DfuHost } from '../core/dfu/host.ts';
import type { TrustStore } from '../core/crypto/trust.ts';
import type { CatalogCheckInput } from '../core/catalog/catalog-check.ts';
import type { AuditLog } from '../core/update/audit.ts';
import { StepGate } from '../core/update/gate.ts';
import { NicClient } from '../core/update/nic-client.ts';
import type { SessionProgress, SessionResult, StepState } from '../core/update/session.ts';
import type { DeviceRequest, Fault, SessionCatalog, TrustSource } from './device-protocol.ts';
import type { SessionMarker } from './history-store.ts';
import type { Outbox } from './outbox.ts';
import type { DeviceRegistry, EmulatedSlot, Slot } from './registry.ts';
import { versionText, type SessionHistory } from './session-history.ts';

/** The session (with the verifier and pkijs) is its own chunk, loaded on first use. */
export const loadSession = () => import('../core/update/session.ts');

const PROGRESS_EVERY_MS = 50;

export interface RunnerOptions {
  readonly registry: DeviceRegistry;
  readonly out: Outbox;
  /** The audit chain in use (the stored one, once it is opened). */
  readonly audit: () => AuditLog;
  readonly history?: SessionHistory;
  readonly save: (slot: Slot) => Promise<void>;
  readonly setFaults: (slot: EmulatedSlot, faults: readonly Fault[]) => Promise<void>;
  readonly clock: () => number;
}

interface Job {
  readonly name: string;
  /** The image, read as the session goes (never whole for a v2 image). */
  readonly image: Blob;
  readonly trust: TrustStore;
  /** The release catalog, verified against `trust` (the pre-flight's catalog row). */
  readonly catalog?: CatalogCheckInput;
  readonly gate: StepGate;
  /** An open host; without one it is opened here, and failing to is the session's failure. */
  readonly host?: DfuHost;
  /** "update all": no step events or step lines, batch-progress instead of progress. */
  readonly batch: boolean;
  /** Production mode (core/verify/production.ts): the page's setting, sent with the request. */
  readonly production?: boolean;
  /** Device CAs (PEM) from the trust bundle; when there are any, receipts are checked against them instead of the DEMO device CA. */
  readonly deviceCas?: readonly string[];
  /** The log's first line for this run. */
  readonly started: string;
}

export class SessionRunner {
  readonly #o: RunnerOptions;
  readonly #trustCache = new Map<string, Promise<TrustStore>>();
  #gate: StepGate | undefined;

  constructor(o: RunnerOptions) {
    this.#o = o;
  }

  // ---- the page's intents, for the running update ----------------------------------------------

  step(): void {
    this.#gate?.step();
  }
  run(): void {
    this.#gate?.run();
  }
  cancel(): void {
    this.#gate?.cancel();
  }

  // ---- update, update all ----------------------------------------------------------------------

  async update(req: Extract<DeviceRequest, { kind: 'start' }>): Promise<void> {
    const { registry, out } = this.#o;
    const slot = registry.get(req.serial);
    let host: DfuHost | undefined;
    let speaksProtocol = true;
    // made first, so a Cancel that arrives while the session is being set up still counts
    const gate = new StepGate({
      mode: req.mode,
      // the device panel is refreshed between steps (the session is paused, the bus is free)
      beforeStep: async (next) => {
        if (next === 'query' || !speaksProtocol || !host) return;
        try {
          out.emit({ kind: 'query', serial: slot.serial, query: await new NicClient(host).query() });
        } catch {
          speaksProtocol = false;
        }
      },
    });
    this.#gate = gate;
    let result: SessionResult;
    try {
      const image = req.image;
      if (req.faults && slot.nic && (req.faults.length > 0 || slot.nic.faults.length > 0)) await this.#o.setFaults(slot as EmulatedSlot, req.faults);
      const trust = await this.#trust(req.trust);
      const catalog = req.catalog ? await this.#catalog(req.catalog, trust) : undefined;
      host = await registry.host(slot);
      out.emit({ kind: 'session-start', serial: slot.serial, name: req.name, size: image.size, mode: req.mode });
      const started = `update started: ${req.name} (${image.size} bytes), ${req.mode === 'step' ? 'step by step' : 'running through'}`;
      result = await this.#run(slot, { name: req.name, image, trust, ...(catalog ? { catalog } : {}), gate, host, batch: false, started, ...(req.production ? { production: true } : {}), ...(req.deviceCas ? { deviceCas: req.deviceCas } : {}) });
    } finally {
      this.#gate = undefined;
    }
    registry.postDevices();
    out.emit({ kind: 'result', serial: slot.serial, name: req.name, result });
  }

  /** One session per NIC, concurrently; each NIC has its own DfuHost and UpdateSession. */
  async updateAll(req: Extract<DeviceRequest, { kind: 'start-all' }>): Promise<void> {
    const { registry, out } = this.#o;
    const slots = req.serials ? req.serials.map((s) => registry.get(s)) : registry.all().filter((s) => s.kind === 'emulated');
    if (slots.length === 0) throw new Error('there is no device to update');
    const gate = new StepGate({ mode: 'run' });
    this.#gate = gate;
    try {
      // every NIC's session reads the same file, each block checked before it is sent
      const image = req.image;
      const trust = await this.#trust(req.trust);
      const catalog = req.catalog ? await this.#catalog(req.catalog, trust) : undefined;
      out.emit({ kind: 'batch-start', name: req.name, serials: slots.map((s) => s.serial) });
      const started = `update started (all NICs): ${req.name} (${image.size} bytes)`;
      await Promise.all(
        slots.map(async (slot) => {
          const result = await this.#run(slot, { name: req.name, image, trust, ...(catalog ? { catalog } : {}), gate, batch: true, started, ...(req.production ? { production: true } : {}), ...(req.deviceCas ? { deviceCas: req.deviceCas } : {}) });
          out.emit({ kind: 'batch-result', serial: slot.serial, name: req.name, result });
        }),
      );
    } finally {
      this.#gate = undefined;
    }
    registry.postDevices();
  }

  // ---- one session -----------------------------------------------------------------------------

  async #run(slot: Slot, job: Job): Promise<SessionResult> {
    const { registry, out } = this.#o;
    const serial = slot.serial;
    let lastProgress = 0;
    let pending: SessionProgress | undefined;
    let prevSteps: readonly StepState[] = [];
    const progress = (p: SessionProgress) => out.emit(job.batch ? { kind: 'batch-progress', serial, progress: p } : { kind: 'progress', serial, progress: p });
    let marker: SessionMarker | undefined;
    let result: SessionResult;
    try {
      const host = job.host ?? (await registry.host(slot));
      // on disk before the session runs: a reload from here on is flagged "interrupted" on return
      marker = await this.#o.history?.begin(this.#marker(slot, job.name, job.image.size));
      out.note(serial, job.started);
      const { UpdateSession } = await loadSession();
      // receipts are checked against the trust bundle's device CAs when it names any (as the CLI's
      // --bundle), else the DEMO device CA, which certified every NIC this app makes (production mode
      // does not count a receipt by that one)
      // checked when the bundle was loaded; one that no longer reads is left out (and the DEMO CA not put in its place)
      const deviceCa = job.deviceCas?.length
        ? await (await import('../core/catalog/trust-bundle.ts')).deviceCaCertificates(job.deviceCas, [])
        : [await (await import('./demo-device-ca.ts')).demoDeviceCaCertificate()];
      const session = new UpdateSession({
        host,
        usb: slot.bus,
        firmware: { kind: 'file', file: job.image },
        trust: job.trust,
        ...(job.production ? { production: true } : {}),
        ...(job.catalog ? { catalog: job.catalog } : {}),
        audit: this.#o.audit(),
        gate: job.gate,
        deviceCa,
        onEvent: (e) => {
          switch (e.kind) {
            case 'steps':
              if (job.batch) return;
              this.#stepLines(serial, prevSteps, e.steps);
              prevSteps = e.steps;
              out.emit({ kind: 'steps', serial, steps: e.steps });
              return;
            case 'progress': {
              const p = e.progress;
              const now = this.#o.clock();
              pending = p;
              if (now - lastProgress >= PROGRESS_EVERY_MS || p.fraction >= 1 || (p.bytesTotal > 0 && p.bytesSent === p.bytesTotal)) {
                lastProgress = now;
                pending = undefined;
                progress(p);
              }
              return;
            }
            case 'device-status':
              registry.postStatus(slot, e.status, e.instruction);
              return;
            case 'log':
              out.line(serial, 'session', e.text);
              return;
            case 'waiting':
              out.emit({ kind: 'waiting', serial, next: e.next });
              return;
          }
        },
      });
      result = await session.run();
    } catch (e) {
      result = { outcome: 'failed', message: (e as Error).message, deviceVerifies: true, steps: [] };
    }
    if (pending) progress(pending);
    out.note(serial, `result: ${result.outcome}: ${result.message}`);
    // the device may have re-enumerated (power loss, pulled cable): read it again where it is now
    try {
      await registry.query(slot);
    } catch (e) {
      out.line(serial, 'session', `the device could not be read after the update: ${(e as Error).message}`);
    }
    await this.#o.save(slot);
    if (marker) await this.#o.history?.finish(marker, result);
    return result;
  }

  /** The log's lines for the steps that changed: ▶ running, ✔ done, ✘ failed, – skipped with a reason. */
  #stepLines(serial: string, prev: readonly StepState[], steps: readonly StepState[]): void {
    for (const s of steps) {
      const before = prev.find((p) => p.id === s.id);
      if (before?.status === s.status && before.detail === s.detail) continue;
      const line = (text: string) => this.#o.out.line(serial, 'session', text);
      if (s.status === 'running') line(`▶ ${s.title}`);
      else if (s.status === 'done') line(`✔ ${s.title}${s.detail ? ` — ${s.detail}` : ''}`);
      else if (s.status === 'failed') line(`✘ ${s.title} — ${s.detail ?? 'failed'}`);
      else if (s.status === 'skipped' && s.detail) line(`– ${s.title} — ${s.detail}`);
    }
  }

  #marker(slot: Slot, file: string, size: number): Omit<SessionMarker, 'id' | 'time'> {
    const before = versionText(slot.last);
    return { serial: slot.serial, ...(slot.psid ? { psid: slot.psid } : {}), device: slot.kind, file, size, ...(before ? { before } : {}) };
  }

  /** The page's catalog, verified against the session's trust store now (the pre-flight judges it at its own time). */
  async #catalog(c: SessionCatalog, trust: TrustStore): Promise<CatalogCheckInput> {
    const { verifyCatalog } = await import('../core/catalog/catalog-verify.ts');
    return { catalog: await verifyCatalog(c.bytes, { trust, time: new Date() }), lastSeen: c.lastSeen };
  }

  #trust(sources: readonly TrustSource[]): Promise<TrustStore> {
    const key = JSON.stringify(sources.map((s) => [s.name, s.text]));
    let hit = this.#trustCache.get(key);
    if (!hit) {
      hit = import('../core/crypto/trust.ts').then(async ({ loadTrustStore }) => {
        const { store, errors } = await loadTrustStore(sources);
        for (const e of errors) this.#o.out.line('', 'session', `trust store: ${e}`);
        return store;
      });
      this.#trustCache.set(key, hit);
    }
    return hit;
  }
}
