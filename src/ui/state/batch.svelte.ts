/**
 * "Update all NICs": the same image to every emulated NIC at once, one independent session per
 * NIC in the device Worker. Per NIC: progress, and the result with who refused the image and why.
 * Private $state, getters, methods as the only mutators; the channel comes in through the constructor.
 */
import type { SessionProgress, SessionResult } from '../../core/update/session.ts';
import type { DeviceEvent, SessionCatalog, TrustSource } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';
import type { FirmwareChoice } from './update.svelte.ts';
import { mccError, mstflintBurnError } from '../../core/update/mcc-codes.ts';
import { hex } from './format.ts';

export interface BatchOptions {
  readonly channel: DeviceChannel;
  readonly trust: () => readonly TrustSource[];
  /** The release catalog the Trust panel keeps, if any. */
  readonly catalog?: () => SessionCatalog | undefined;
  readonly fetchBytes: (url: string) => Promise<ArrayBuffer>;
  /** Production mode (the setting at the top of the page): sent with the request. */
  readonly production?: () => boolean;
  /** Device CAs (PEM) for receipts, from the trust bundle. */
  readonly deviceCas?: () => readonly string[];
}

export interface BatchRow {
  readonly serial: string;
  readonly percent: number;
  readonly result?: SessionResult;
  /** Who refused the image, in one line ("Pre-flight check failed: Meant for this device"). */
  readonly refusal?: string;
}

function refusalOf(r: SessionResult): string | undefined {
  if (r.outcome === 'rejected-by-host' && r.report?.failed) return `Pre-flight check failed: ${r.report.failed.title} — ${r.report.failed.reason}`;
  if (r.outcome === 'rejected-by-device' && r.deviceError) {
    const e = mccError(r.deviceError.code);
    return `The device refused the image: MCC error ${hex(e.code)} ${e.name} (${mstflintBurnError(e.code)})`;
  }
  return undefined;
}

export class BatchState {
  #name = $state<string | undefined>(undefined);
  #rows = $state.raw<readonly BatchRow[]>([]);
  #running = $state(false);
  #error = $state<string | undefined>(undefined);
  readonly #o: BatchOptions;

  constructor(opts: BatchOptions) {
    this.#o = opts;
    opts.channel.subscribe((e) => this.#onEvent(e));
  }

  get name() {
    return this.#name;
  }
  get rows(): readonly BatchRow[] {
    return this.#rows;
  }
  get running() {
    return this.#running;
  }
  get error() {
    return this.#error;
  }
  /** "2 of 3 updated" once every NIC has its result. */
  get summary(): string | undefined {
    if (this.#rows.length === 0 || this.#rows.some((r) => !r.result)) return undefined;
    const updated = this.#rows.filter((r) => r.result?.outcome === 'updated').length;
    return `${updated} of ${this.#rows.length} updated`;
  }

  #patch(serial: string, f: (r: BatchRow) => BatchRow): void {
    this.#rows = this.#rows.map((r) => (r.serial === serial ? f(r) : r));
  }

  #onEvent(e: DeviceEvent): void {
    if (e.kind === 'batch-start') {
      this.#name = e.name;
      this.#rows = e.serials.map((serial) => ({ serial, percent: 0 }));
    } else if (e.kind === 'batch-progress') {
      const p: SessionProgress = e.progress;
      this.#patch(e.serial, (r) => ({ ...r, percent: Math.max(r.percent, Math.round(p.fraction * 100)) }));
    } else if (e.kind === 'batch-result') {
      const refusal = refusalOf(e.result);
      this.#patch(e.serial, (r) => ({ ...r, percent: e.result.outcome === 'updated' ? 100 : r.percent, result: e.result, ...(refusal ? { refusal } : {}) }));
    }
  }

  /** Sends `choice` to every emulated NIC at once. */
  async updateAll(choice: FirmwareChoice): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#error = undefined;
    this.#rows = [];
    try {
      const image = choice.kind === 'sample' ? new Blob([await this.#o.fetchBytes(`samples/${choice.file}`)]) : choice.file;
      const name = choice.kind === 'sample' ? choice.file : choice.file.name;
      const catalog = this.#o.catalog?.();
      await this.#o.channel.request({ kind: 'start-all', name, image, trust: this.#o.trust(), ...(catalog ? { catalog } : {}), ...(this.#o.production?.() ? { production: true } : {}), ...(this.#o.deviceCas?.().length ? { deviceCas: this.#o.deviceCas() } : {}) });
    } catch (e) {
      this.#error = `The updates could not run: ${(e as Error).message}`;
    } finally {
      this.#running = false;
    }
  }
}
