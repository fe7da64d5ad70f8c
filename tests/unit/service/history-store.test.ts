/**
 * The history store and its hooks: schema-versioned records (newer or unversioned ones refused with
 * a sentence), "session started" markers that become "interrupted" entries, the audit chain that
 * continues across page loads or is kept aside when it does not verify.
 */
import { describe, expect, it } from 'vitest';
import { HISTORY_SCHEMA, memoryHistoryStore, readStored, type HistoryEntry } from '../../../src/service/history-store.ts';
import { SessionHistory } from '../../../src/service/session-history.ts';
import { openPersistentAudit } from '../../../src/service/persistent-audit.ts';
import { verifyAuditLog } from '../../../src/core/update/audit.ts';
import type { DeviceQuery } from '../../../src/core/update/query.ts';
import type { SessionResult } from '../../../src/core/update/session.ts';

const q = (running: string, pending?: string) => ({ fwVersionRunning: running, ...(pending ? { fwVersionPending: pending } : {}) }) as DeviceQuery;
const entry = (id: string, time: string): HistoryEntry => ({ id, time, serial: 'TFN0000001', device: 'emulated', file: 'good.tfw', outcome: 'updated', message: 'ok' });

describe('readStored (schema versions)', () => {
  it('reads this schema, refuses a newer one and an unversioned one with a sentence', () => {
    expect(readStored({ v: HISTORY_SCHEMA, value: 7 }, 'x')).toEqual({ ok: true, value: 7 });
    expect(readStored({ v: HISTORY_SCHEMA + 1, value: 7 }, 'history record 3')).toMatchObject({ ok: false, reason: expect.stringMatching(/^history record 3 was written by a newer TrustFlash \(schema 2; this version reads up to 1\)/) });
    expect(readStored({ serial: 'TFN0000001' }, 'history record 1')).toMatchObject({ ok: false, reason: expect.stringMatching(/no schema version this TrustFlash knows/) });
    expect(readStored(null, 'y').ok).toBe(false);
  });

  it('lists entries oldest first and reports the records it cannot read', async () => {
    const store = memoryHistoryStore();
    await store.add(entry('b', '2026-12-07T10:00:02Z'));
    await store.add(entry('a', '2026-12-07T10:00:01Z'));
    store.raw.history.set('future', { v: 99, value: entry('future', '2026-12-07T10:00:03Z') });
    const { entries, refused } = await store.entries();
    expect(entries.map((e) => e.id)).toEqual(['a', 'b']);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/newer TrustFlash/);
  });
});

describe('SessionHistory', () => {
  const result = (outcome: SessionResult['outcome']): SessionResult => ({ outcome, message: 'done', before: q('28.39.1002'), after: q('28.39.1002', '28.40.1000'), deviceVerifies: true, steps: [] });

  it('a marker is on disk before the session and replaced by its entry with the result', async () => {
    const store = memoryHistoryStore();
    const h = new SessionHistory({ store, report: () => undefined });
    const m = await h.begin({ serial: 'TFN0000001', psid: 'TF_0000000001', device: 'emulated', file: 'good.tfw', size: 67714, before: '28.39.1002' });
    expect(await store.markers()).toEqual([m]);
    const e = await h.finish(m, result('updated'));
    expect(await store.markers()).toEqual([]);
    expect((await store.entries()).entries).toEqual([e]);
    expect(e).toMatchObject({ serial: 'TFN0000001', psid: 'TF_0000000001', file: 'good.tfw', before: '28.39.1002', after: '28.39.1002 (pending 28.40.1000)', outcome: 'updated' });
  });

  it('a marker left by an earlier page becomes an interrupted entry saying what the device runs now', async () => {
    const store = memoryHistoryStore();
    const m = await new SessionHistory({ store, report: () => undefined }).begin({ serial: 'TFN0000001', device: 'emulated', file: 'big-32mib.tfw', size: 33556524 });
    // the page went away here; a new page starts
    const later = new SessionHistory({ store, report: () => undefined });
    const found = await later.recover((s) => (s === 'TFN0000001' ? q('28.39.1002') : undefined));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ id: m.id, outcome: 'interrupted', file: 'big-32mib.tfw', after: '28.39.1002', message: expect.stringMatching(/reloaded or closed .* TFN0000001 now runs 28\.39\.1002, nothing pending/) });
    expect(await store.markers()).toEqual([]);
    expect(await later.recover(() => undefined)).toEqual([]);
  });

  it('a write that fails is reported, not thrown into the session', async () => {
    const store = memoryHistoryStore();
    store.begin = () => Promise.reject(new Error('QuotaExceededError'));
    const said: string[] = [];
    const m = await new SessionHistory({ store, report: (t) => said.push(t) }).begin({ serial: 'S', device: 'usb', file: 'f', size: 1 });
    expect(m.serial).toBe('S');
    expect(said[0]).toMatch(/could not be recorded as started \(QuotaExceededError\)/);
  });
});

describe('openPersistentAudit', () => {
  it('continues the stored chain across page loads', async () => {
    const store = memoryHistoryStore();
    const first = await openPersistentAudit(store, 'emulator', () => undefined);
    expect(first.resumed).toBe(0);
    void first.log.add('note', { n: 1 });
    await first.log.add('note', { n: 2 });
    const second = await openPersistentAudit(store, 'emulator', () => undefined);
    expect(second.resumed).toBe(2);
    await second.log.add('note', { n: 3 });
    const text = await store.auditText('emulator');
    expect(text).toBe(await second.log.toJsonl());
    expect(await verifyAuditLog(text)).toMatchObject({ ok: true, records: 3 });
  });

  it('a stored chain that fails verification is kept aside and reported; the new chain says so first', async () => {
    const store = memoryHistoryStore();
    const first = await openPersistentAudit(store, 'emulator', () => undefined);
    await first.log.add('note', { text: 'genuine' });
    const lines = store.raw.audit.get('emulator')!;
    lines[0] = lines[0]!.replace('genuine', 'forged!');
    const second = await openPersistentAudit(store, 'emulator', () => undefined);
    expect(second.keptAside).toMatch(/failed verification at line 1: hash does not match/);
    expect(store.raw.aside).toHaveLength(1);
    expect(store.raw.aside[0]).toContain('forged!');
    const records = await second.log.records();
    expect(records).toHaveLength(1);
    expect(records[0]!.data).toMatchObject({ text: expect.stringMatching(/kept aside unchanged and this new chain starts here/) });
    expect(await verifyAuditLog(await store.auditText('emulator'))).toMatchObject({ ok: true, records: 1 });
  });
});
