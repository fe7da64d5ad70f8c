/**
 * The device side's history hooks: a "session started" marker is persisted before a session runs
 * and replaced by its entry with the result; at start-up a marker left over (the page was reloaded
 * or closed mid-update) becomes an "interrupted" entry, and a reboot of a restored NIC that applied
 * its pending image becomes a "power-cycled" one. While a session runs its tab holds a Web Lock
 * named after the marker, so a marker of a session still running in another tab is left alone.
 */
import type { DeviceQuery } from '../core/update/query.ts';
import type { SessionResult } from '../core/update/session.ts';
import type { HistoryEntry, HistoryStore, SessionMarker } from './history-store.ts';

export const versionText = (q: DeviceQuery | undefined): string | undefined =>
  q ? `${q.fwVersionRunning ?? '?'}${q.fwVersionPending ? ` (pending ${q.fwVersionPending})` : ''}` : undefined;

/**
 * What a person is told when a restored NIC's reboot at start-up changed what it runs (the page is
 * the NIC's power, so a reload applies a pending image); undefined when it runs what it ran.
 */
export function rebootNotice(serial: string, before: DeviceQuery | undefined, after: DeviceQuery | undefined): string | undefined {
  if (!before?.fwVersionPending || !after || after.fwVersionRunning === before.fwVersionRunning) return undefined;
  const applied = after.fwVersionRunning === before.fwVersionPending;
  return `The page was reloaded: the emulated NIC ${serial} was power-cycled and now runs ${after.fwVersionRunning ?? '?'} (${applied ? 'its pending image was applied' : `it ran ${before.fwVersionRunning ?? '?'} before`})`;
}

const LOCK_PREFIX = 'trustflash-session-';

export interface SessionHistoryOptions {
  readonly store: HistoryStore;
  readonly clock?: () => Date;
  /** navigator.locks, where there is one. */
  readonly locks?: LockManager;
  /** A failed write is reported, never thrown into the session. */
  readonly report: (text: string) => void;
}

export class SessionHistory {
  readonly #o: SessionHistoryOptions;
  readonly #releases = new Map<string, () => void>();

  constructor(opts: SessionHistoryOptions) {
    this.#o = opts;
  }

  #now(): string {
    return (this.#o.clock?.() ?? new Date()).toISOString();
  }

  /** Persists the marker (awaited: it is on disk before the first byte goes to the device). */
  async begin(m: Omit<SessionMarker, 'id' | 'time'>): Promise<SessionMarker> {
    const marker: SessionMarker = { ...m, id: `${this.#now()}-${crypto.randomUUID().slice(0, 8)}`, time: this.#now() };
    const locks = this.#o.locks;
    if (locks) {
      await new Promise<void>((granted) => {
        void locks.request(LOCK_PREFIX + marker.id, () => {
          granted();
          return new Promise<void>((release) => this.#releases.set(marker.id, release));
        });
      });
    }
    try {
      await this.#o.store.begin(marker);
    } catch (e) {
      this.#o.report(`the update could not be recorded as started (${(e as Error).message}); a reload during it will not be flagged`);
    }
    return marker;
  }

  async finish(marker: SessionMarker, result: SessionResult): Promise<HistoryEntry> {
    const before = versionText(result.before) ?? marker.before;
    // refused by this host: nothing was sent, so the device runs what it ran
    const after = versionText(result.after) ?? (result.outcome === 'rejected-by-host' ? before : undefined);
    const entry: HistoryEntry = { ...marker, ...(before ? { before } : {}), ...(after ? { after } : {}), outcome: result.outcome, message: result.message };
    try {
      await this.#o.store.finish(entry);
    } catch (e) {
      this.#o.report(`the update's result could not be saved in the history (${(e as Error).message})`);
    }
    this.#releases.get(marker.id)?.();
    this.#releases.delete(marker.id);
    return entry;
  }

  /**
   * Turns the markers left over from an earlier page into "interrupted" entries; `now` says what
   * each device runs now (after the restore), if this side knows it.
   */
  async recover(now: (serial: string) => DeviceQuery | undefined): Promise<HistoryEntry[]> {
    let markers: SessionMarker[];
    try {
      markers = await this.#o.store.markers();
    } catch (e) {
      this.#o.report(`interrupted updates could not be looked up (${(e as Error).message})`);
      return [];
    }
    const live = new Set(((await this.#o.locks?.query())?.held ?? []).map((l) => l.name));
    const out: HistoryEntry[] = [];
    for (const m of markers) {
      if (live.has(LOCK_PREFIX + m.id)) continue; // still running in another tab
      const q = now(m.serial);
      const after = versionText(q);
      const entry: HistoryEntry = {
        ...m,
        ...(after ? { after } : {}),
        outcome: 'interrupted',
        message: `The page was reloaded or closed while this update ran; the session never finished.${q ? ` ${m.serial} now runs ${q.fwVersionRunning ?? '?'}${q.fwVersionPending ? `, with ${q.fwVersionPending} pending` : ', nothing pending'}.` : ''}`,
      };
      try {
        await this.#o.store.finish(entry);
        out.push(entry);
      } catch (e) {
        this.#o.report(`an interrupted update could not be recorded (${(e as Error).message})`);
      }
    }
    return out;
  }

  /** Records a reboot at start-up that changed what the NIC runs (its pending image applied). */
  async rebooted(serial: string, psid: string | undefined, before: DeviceQuery | undefined, after: DeviceQuery | undefined, message: string): Promise<HistoryEntry> {
    const b = versionText(before);
    const a = versionText(after);
    const entry: HistoryEntry = {
      id: `${this.#now()}-${crypto.randomUUID().slice(0, 8)}`,
      time: this.#now(),
      serial,
      ...(psid ? { psid } : {}),
      device: 'emulated',
      file: before?.fwVersionPending ? `pending image ${before.fwVersionPending}` : 'pending image',
      ...(b ? { before: b } : {}),
      ...(a ? { after: a } : {}),
      outcome: 'power-cycled',
      message,
    };
    await this.#o.store.add(entry).catch((e: Error) => this.#o.report(`the reboot could not be recorded in the history (${e.message})`));
    return entry;
  }
}
