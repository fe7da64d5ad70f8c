/** The page's history: grouped per device, refreshed after each result, notices from start-up, JSON export. */
import { describe, expect, it } from 'vitest';
import { DeviceChannel } from '../../../src/ui/state/device-channel.ts';
import { HistoryState } from '../../../src/ui/state/history.svelte.ts';
import { EmulatorOwner } from '../../../src/ui/state/emulator-owner.svelte.ts';
import { memoryHistoryStore, type HistoryEntry } from '../../../src/service/history-store.ts';
import { FakeBackend, tick } from './fake-backend.ts';

const e = (id: string, serial: string, time: string, outcome: HistoryEntry['outcome'] = 'updated'): HistoryEntry => ({ id, serial, psid: 'TF_0000000001', time, device: 'emulated', file: 'good.tfw', outcome, message: 'm' });

describe('HistoryState', () => {
  it('groups entries per device, newest first, reloads after a result and exports JSON', async () => {
    const fake = new FakeBackend();
    const store = memoryHistoryStore();
    const saved: { name: string; text: string }[] = [];
    const h = new HistoryState({ channel: new DeviceChannel(fake), read: () => store.entries(), saveFile: (name, text) => saved.push({ name, text }), now: () => new Date('2026-12-07T10:00:00Z') });
    await store.add(e('1', 'TFN0000001', '2026-12-07T09:00:01Z'));
    await store.add(e('2', 'TFN0000002', '2026-12-07T09:00:02Z'));
    await h.load();
    await store.add(e('3', 'TFN0000001', '2026-12-07T09:00:03Z', 'failed'));
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'good.tfw', result: { outcome: 'failed', message: 'm', deviceVerifies: true, steps: [] } });
    await tick();
    expect(h.byDevice.map((d) => [d.serial, d.entries.map((x) => x.id)])).toEqual([
      ['TFN0000001', ['3', '1']],
      ['TFN0000002', ['2']],
    ]);
    h.exportJson();
    expect(saved[0]!.name).toBe('trustflash-history-2026-12-07T10-00-00-000Z.json');
    expect(JSON.parse(saved[0]!.text)).toMatchObject({ format: 'trustflash-history', schema: 1, entries: [{ id: '1' }, { id: '2' }, { id: '3' }] });
  });

  it('start-up notices: interrupted updates, reboots that applied an image, the audit chain', async () => {
    const fake = new FakeBackend();
    const h = new HistoryState({ channel: new DeviceChannel(fake), read: async () => ({ entries: [], refused: [] }), saveFile: () => undefined });
    fake.emit({ kind: 'restored', reboots: [{ serial: 'TFN0000001', text: 'The page was reloaded: …' }], interrupted: [e('9', 'TFN0000001', '2026-12-07T09:00:00Z', 'interrupted')], audit: { resumed: 12 } });
    expect(h.interrupted.map((x) => x.id)).toEqual(['9']);
    expect(h.reboots).toHaveLength(1);
    expect(h.auditNote).toMatch(/continues the 12 records/);
    h.dismissNotices();
    expect(h.interrupted).toEqual([]);
  });

  it('asks once for persistent storage and says what the browser granted', async () => {
    const calls: string[] = [];
    const h = new HistoryState({
      channel: new DeviceChannel(new FakeBackend()),
      read: async () => ({ entries: [], refused: [] }),
      saveFile: () => undefined,
      storage: { persisted: async () => (calls.push('persisted'), false), persist: async () => (calls.push('persist'), true) },
    });
    await h.requestPersistence();
    expect(calls).toEqual(['persisted', 'persist']);
    expect(h.persisted).toBe(true);
  });
});

describe('EmulatorOwner', () => {
  it('says when another tab has the emulated NICs, and when this tab took them over', () => {
    const fake = new FakeBackend();
    const o = new EmulatorOwner(new DeviceChannel(fake));
    expect(o.elsewhere).toBe(false);
    fake.emit({ kind: 'emulator-lock', held: false, takeover: false });
    expect(o.elsewhere).toBe(true);
    fake.emit({ kind: 'emulator-lock', held: true, takeover: true });
    expect([o.elsewhere, o.tookOver]).toEqual([false, true]);
  });
});
