/**
 * One update at a time, watched step by step: the firmware chosen, the session's 8 steps, the
 * device's MCC state and the path it took, progress with bytes, rate and ETA, the result and, when
 * something refused the image, who did and why. Step / Run / Cancel map to the session's gate.
 * The file is read once here and its buffer transferred to the device side, which verifies and
 * sends that same copy.
 */
import type { DeviceStatus } from '../../core/update/protocol.ts';
import type { SessionProgress, SessionResult, StepId, StepState } from '../../core/update/session.ts';
import { mccError, mccStateName, mstflintBurnError } from '../../core/update/mcc-codes.ts';
import type { DeviceEvent, Fault, RunMode, TrustSource } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';
import type { DevicesState } from './devices.svelte.ts';
import { advancePath, nodeForState, type NodeId } from './mcc-diagram.ts';
import type { Scenario } from './scenarios.ts';
import { formatBytes, formatDuration, formatRate, hex } from './format.ts';

/** What to flash: a sample shipped with the app, or a file the user picked. */
export type FirmwareChoice = { readonly kind: 'sample'; readonly file: string; readonly title: string } | { readonly kind: 'file'; readonly file: File };

export interface UpdateOptions {
  readonly channel: DeviceChannel;
  readonly devices: DevicesState;
  /** The trust store the pre-flight checks use (the setup panel's). */
  readonly trust: () => readonly TrustSource[];
  /** Fetches a sample from the app's origin. */
  readonly fetchBytes: (url: string) => Promise<ArrayBuffer>;
}

/** Who refused the image, and what a person can do about it. */
export type Rejection =
  | { readonly by: 'host'; readonly check: string; readonly title: string; readonly reason: string }
  | { readonly by: 'device'; readonly code: string; readonly name: string; readonly mstflint: string; readonly sentence: string; readonly action: string; readonly fault: boolean };

export interface ProgressView {
  /** Bytes sent of the image, in percent (the bar and the numbers agree). */
  readonly percent: number;
  readonly bytes: string;
  readonly rate: string;
  /** "about 3 s left" while downloading; empty otherwise. */
  readonly eta: string;
  /** The phase when it is not the download ("Update component (erase the inactive bank)…"). */
  readonly phase: string | undefined;
}

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
  #path = $state.raw<readonly NodeId[]>([]);
  #status = $state.raw<Readonly<Record<string, DeviceStatus>>>({});
  #choice = $state.raw<FirmwareChoice | undefined>(undefined);
  #scenario = $state.raw<Scenario | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  #last: { choice: FirmwareChoice; scenario: Scenario | undefined } | undefined;
  readonly #o: UpdateOptions;

  constructor(opts: UpdateOptions) {
    this.#o = opts;
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
  /**
   * One measure: the bar and the numbers are the bytes of the download (the steps around it carry
   * no bytes). While the device erases or verifies, the bar names that phase instead of showing a
   * frozen "0 B"; once the session has ended there is no ETA, only what was sent.
   */
  get progressView(): ProgressView | undefined {
    const p = this.#progress;
    if (!p && !this.#result) return undefined;
    const d = this.#download;
    const total = d?.bytesTotal ?? p?.bytesTotal ?? this.#size;
    const sent = d?.bytesSent ?? 0;
    const percent = total ? Math.floor((sent / total) * 100) : 0;
    const bytes = `${formatBytes(sent)} of ${formatBytes(total)} sent`;
    const running = this.running ? this.steps.find((s) => s.status === 'running') : undefined;
    if (this.#result) {
      // nothing was sent (refused by this host, cancelled before the download): no bar at all
      if (!d) return undefined;
      const failed = this.#result.result.outcome !== 'updated';
      return { percent, bytes: failed && sent < total ? `${bytes} before it stopped` : bytes, rate: formatRate(d.rate), eta: '', phase: undefined };
    }
    if (running && running.id !== 'download') return { percent, bytes, rate: '', eta: '', phase: `${running.title}…` };
    return { percent, bytes, rate: d ? formatRate(d.rate) : '–', eta: !d || sent >= total ? '' : `about ${formatDuration(d.etaMs)} left`, phase: undefined };
  }
  get result(): SessionResult | undefined {
    return this.#result?.result;
  }
  get resultSerial() {
    return this.#result?.serial;
  }
  get rejection(): Rejection | undefined {
    const r = this.#result?.result;
    if (!r) return undefined;
    if (r.outcome === 'rejected-by-host' && r.report?.failed) return { by: 'host', check: r.report.failed.id, title: r.report.failed.title, reason: r.report.failed.reason };
    // the device's own answer: a refusal of the image, or (an update that failed) a fault of the device
    if ((r.outcome === 'rejected-by-device' || r.outcome === 'failed') && r.deviceError) {
      const e = mccError(r.deviceError.code);
      return { by: 'device', code: hex(e.code), name: e.name, mstflint: mstflintBurnError(e.code), sentence: e.sentence, action: e.action, fault: r.outcome === 'failed' };
    }
    return undefined;
  }
  /** The MCC states the last session went through, in order. */
  get path(): readonly NodeId[] {
    return this.#path;
  }
  /** The selected device's last STATUS. */
  get deviceStatus(): DeviceStatus | undefined {
    const s = this.#o.devices.selectedSerial;
    return s ? this.#status[s] : undefined;
  }
  /** The node to light: the selected device's current state. */
  get current(): NodeId | undefined {
    const st = this.deviceStatus;
    return st ? nodeForState(st.state) : undefined;
  }
  get stateText(): string | undefined {
    const st = this.deviceStatus;
    if (!st) return undefined;
    return `${mccStateName(st.state)}${st.error ? `, error ${hex(st.error)} ${mccError(st.error).name}` : ''}${st.handleOwned ? `, handle ${hex(st.handle, 6)} held` : ''}${st.pendingReset ? ', new image pending reset' : ''}`;
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
        {
          const st = this.#status[e.serial];
          this.#path = st ? advancePath([], st.state) : ['IDLE'];
        }
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
      case 'status':
        this.#status = { ...this.#status, [e.serial]: e.status };
        if (e.serial === this.#serial) this.#path = advancePath(this.#path, e.status.state, e.instruction, e.status.result);
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
    this.#starting = true;
    this.#error = undefined;
    this.#scenario = scenario;
    this.#mode = mode;
    this.#last = { choice, scenario };
    try {
      // the one copy of the file: transferred to the device side, which verifies and sends it
      const bytes = choice.kind === 'sample' ? await this.#o.fetchBytes(`samples/${choice.file}`) : await choice.file.arrayBuffer();
      await this.#o.channel.request({ kind: 'start', serial, name: choiceName(choice), bytes, trust: this.#o.trust(), mode, ...(faults ? { faults } : {}) }, [bytes]);
    } catch (e) {
      this.#error = `The update could not run: ${(e as Error).message}`;
      this.#running = false;
    } finally {
      this.#starting = false;
    }
  }
}
