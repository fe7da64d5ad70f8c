/** The hash-chained audit log: any edit, removal, reordering or truncation is detected. */
import { describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditLog } from '../../../src/core/update/audit.ts';

async function sampleLog(): Promise<string> {
  let t = Date.parse('2026-11-22T10:00:00Z');
  const log = new AuditLog(() => new Date((t += 1000)));
  void log.add('session', { tool: 'trustflash', version: '0.1.0' });
  void log.add('device', { psid: 'TF_0000000001', serial: 'TFN0000001', running: '28.39.1002' });
  void log.add('image', { sha256: new Uint8Array([1, 2, 3]), version: '28.40.1000' });
  void log.add('check', { id: 'signature', status: 'pass' });
  void log.add('step', { name: 'lock', state: 'LOCKED' });
  await log.add('result', { outcome: 'updated', pending: '28.40.1000' });
  return log.toJsonl();
}

describe('audit log', () => {
  it('verifies as written, in call order, with bytes as hex', async () => {
    const text = await sampleLog();
    const r = await verifyAuditLog(text);
    expect(r).toMatchObject({ ok: true, records: 6 });
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.kind)).toEqual(['session', 'device', 'image', 'check', 'step', 'result']);
    expect(lines[2].data.sha256).toBe('010203');
  });

  it('detects an edited value, a removed line, reordered lines and a forged tail', async () => {
    const lines = (await sampleLog()).trim().split('\n');
    const edited = lines.map((l, i) => (i === 3 ? l.replace('"pass"', '"fail"') : l));
    expect(await verifyAuditLog(edited.join('\n'))).toMatchObject({ ok: false, line: 4, reason: expect.stringMatching(/edited/) });
    expect(await verifyAuditLog([lines[0], lines[2], lines[3]].join('\n'))).toMatchObject({ ok: false, line: 2 });
    expect(await verifyAuditLog([lines[1], lines[0]].join('\n'))).toMatchObject({ ok: false, line: 1 });
    // truncation leaves a valid prefix; the head hash changes, so a stored head detects it
    const full = await verifyAuditLog(lines.join('\n'));
    const cut = await verifyAuditLog(lines.slice(0, 4).join('\n'));
    expect(cut.ok && full.ok && cut.head !== full.head).toBe(true);
    expect(await verifyAuditLog('not json\n')).toMatchObject({ ok: false, line: 1 });
    expect(await verifyAuditLog('')).toMatchObject({ ok: false });
  });
});
