/**
 * The audit log that survives page loads: the stored chain is verified and continued (seq and prev
 * run on); every new record is written as it is added. A stored chain that does not verify is
 * moved aside, reported, and a new chain starts whose first record says so — it is never extended.
 * With `locks`, the chain is taken with a Web Lock first: a chain open in another tab is left to it
 * (two tabs appending to one chain would fork it), and this tab's log lasts as long as the page.
 */
import { AuditLog } from '../core/update/audit.ts';
import type { HistoryStore } from './history-store.ts';

export interface OpenedAudit {
  readonly log: AuditLog;
  /** Records continued from storage (0 for a new chain). */
  readonly resumed: number;
  /** Why the stored chain was set aside, if it was. */
  readonly keptAside?: string;
  /** The chain is open in another tab: this log is in memory only. */
  readonly elsewhere?: boolean;
}

export interface PersistentAuditOptions {
  readonly clock?: () => Date;
  readonly locks?: LockManager;
}

/** Takes the chain's lock for the life of this page, if it is free. */
function claimChain(locks: LockManager, chain: string): Promise<boolean> {
  return new Promise((resolve) => {
    void locks.request(`trustflash-audit-${chain}`, { ifAvailable: true }, async (lock) => {
      resolve(lock !== null);
      if (lock) await new Promise<never>(() => undefined);
    });
  });
}

export async function openPersistentAudit(store: HistoryStore, chain: string, report: (text: string) => void, opts: PersistentAuditOptions = {}): Promise<OpenedAudit> {
  const { clock, locks } = opts;
  if (locks && !(await claimChain(locks, chain))) {
    report(`the ${chain} audit chain is open in another tab of TrustFlash: this tab's audit log lasts as long as the page (export it)`);
    return { log: new AuditLog(clock), resumed: 0, elsewhere: true };
  }
  let failed = false;
  const onRecord = async (r: { seq: number }, line: string) => {
    try {
      await store.appendAudit(chain, r.seq, line);
    } catch (e) {
      // said once: the chain goes on in memory and is still exported from this page
      if (!failed) report(`the audit log could not be saved (${(e as Error).message}); records from now on last only as long as this page`);
      failed = true;
    }
  };
  let text = '';
  try {
    text = await store.auditText(chain);
  } catch (e) {
    report(`the stored audit log could not be read (${(e as Error).message}); a new chain starts in memory`);
    return { log: new AuditLog(clock), resumed: 0 };
  }
  const resumed = await AuditLog.resume(text, clock, { onRecord });
  if (resumed.ok) return { log: resumed.log, resumed: resumed.records };
  const reason = `the stored audit log failed verification at line ${resumed.line}: ${resumed.reason}`;
  await store.setAuditAside(chain, reason).catch((e: Error) => report(`the damaged audit log could not be set aside: ${e.message}`));
  const fresh = new AuditLog(clock, { onRecord });
  void fresh.add('note', { text: `${reason}; it was kept aside unchanged and this new chain starts here` });
  return { log: fresh, resumed: 0, keptAside: reason };
}
