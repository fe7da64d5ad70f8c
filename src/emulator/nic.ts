/**
 * The emulated NIC as hardware: flash, fuses and a clock, the firmware running on them, power
 * cycles, fault injection and persistence. The USB function (usb-device.ts, dfu-class.ts) sits on
 * top and reaches the firmware only through `run`, so a power loss anywhere unwinds cleanly: the
 * RAM (the WASM instance) is lost and the NIC reboots from flash, as real hardware does.
 */
import { Flash, Fuses, PowerLoss, type FlashOp } from './flash.ts';
import { NicFirmware, BOOT_STATUS, BOOT_STATUS_NAMES, REPAIRS, REPAIR_NOTES } from './firmware.ts';
import { DEFAULT_IDENTITY, manufacture, type Identity } from './factory.ts';
import { provisionAttestation, type AttestationIssuer } from './attestation.ts';
import { describeFault, type Fault } from './faults.ts';
import { TIMING, type TimingName, type TimingModel } from './timing.ts';

export interface NicOptions {
  readonly identity?: Partial<Identity>;
  /** Factory image programmed at manufacturing (required unless `state` is given). */
  readonly factoryImage?: Uint8Array;
  /** Saved state to resume (a reload of the page or the CLI's state file). */
  readonly state?: NicState;
  /**
   * With `state`: 'resume' (default) re-attaches to a NIC that kept running while its host process
   * restarted (a pending image stays pending); 'boot' powers it on from cold, as after a power
   * cut (a pending image is applied, as at any boot).
   */
  readonly start?: 'resume' | 'boot';
  /** Image bank size; default 64 MiB. */
  readonly bankSize?: number;
  readonly timing?: TimingName;
  readonly faults?: readonly Fault[];
  /** Milliseconds, monotonic; default performance.now(). */
  readonly clock?: () => number;
  /**
   * The vendor's device CA at the factory (issue #14): a new NIC (and a factory reset) gets its own
   * attestation key certified by it. Without one the NIC has no attestation key and refuses
   * receipts, as does a NIC restored from a state saved before receipts existed.
   */
  readonly attestationIssuer?: AttestationIssuer;
}

/** Everything that survives a power cycle: what is on the flash and in the fuses, and the identity it was made with. */
export interface NicState {
  readonly format: 1;
  readonly identity: Identity;
  readonly bankSize: number;
  readonly flash: readonly (readonly [number, Uint8Array])[];
  readonly fuses: Uint8Array;
}

/** The firmware call was cut short: the NIC lost power (and has rebooted) or is powered off. */
export class DeviceReset extends Error {
  override name = 'DeviceReset';
}

export type NicEvent =
  | { kind: 'power-loss'; where: string }
  | { kind: 'boot'; status: number; text: string }
  | { kind: 'fault'; fault: string };

let serialCounter = 1;

export class EmulatedNic {
  readonly identity: Identity;
  readonly flash: Flash;
  readonly fuses: Fuses;
  readonly clock: () => number;
  #fw: NicFirmware | undefined;
  #faults: Fault[];
  #timing: TimingModel;
  #flashOps = 0;
  #blockIndex = -1;
  #phase = 'idle';
  readonly #listeners = new Set<(e: NicEvent) => void>();
  readonly #issuer: AttestationIssuer | undefined;
  /** Bumps whenever power is lost, so a USB layer knows its enumeration is gone. */
  powerEpoch = 0;
  /**
   * Set when this NIC was restored from a state saved before the redundant flash layout (issue
   * #10) and its firmware migrated it: one sentence a CLI or page can show as is.
   */
  migrated: string | undefined;
  /** What the firmware repaired at the last power-on (REPAIR_NOTES), oldest first. */
  repairNotes: readonly string[] = [];

  private constructor(identity: Identity, flash: Flash, fuses: Fuses, opts: NicOptions) {
    this.identity = identity;
    this.flash = flash;
    this.fuses = fuses;
    this.clock = opts.clock ?? (() => performance.now());
    this.#faults = [...(opts.faults ?? [])];
    this.#timing = TIMING[opts.timing ?? 'instant'];
    this.#issuer = opts.attestationIssuer;
    this.#applyTiming();
    this.flash.hooks = { before: (op) => this.#beforeFlashOp(op) };
  }

  /** Manufactures a new NIC (or restores one from `state`) and powers it on. */
  static async create(opts: NicOptions): Promise<EmulatedNic> {
    let nic: EmulatedNic;
    if (opts.state) {
      const s = opts.state;
      nic = new EmulatedNic(s.identity, Flash.restore({ bankSize: s.bankSize, pages: s.flash }), Fuses.restore(s.fuses), opts);
    } else {
      if (!opts.factoryImage) throw new TypeError('"factoryImage" expected the image to manufacture the NIC with, got undefined');
      const identity: Identity = { ...DEFAULT_IDENTITY, serial: `TFN${String(serialCounter++).padStart(7, '0')}`, ...opts.identity };
      const flash = new Flash(opts.bankSize ?? 64 * 1024 * 1024);
      nic = new EmulatedNic(identity, flash, new Fuses(), opts);
      const saved = flash.hooks;
      flash.hooks = {};
      await manufacture(flash, identity, opts.factoryImage);
      if (opts.attestationIssuer) await provisionAttestation(flash, opts.attestationIssuer, identity);
      flash.hooks = saved;
    }
    await nic.#powerOn(opts.state && opts.start !== 'boot' ? 'resume' : 'boot');
    return nic;
  }

  on(listener: (e: NicEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  #emit(e: NicEvent): void {
    for (const l of this.#listeners) l(e);
  }

  get timing(): TimingModel {
    return this.#timing;
  }
  get faults(): readonly Fault[] {
    return this.#faults;
  }
  get poweredOn(): boolean {
    return this.#fw !== undefined;
  }

  setTiming(name: TimingName): void {
    this.#timing = TIMING[name];
    this.#applyTiming();
  }
  #applyTiming(): void {
    const slow = this.#faults.some((f) => f.kind === 'slow') ? 10 : 1;
    this.flash.timing = { eraseMsPerSector: this.#timing.eraseMsPerSector * slow, programMsPerKiB: this.#timing.programMsPerKiB * slow };
    this.#fw?.setEraseTiming(this.flash.timing.eraseMsPerSector);
  }

  /** Arms faults (replacing the armed ones). */
  async setFaults(faults: readonly Fault[]): Promise<void> {
    this.#faults = [...faults];
    this.#flashOps = 0;
    this.#applyTiming();
    await this.#armFirmwareFaults();
  }

  async #armFirmwareFaults(): Promise<void> {
    const fw = this.#fw;
    if (!fw) return;
    fw.setHandleTimeout(this.#faults.some((f) => f.kind === 'handle-timeout') ? 200 : 60_000);
    if (this.#faults.some((f) => f.kind === 'locked-by-other')) {
      // another host (a BMC, say) takes the update handle and keeps it
      fw.mcc(0, 0, 0);
      const h = fw.status().handle;
      fw.mcc(1, h, 0);
      this.#emit({ kind: 'fault', fault: 'locked-by-other' });
    }
  }

  #beforeFlashOp(op: FlashOp): 'tear' | 1 | 2 | void {
    this.#flashOps++;
    for (const f of this.#faults) {
      if (f.kind === 'power-loss') {
        const hit =
          ('flashOp' in f && f.flashOp === this.#flashOps) ||
          ('block' in f && op.kind === 'write' && this.#phase === 'block' && this.#blockIndex === f.block) ||
          ('state' in f &&
            ((f.state === 'INITIALIZE' && op.kind === 'erase' && this.#phase === 'mcc:3') ||
              (f.state === 'DOWNLOAD' && op.kind === 'write' && this.#phase === 'block') ||
              (f.state === 'ACTIVATE' && this.#phase === 'mcc:6')));
        if (hit) {
          this.#disarm(f);
          return 'tear';
        }
      }
      if (f.kind === 'flash-error' && f.op === op.kind && this.#phase !== 'boot') {
        this.#disarm(f);
        this.#emit({ kind: 'fault', fault: describeFault(f) });
        return op.kind === 'write' ? 1 : 2;
      }
    }
    return undefined;
  }

  /** A fault fires once. */
  #disarm(f: Fault): void {
    this.#faults = this.#faults.filter((x) => x !== f);
  }

  /** Faults that act when a command arrives rather than inside a flash operation. */
  #commandFault(instruction: number): boolean {
    const names: Record<number, string> = { 1: 'LOCKED', 4: 'VERIFY' };
    const f = this.#faults.find((x) => x.kind === 'power-loss' && 'state' in x && x.state === names[instruction]);
    if (!f) return false;
    this.#disarm(f);
    return true;
  }

  async #powerOn(how: 'boot' | 'resume'): Promise<void> {
    const fw = await NicFirmware.powerOn({
      flash: this.flash,
      fuses: this.fuses,
      now: this.clock,
      random: (b) => void crypto.getRandomValues(b as Uint8Array<ArrayBuffer>),
    });
    this.#phase = 'boot';
    let status: number;
    try {
      status = how === 'boot' ? fw.boot() : fw.resume();
    } catch (e) {
      if (e instanceof PowerLoss) {
        // power lost while booting: try again (a real NIC would power up again)
        this.#emit({ kind: 'power-loss', where: e.where });
        return this.#powerOn('boot');
      }
      throw e;
    } finally {
      this.#phase = 'idle';
    }
    this.#fw = fw;
    fw.setEraseTiming(this.flash.timing.eraseMsPerSector);
    this.#emit({ kind: 'boot', status, text: BOOT_STATUS_NAMES[status] ?? `boot status ${status}` });
    const done = fw.repairs();
    this.repairNotes = Object.entries(REPAIR_NOTES)
      .filter(([bit]) => (done & Number(bit)) !== 0)
      .map(([, note]) => note);
    if (done & REPAIRS.IDENTITY_MIGRATED) {
      this.migrated = `migrated: this NIC was saved by an earlier TrustFlash version; its firmware ${this.repairNotes.join('; ')}`;
    }
    await this.#armFirmwareFaults();
  }

  /** A reset (or power cycle): the RAM is lost, the NIC boots from flash; a pending image becomes active if intact. */
  async reset(): Promise<number> {
    this.#fw = undefined;
    this.powerEpoch++;
    await this.#powerOn('boot');
    return this.#fw!.bootStatus();
  }

  /** Factory reset: a new NIC with the same identity, programmed with `image`. */
  async factoryReset(image: Uint8Array): Promise<void> {
    const fresh = await EmulatedNic.create({ identity: this.identity, factoryImage: image, bankSize: this.flash.bankSize, ...(this.#issuer ? { attestationIssuer: this.#issuer } : {}) });
    this.flash.hooks = {};
    this.#restoreFrom(fresh.snapshot());
    this.flash.hooks = { before: (op) => this.#beforeFlashOp(op) };
    await this.reset();
  }

  /** Replaces the flash contents (not the object: the USB layer holds it). Fuses stay burnt, as silicon's do. */
  #restoreFrom(s: NicState): void {
    const f = Flash.restore({ bankSize: s.bankSize, pages: s.flash });
    this.flash.hooks = {};
    this.flash.erase(0, this.flash.size);
    for (const [i, p] of f.snapshot().pages) this.flash.write(i * 65536, p);
  }

  /**
   * Runs a firmware call. A power loss inside it (an injected fault) reboots the NIC and throws
   * DeviceReset; the caller (the USB layer) sees the device vanish.
   */
  async run<T>(phase: string, fn: (fw: NicFirmware) => T, blockIndex = -1): Promise<T> {
    const fw = this.#fw;
    if (!fw) throw new DeviceReset('the NIC is powered off');
    this.#phase = phase;
    this.#blockIndex = blockIndex;
    try {
      if (phase.startsWith('mcc:') && this.#commandFault(Number(phase.slice(4)))) throw new PowerLoss(`command ${phase}`);
      return fn(fw);
    } catch (e) {
      if (e instanceof PowerLoss) {
        this.#fw = undefined;
        this.powerEpoch++;
        this.#emit({ kind: 'power-loss', where: e.where });
        await this.#powerOn('boot');
        throw new DeviceReset(`power lost during ${e.where}; the NIC rebooted (${BOOT_STATUS_NAMES[this.#fw!.bootStatus()]})`);
      }
      throw e;
    } finally {
      this.#phase = 'idle';
      this.#blockIndex = -1;
    }
  }

  /** Synchronous access for code that already holds the device (tests, the CLI's query). */
  get firmware(): NicFirmware {
    if (!this.#fw) throw new DeviceReset('the NIC is powered off');
    return this.#fw;
  }

  /** Should the USB cable be pulled now (disconnect fault at this block)? Consumes the fault. */
  takeDisconnect(block: number): boolean {
    const f = this.#faults.find((x) => x.kind === 'disconnect' && x.block === block);
    if (!f) return false;
    this.#disarm(f);
    this.#emit({ kind: 'fault', fault: describeFault(f) });
    return true;
  }

  snapshot(): NicState {
    const s = this.flash.snapshot();
    return { format: 1, identity: this.identity, bankSize: s.bankSize, flash: s.pages, fuses: this.fuses.read() };
  }

  /**
   * The state as views of the flash (no copy): valid until the NIC changes its flash again, for a
   * caller that writes it out at once (writeState).
   */
  stateViews(): NicState {
    return { format: 1, identity: this.identity, bankSize: this.flash.bankSize, flash: this.flash.pageViews(), fuses: this.fuses.read() };
  }
}

export { BOOT_STATUS };
