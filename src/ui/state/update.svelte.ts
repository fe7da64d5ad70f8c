/**
 * One update at a time, watched step by step: the firmware chosen, the session's 8 steps, the
 * device's MCC state and the path it took, progress with bytes, rate and ETA, the result and, when
 * something refused the image, who did and why. Step / Run / Cancel map to the session's gate.
 * The file is read once here and its buffer transferred to the device side, which verifies and
 * sends that same copy.
 */
import type { DeviceStatus } from '../../core/update/protocol.ts';
import type { SessionProgress, SessionResult, StepId, StepState } from '../../core/update/session.ts';
import type { DeviceEvent, Fault, RunMode, SessionCatalog, TrustSource } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';
import type { DevicesState } from './devices.svelte.ts';
import type { NodeId } from './mcc-diagram.ts';
import { MccWatch, nodeOf, statusText } from './mcc-watch.svelte.ts';
import type { Scenario } from './scenarios.ts';
import { progressView, rejectionOf, type ProgressView, type Rejection } from './update-view.ts';
import { isDemoKeyHex } from '../../core/verify/production.ts';

/** What to flash: a sample shipped with the app, or a file the user picked. */
export type FirmwareChoice = { readonly kind: 'sample'; readonly file: string; readonly title: string } | { readonly kind: 'file'; readonly file: File };

export interface UpdateOptions {
  readonly channel: DeviceChannel;
  readonly devices: DevicesState;
  /** The trust store the pre-flight checks use (the setup panel's). */
  readonly trust: () => readonly TrustSource[];
  /** The release catalog the Trust panel keeps, if any (the pre-flight's catalog row). */
  readonly catalog?: () => SessionCatalog | undefined;
  /** Fetches a sample from the app's origin. */
  readonly fetchBytes: (url: string) => Promise<ArrayBuffer>;
  /** Production mode (the setting at the top of the page): sent with each update. */
  readonly production?: () => boolean;
  /** Device CAs (PEM) for receipts, from the trust bundle. */
  readonly deviceCas?: () => readonly string[];
}

/** Shown instead of starting an update when, in production mode, the NIC trusts only demo keys. */
export const DEMO_NIC_IN_PRODUCTION = 'Production mode is on, and this NIC trusts only the DEMO keys (their private halves are public): it refuses every update in production mode. Use "Add emulated NIC trusting my key…" in the Device panel to make a NIC that trusts your own key, or turn production mode off.';

const choiceName = (c: FirmwareChoice) => (c.kind === 'sample' ? c.file : c.file.name);

export class UpdateState {
  #template = $state.raw<readonly StepState[]>([]);
  #steps = $state.raw<readonly StepState[]>([]);
  #serial = $state<string | undefined>(undefined);
  #name = $state<string | undefined>(undefined);
  #size = $state(0);
  #mode = $state<RunMode>('run');
  #running = $state(false);
  #starting = $state(false);
  #waiting = $state<StepId | null>(null);
  #progress = $state.raw<SessionProgress | undefined>(undefined);
  /** The last progress report from inside the download (the later steps report no bytes). */
  #download = $state.raw<SessionProgress | undefined>(undefined);
  #result = $state.raw<{ serial: string; name: string; result: SessionResult } | undefined>(undefined);
  #choice = $state.raw<FirmwareChoice | undefined>(undefined);
  #scenario = $state.raw<Scenario | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  #last: { choice: FirmwareChoice; scenario: Scenario | undefined } | undefined;
  readonly #o: UpdateOptions;
  readonly #mcc: MccWatch;

  constructor(opts: UpdateOptions) {
    this.#o = opts;
    this.#mcc = new MccWatch(opts.channel);
    opts.channel.subscribe((e) => this.#onEvent(e));
  }

  // ---- what the panel shows --------------------------------------------------------------------

  get steps(): readonly StepState[] {
    return this.#steps.length ? this.#steps : this.#template;
  }
  get serial() {
    return this.#serial;
  }
  get firmwareName() {
    return this.#name;
  }
  get size() {
    return this.#size;
  }
  get mode() {
    return this.#mode;
  }
  /** A session is in progress (from the Step/Run click until its result). */
  get running() {
    return this.#running || this.#starting;
  }
  /** The step the session is paused before (step mode), or null. */
  get waiting() {
    return this.#waiting;
  }
  get progress() {
    return this.#progress;
  }
  /** The bar and its numbers (update-view.ts). */
  get progressView(): ProgressView | undefined {
    return progressView({ progress: this.#progress, download: this.#download, outcome: this.#result?.result.outcome, size: this.#size, running: this.running ? this.steps.find((s) => s.status === 'running') : undefined });
  }
  get result(): SessionResult | undefined {
    return this.#result?.result;
  }
  get resultSerial() {
    return this.#result?.serial;
  }
  get rejection(): Rejection | undefined {
    const r = this.#result?.result;
    return r ? rejectionOf(r) : undefined;
  }
  /** The MCC states the last session went through, in order (mcc-watch.svelte.ts). */
  get path(): readonly NodeId[] {
    return this.#mcc.path;
  }
  /** The selected device's last STATUS. */
  get deviceStatus(): DeviceStatus | undefined {
    return this.#mcc.status(this.#o.devices.selectedSerial);
  }
  /** The node to light: the selected device's current state. */
  get current(): NodeId | undefined {
    return nodeOf(this.deviceStatus);
  }
  get stateText(): string | undefined {
    const st = this.deviceStatus;
    return st ? statusText(st) : undefined;
  }
  get choice() {
    return this.#choice;
  }
  get scenario() {
    return this.#scenario;
  }
  get error() {
    return this.#error;
  }
  /** One line for aria-live: what is happening now. */
  get announcement(): string {
    if (this.#error) return this.#error;
    if (this.#waiting) return `Paused before: ${this.steps.find((s) => s.id === this.#waiting)?.title ?? this.#waiting}. Press Step to continue.`;
    const running = this.steps.find((s) => s.status === 'running');
    if (this.running && running) return `${running.title}…`;
    if (this.running) return 'Starting…';
    // a finished session speaks through its one outcome box (role=status), not twice
    return '';
  }
  get canRetry(): boolean {
    return !this.running && this.#last !== undefined && this.#result !== undefined;
  }

  // ---- events ----------------------------------------------------------------------------------

  #onEvent(e: DeviceEvent): void {
    switch (e.kind) {
      case 'ready':
        this.#template = e.steps;
        return;
      case 'session-start':
        this.#serial = e.serial;
        this.#name = e.name;
        this.#size = e.size;
        this.#mode = e.mode;
        this.#running = true;
        this.#steps = [];
        this.#progress = undefined;
        this.#download = undefined;
        this.#result = undefined;
        this.#waiting = null;
        return;
      case 'steps':
        if (e.serial === this.#serial) this.#steps = e.steps;
        return;
      case 'progress':
        if (e.serial !== this.#serial) return;
        this.#progress = e.progress;
        if (e.progress.bytesSent > 0) this.#download = e.progress;
        return;
      case 'waiting':
        if (e.serial === this.#serial) this.#waiting = e.next;
        return;
      case 'result':
        this.#result = { serial: e.serial, name: e.name, result: e.result };
        this.#running = false;
        this.#waiting = null;
        return;
      default:
        return;
    }
  }

  // ---- intents ---------------------------------------------------------------------------------

  choose(choice: FirmwareChoice | undefined): void {
    this.#choice = choice;
    this.#scenario = undefined;
  }

  /** Step: starts a step-by-step session (taking its first step), or lets the paused one take one more. */
  async step(): Promise<void> {
    if (this.running) {
      await this.#send({ kind: 'step' });
      return;
    }
    if (this.#choice) await this.#start(this.#choice, 'step', undefined);
  }

  /** Run: starts a session that runs through, or lets the paused one continue without pausing. */
  async run(): Promise<void> {
    if (this.running) {
      this.#mode = 'run';
      await this.#send({ kind: 'run' });
      return;
    }
    if (this.#choice) await this.#start(this.#choice, 'run', undefined);
  }

  async cancel(): Promise<void> {
    if (this.running) await this.#send({ kind: 'cancel' });
  }

  /** The same firmware again, without a scenario's faults (they fire once). */
  async retry(): Promise<void> {
    const last = this.#last;
    if (!last || this.running) return;
    await this.#start(last.choice, 'run', undefined, last.scenario);
  }

  async runScenario(s: Scenario): Promise<void> {
    if (this.running) return;
    const choice: FirmwareChoice = { kind: 'sample', file: s.file, title: s.title };
    this.#choice = choice;
    await this.#start(choice, 'run', s.faults, s);
  }

  async #send(body: { kind: 'step' | 'run' | 'cancel' }): Promise<void> {
    try {
      await this.#o.channel.request(body);
    } catch (e) {
      this.#error = (e as Error).message;
    }
  }

  async #start(choice: FirmwareChoice, mode: RunMode, faults: readonly Fault[] | undefined, scenario?: Scenario): Promise<void> {
    const serial = this.#o.devices.selectedSerial;
    if (!serial) {
      this.#error = 'No device is connected.';
      return;
    }
    const production = this.#o.production?.() === true;
    const keyIds = this.#o.devices.query?.keyIds;
    if (production && keyIds && keyIds.length > 0 && keyIds.every(isDemoKeyHex)) {
      this.#error = DEMO_NIC_IN_PRODUCTION;
      return;
    }
    this.#starting = true;
    this.#error = undefined;
    this.#scenario = scenario;
    this.#mode = mode;
    this.#last = { choice, scenario };
    try {
      // the file itself goes to the device side, which reads it as it verifies and sends it (never whole for a v2 image)
      const image = choice.kind === 'sample' ? new Blob([await this.#o.fetchBytes(`samples/${choice.file}`)]) : choice.file;
      const catalog = this.#o.catalog?.();
      await this.#o.channel.request({ kind: 'start', serial, name: choiceName(choice), image, trust: this.#o.trust(), mode, ...(faults ? { faults } : {}), ...(catalog ? { catalog } : {}), ...(production ? { production } : {}), ...(this.#o.deviceCas?.().length ? { deviceCas: this.#o.deviceCas() } : {}) });
    } catch (e) {
      this.#error = `The update could not run: ${(e as Error).message}`;
      this.#running = false;
    } finally {
      this.#starting = false;
    }
  }
}
