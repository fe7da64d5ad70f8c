import { describe, expect, it } from 'vitest';
import { DeviceChannel } from '../../../src/ui/state/device-channel.ts';
import { LogState, SHOWN } from '../../../src/ui/state/log.svelte.ts';
import type { LogLine } from '../../../src/service/device-protocol.ts';
import { FakeBackend } from './fake-backend.ts';

const line = (i: number, text: string, source: LogLine['source'] = 'host'): LogLine => ({ t: i, serial: 'TFN0000001', source, text });

function setup(limit?: number) {
  const fake = new FakeBackend();
  const saved: { name: string; text: string; type: string }[] = [];
  const log = new LogState({ channel: new DeviceChannel(fake), saveFile: (name, text, type) => saved.push({ name, text, type }), now: () => new Date('2026-11-22T10:00:00Z'), ...(limit ? { limit } : {}) });
  return { fake, log, saved };
}

describe('LogState', () => {
  it('collects lines, filters them by text or source, and keeps a bounded number', () => {
    const { fake, log } = setup(1000);
    fake.emit({ kind: 'log', lines: [line(1, 'CONTROL LOCK_UPDATE_HANDLE'), line(2, 'STATUS: LOCKED', 'device'), line(3, 'power lost during block 3', 'nic')] });
    expect(log.lines).toHaveLength(3);
    log.setFilter('status');
    expect(log.shown.map((l) => l.t)).toEqual([2]);
    log.setFilter('nic');
    expect(log.shown.map((l) => l.t)).toEqual([3]); // by source
    log.setFilter('tfn0000001');
    expect(log.shown.map((l) => l.t)).toEqual([1, 2, 3]); // by serial
    log.setFilter(' power ');
    expect(log.shown.map((l) => l.t)).toEqual([3]);
    log.setFilter('');
    fake.emit({ kind: 'log', lines: Array.from({ length: 1200 }, (_, i) => line(10 + i, `DATA offset ${i}`)) });
    expect(log.lines).toHaveLength(1000);
    expect(log.dropped).toBe(203);
    expect(log.matchCount).toBe(1000);
    expect(log.shown).toHaveLength(SHOWN);
    expect(log.shown.at(-1)!.text).toBe('DATA offset 1199');
    log.clear();
    expect(log.lines).toHaveLength(0);
  });

  it('lists each result with the versions before and after', () => {
    const { fake, log } = setup();
    fake.emit({
      kind: 'result',
      serial: 'TFN0000001',
      name: 'good.tfw',
      result: { outcome: 'updated', message: 'Updated', deviceVerifies: true, steps: [], before: { fwVersionRunning: '28.39.1002' }, after: { fwVersionRunning: '28.39.1002', fwVersionPending: '28.40.1000' } },
    });
    expect(log.results).toEqual([{ time: '2026-11-22T10:00:00.000Z', serial: 'TFN0000001', file: 'good.tfw', outcome: 'updated', message: 'Updated', before: '28.39.1002', after: '28.39.1002 (pending 28.40.1000)' }]);
  });

  it('exports the audit log as a .jsonl download and says whether its chain is intact', async () => {
    const { fake, log, saved } = setup();
    fake.reply = (req, f) => {
      if (req.kind !== 'export-audit') return;
      f.emit({ kind: 'audit', id: req.id, jsonl: '{"seq":0}\n', check: { ok: true, records: 1, head: 'ab'.repeat(32) } });
      f.done(req.id);
    };
    await log.exportAudit();
    expect(saved).toEqual([{ name: 'trustflash-audit-2026-11-22T10-00-00-000Z.jsonl', text: '{"seq":0}\n', type: 'application/jsonl' }]);
    expect(log.audit).toEqual({ file: 'trustflash-audit-2026-11-22T10-00-00-000Z.jsonl', records: 1, intact: true, detail: 'chain intact', head: 'ab'.repeat(32) });
    expect(log.exporting).toBe(false);

    fake.reply = (req, f) => {
      f.emit({ kind: 'audit', id: req.id, jsonl: '\n', check: { ok: false, line: 0, empty: true, reason: 'the log is empty' } });
      f.done(req.id);
    };
    await log.exportAudit();
    expect(saved).toHaveLength(1);
    expect(log.audit?.detail).toMatch(/nothing recorded yet/);
  });
});
