/**
 * Everything the device side tells the page goes out here: DeviceEvents as they happen, and log
 * lines batched (one `log` event per LOG_FLUSH_MS at most, flushed before any other event so the
 * page sees lines and events in the order they happened). A note is a log line that also goes into
 * the audit log.
 */
import type { AuditLog } from '../core/update/audit.ts';
import type { DeviceEvent, LogLine, LogSource } from './device-protocol.ts';

const LOG_FLUSH_MS = 30;

export class Outbox {
  readonly #post: (e: DeviceEvent) => void;
  readonly #clock: () => number;
  readonly #audit: () => AuditLog;
  readonly #t0: number;
  #lines: LogLine[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `audit` is read at each note: the service swaps in the stored chain once it is opened. */
  constructor(post: (e: DeviceEvent) => void, clock: () => number, audit: () => AuditLog) {
    this.#post = post;
    this.#clock = clock;
    this.#audit = audit;
    this.#t0 = clock();
  }

  emit(e: DeviceEvent): void {
    this.flush();
    this.#post(e);
  }

  /** One log line (serial '' for the service itself). */
  line(serial: string, source: LogSource, text: string): void {
    this.#lines.push({ t: Math.round(this.#clock() - this.#t0), serial, source, text });
    this.#timer ??= setTimeout(() => this.flush(), LOG_FLUSH_MS);
  }

  /** A line in the log that also goes into the audit log. */
  note(serial: string, text: string): void {
    this.line(serial, 'session', text);
    void this.#audit().add('note', { serial, text });
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    this.#post({ kind: 'log', lines });
  }
}
