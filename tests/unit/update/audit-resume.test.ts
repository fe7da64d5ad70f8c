/** The audit log resumes from stored records: seq and prev continue; a damaged log is refused, never extended. */
import { describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditLog } from '../../../src/core/update/audit.ts';

const clock = () => {
  let t = Date.parse('2026-12-07T10:00:00Z');
  return () => new Date((t += 1000));
};

async function firstPage(): Promise<{ text: string; lines: string[] }> {
  const lines: string[] = [];
  const log = new AuditLog(clock(), { onRecord: (_r, line) => void lines.push(line) });
  void log.add('session', { tool: 'trustflash' });
  void log.add('device', { serial: 'TFN0000001' });
  await log.add('result', { outcome: 'updated' });
  return { text: await log.toJsonl(), lines };
}

describe('AuditLog.resume', () => {
  it('hands every record to onRecord, in order, as the exact exported line', async () => {
    const { text, lines } = await firstPage();
    expect(lines.join('\n') + '\n').toBe(text);
  });

  it('continues the stored chain: seq and prev run on and the whole log verifies', async () => {
    const { text } = await firstPage();
    const stored = await verifyAuditLog(text);
    const written: string[] = [];
    const r = await AuditLog.resume(text, clock(), { onRecord: (_r, line) => void written.push(line) });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.records).toBe(3);
    await r.log.add('note', { text: 'after the reload' });
    const records = await r.log.records();
    expect(records.map((x) => x.seq)).toEqual([0, 1, 2, 3]);
    expect(records[3]!.prev).toBe(stored.ok ? stored.head : '');
    // only the new record is written again
    expect(written).toHaveLength(1);
    expect(await verifyAuditLog(await r.log.toJsonl())).toMatchObject({ ok: true, records: 4 });
  });

  it('an empty text is a new chain', async () => {
    const r = await AuditLog.resume('', clock());
    expect(r).toMatchObject({ ok: true, records: 0 });
  });

  it('refuses a stored log that fails verification (edited, cut mid-line, reordered)', async () => {
    const { text } = await firstPage();
    const lines = text.trim().split('\n');
    expect(await AuditLog.resume(text.replace('"updated"', '"failed"'), clock())).toMatchObject({ ok: false, line: 3, reason: expect.stringMatching(/edited/) });
    expect(await AuditLog.resume(text.slice(0, -10), clock())).toMatchObject({ ok: false });
    expect(await AuditLog.resume([lines[1], lines[0], lines[2]].join('\n') + '\n', clock())).toMatchObject({ ok: false, line: 1 });
  });

  it('a failing onRecord does not stop the chain in memory', async () => {
    const log = new AuditLog(clock(), {
      onRecord: () => {
        throw new Error('quota exceeded');
      },
    });
    await log.add('note', { n: 1 });
    await log.add('note', { n: 2 });
    expect(await verifyAuditLog(await log.toJsonl())).toMatchObject({ ok: true, records: 2 });
  });
});
