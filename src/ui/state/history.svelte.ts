/**
 * The update history a person reads in the "Log & audit" tab (fwupdmgr get-history is the model):
 * every past update per device — time, serial/PSID, file, versions before and after, outcome,
 * message — read from the store the device side writes, so it survives reloads and app updates;
 * exported as JSON. It also carries what start-up found: updates a reload cut off ("interrupted")
 * and NICs whose reboot on reload applied a pending image, shown as notices in the Update panel.
 */
import type { DeviceEvent, RebootNotice } from '../../service/device-protocol.ts';
import type { HistoryEntry, StoredEntries } from '../../service/history-store.ts';
import { HISTORY_SCHEMA } from '../../service/history-store.ts';
import type { DeviceChannel } from './device-channel.ts';

export interface HistoryOptions {
  readonly channel: DeviceChannel;
  /** Reads the stored history (IndexedDB in the page). */
  readonly read: () => Promise<StoredEntries>;
  readonly saveFile: (name: string, text: string, type: string) => void;
  /** navigator.storage, where there is one: persistence is asked for once per start. */
  readonly storage?: Pick<StorageManager, 'persist' | 'persisted'>;
  readonly now?: () => Date;
}

export interface DeviceHistory {
  readonly serial: string;
  readonly psid?: string;
  /** Newest first. */
  readonly entries: readonly HistoryEntry[];
}

export class HistoryState {
  #entries = $state.raw<readonly HistoryEntry[]>([]);
  #refused = $state.raw<readonly string[]>([]);
  #reboots = $state.raw<readonly RebootNotice[]>([]);
  #interrupted = $state.raw<readonly HistoryEntry[]>([]);
  #auditNote = $state<string | undefined>(undefined);
  #persisted = $state<boolean | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  #loads = 0;
  readonly #o: HistoryOptions;

  constructor(opts: HistoryOptions) {
    this.#o = opts;
    opts.channel.subscribe((e) => this.#onEvent(e));
  }

  get entries() {
    return this.#entries;
  }
  /** Per device, the device with the newest entry first. */
  get byDevice(): readonly DeviceHistory[] {
    const groups = new Map<string, HistoryEntry[]>();
    for (const e of [...this.#entries].reverse()) groups.set(e.serial, [...(groups.get(e.serial) ?? []), e]);
    return [...groups].map(([serial, entries]) => ({ serial, ...(entries.find((e) => e.psid)?.psid ? { psid: entries.find((e) => e.psid)!.psid! } : {}), entries }));
  }
  /** Stored records this version cannot read, one sentence each. */
  get refused() {
    return this.#refused;
  }
  get reboots() {
    return this.#reboots;
  }
  get interrupted() {
    return this.#interrupted;
  }
  /** What happened to the stored audit chain at start-up (continued, or set aside and why). */
  get auditNote() {
    return this.#auditNote;
  }
  /** Whether the browser keeps this site's storage under pressure (undefined: unknown). */
  get persisted() {
    return this.#persisted;
  }
  get error() {
    return this.#error;
  }

  #onEvent(e: DeviceEvent): void {
    if (e.kind === 'restored') {
      this.#reboots = e.reboots;
      this.#interrupted = e.interrupted;
      this.#auditNote = e.audit.keptAside
        ? `The stored audit log did not verify (${e.audit.keptAside}); it was kept aside unchanged and a new chain started.`
        : e.audit.resumed
          ? `The audit log continues the ${e.audit.resumed} records stored before this page was loaded.`
          : undefined;
      void this.load();
    } else if (e.kind === 'result' || e.kind === 'batch-result') void this.load();
  }

  /** Reads the stored history again (the newest read wins). */
  async load(): Promise<void> {
    const n = ++this.#loads;
    try {
      const { entries, refused } = await this.#o.read();
      if (n !== this.#loads) return;
      this.#entries = entries;
      this.#refused = refused;
      this.#error = undefined;
    } catch (e) {
      this.#error = `The update history could not be read: ${(e as Error).message}`;
    }
  }

  /** Asks the browser once to keep this site's storage (history, audit log, NICs) under storage pressure. */
  async requestPersistence(): Promise<void> {
    const s = this.#o.storage;
    if (!s) return;
    try {
      this.#persisted = (await s.persisted()) || (await s.persist());
    } catch {
      this.#persisted = undefined;
    }
  }

  dismissNotices(): void {
    this.#reboots = [];
    this.#interrupted = [];
  }

  /** Downloads the history as JSON (what `fwupdmgr get-history --json` gives, in this app's words). */
  exportJson(): void {
    const time = (this.#o.now?.() ?? new Date()).toISOString();
    const body = { format: 'trustflash-history', schema: HISTORY_SCHEMA, exported: time, entries: this.#entries };
    this.#o.saveFile(`trustflash-history-${time.replace(/[:.]/g, '-')}.json`, JSON.stringify(body, null, 2) + '\n', 'application/json');
  }
}
