/**
 * The log: every request the host sent and every answer the device gave, the session's steps and
 * notes, and what the emulated hardware did (power loss, boots, faults). Filterable by text. The
 * hash-chained audit log is kept on the device side; exporting it downloads the JSON lines (the
 * saver comes in through the constructor) and the summary says whether its chain checks out.
 */
import type { DeviceEvent, LogLine } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';

export interface LogOptions {
  readonly channel: DeviceChannel;
  /** Offers `text` as a download named `name` (a Blob URL in the page). */
  readonly saveFile: (name: string, text: string, type: string) => void;
  /** Lines kept; older ones are dropped (a 32 MiB download is thousands of transfers). */
  readonly limit?: number;
  readonly now?: () => Date;
}

export interface ResultEntry {
  readonly time: string;
  readonly serial: string;
  readonly file: string;
  readonly outcome: string;
  readonly message: string;
  readonly before?: string;
  readonly after?: string;
}

export interface AuditSummary {
  readonly file: string;
  readonly records: number;
  readonly intact: boolean;
  /** Whether the chain checks out, or why not. */
  readonly detail: string;
  /** The chain's last hash: kept apart from the file, it shows a log cut after a record (`trustflash audit verify FILE --head HEAD`). */
  readonly head?: string;
}

/** Lines shown at most; the filter narrows first. */
export const SHOWN = 400;

export class LogState {
  #lines = $state.raw<readonly LogLine[]>([]);
  #dropped = $state(0);
  #filter = $state('');
  #results = $state.raw<readonly ResultEntry[]>([]);
  #audit = $state.raw<AuditSummary | undefined>(undefined);
  #exporting = $state(false);
  #error = $state<string | undefined>(undefined);
  readonly #o: LogOptions;
  readonly #matching = $derived.by(() => {
    const f = this.#filter.trim().toLowerCase();
    return f ? this.#lines.filter((l) => l.text.toLowerCase().includes(f) || l.source.includes(f) || l.serial.toLowerCase().includes(f)) : this.#lines;
  });

  constructor(opts: LogOptions) {
    this.#o = opts;
    opts.channel.subscribe((e) => this.#onEvent(e));
  }

  get lines(): readonly LogLine[] {
    return this.#lines;
  }
  get filter() {
    return this.#filter;
  }
  /** The matching lines, newest last, at most SHOWN of them. */
  get shown(): readonly LogLine[] {
    const m = this.#matching;
    return m.length > SHOWN ? m.slice(-SHOWN) : m;
  }
  get matchCount(): number {
    return this.#matching.length;
  }
  get dropped() {
    return this.#dropped;
  }
  get results() {
    return this.#results;
  }
  get audit() {
    return this.#audit;
  }
  get exporting() {
    return this.#exporting;
  }
  get error() {
    return this.#error;
  }

  #onEvent(e: DeviceEvent): void {
    if (e.kind === 'log') {
      const limit = this.#o.limit ?? 5000;
      const all = [...this.#lines, ...e.lines];
      if (all.length > limit) {
        this.#dropped += all.length - limit;
        this.#lines = all.slice(-limit);
      } else this.#lines = all;
    } else if (e.kind === 'result') {
      const r = e.result;
      const v = (q: typeof r.before) => (q ? `${q.fwVersionRunning ?? '?'}${q.fwVersionPending ? ` (pending ${q.fwVersionPending})` : ''}` : undefined);
      const before = v(r.before);
      const after = v(r.after);
      this.#results = [
        ...this.#results,
        { time: (this.#o.now?.() ?? new Date()).toISOString(), serial: e.serial, file: e.name, outcome: r.outcome, message: r.message, ...(before ? { before } : {}), ...(after ? { after } : {}) },
      ];
    }
  }

  setFilter(text: string): void {
    this.#filter = text;
  }

  clear(): void {
    this.#lines = [];
    this.#dropped = 0;
  }

  /** Downloads the audit log (JSON lines, hash-chained) and summarises it. */
  async exportAudit(): Promise<void> {
    this.#exporting = true;
    this.#error = undefined;
    let got: Extract<DeviceEvent, { kind: 'audit' }> | undefined;
    const off = this.#o.channel.subscribe((e) => {
      if (e.kind === 'audit') got = e;
    });
    try {
      await this.#o.channel.request({ kind: 'export-audit' });
      if (!got) throw new Error('the device side sent no audit log');
      const records = got.check.ok ? got.check.records : 0;
      const file = `trustflash-audit-${(this.#o.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-')}.jsonl`;
      if (!got.check.ok && got.check.empty) {
        this.#audit = { file, records: 0, intact: true, detail: 'nothing recorded yet: run an update first' };
        return;
      }
      this.#o.saveFile(file, got.jsonl, 'application/jsonl');
      this.#audit = got.check.ok ? { file, records, intact: true, detail: 'chain intact', head: got.check.head } : { file, records, intact: false, detail: `line ${got.check.line}: ${got.check.reason}` };
    } catch (e) {
      this.#error = `The audit log could not be exported: ${(e as Error).message}`;
    } finally {
      off();
      this.#exporting = false;
    }
  }
}
