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
    expect(await verifyAuditLog(edited.join('\n') + '\n')).toMatchObject({ ok: false, line: 4, reason: expect.stringMatching(/edited/) });
    expect(await verifyAuditLog([lines[0], lines[2], lines[3]].join('\n') + '\n')).toMatchObject({ ok: false, line: 2 });
    expect(await verifyAuditLog([lines[1], lines[0]].join('\n') + '\n')).toMatchObject({ ok: false, line: 1 });
    // truncation leaves a valid prefix; the head hash changes, so a stored head detects it
    const full = await verifyAuditLog(lines.join('\n') + '\n');
    const cut = await verifyAuditLog(lines.slice(0, 4).join('\n') + '\n');
    expect(cut.ok && full.ok && cut.head !== full.head).toBe(true);
    expect(await verifyAuditLog('not json\n')).toMatchObject({ ok: false, line: 1 });
    expect(await verifyAuditLog('')).toMatchObject({ ok: false });
  });
});

describe('audit log: every byte counts', () => {
  it('refuses every single-byte change: each byte flipped, replaced by a space, deleted or duplicated, and a CR or LF inserted anywhere', async () => {
    const text = await sampleLog();
    expect((await verifyAuditLog(text)).ok).toBe(true);
    const variants = new Set<string>();
    for (let i = 0; i < text.length; i++) {
      const before = text.slice(0, i);
      const after = text.slice(i + 1);
      const c = text.charCodeAt(i);
      variants.add(before + String.fromCharCode(c ^ 0x01) + after);
      variants.add(before + String.fromCharCode(c ^ 0x20) + after);
      variants.add(before + ' ' + after);
      variants.add(before + after);
      variants.add(before + text[i]! + text[i]! + after);
      variants.add(before + '\r' + text.slice(i));
      variants.add(before + '\n' + text.slice(i));
    }
    variants.add(text + '\n');
    variants.add(text + ' ');
    variants.delete(text);
    let refused = 0;
    for (const v of variants) if (!(await verifyAuditLog(v)).ok) refused++;
    expect(refused).toBe(variants.size);
    expect(variants.size).toBeGreaterThan(text.length * 5);
  }, 120_000);

  it('names the class of each change a person could make by hand', async () => {
    const text = await sampleLog();
    const lines = text.trim().split('\n');
    const join = (ls: string[]) => ls.join('\n') + '\n';
    // a duplicated key: JSON.parse keeps the last one, which equals the first, so only the canonical check sees it
    const dup = lines.map((l, i) => (i === 2 ? l.replace('"kind":"image"', '"kind":"image","kind":"image"') : l));
    expect(JSON.parse(dup[2]!).kind).toBe('image');
    expect(await verifyAuditLog(join(dup))).toMatchObject({ ok: false, line: 3, reason: expect.stringMatching(/canonical encoding/) });
    // re-spaced, re-ordered keys, another escape for the same character, a CRLF line end
    const respaced = lines.map((l, i) => (i === 1 ? JSON.stringify(JSON.parse(l), null, 1).replace(/\n/g, '') : l));
    expect(await verifyAuditLog(join(respaced))).toMatchObject({ ok: false, line: 2 });
    const reordered = lines.map((l, i) => (i === 0 ? JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l)).reverse())) : l));
    expect(await verifyAuditLog(join(reordered))).toMatchObject({ ok: false, line: 1, reason: expect.stringMatching(/canonical/) });
    const escaped = lines.map((l, i) => (i === 1 ? l.replace('TF_', 'T\\u0046_') : l));
    expect(JSON.parse(escaped[1]!).data.psid).toBe('TF_0000000001');
    expect(await verifyAuditLog(join(escaped))).toMatchObject({ ok: false, line: 2 });
    expect(await verifyAuditLog(lines.join('\r\n') + '\r\n')).toMatchObject({ ok: false, line: 1 });
    expect(await verifyAuditLog(lines.join('\n\n') + '\n')).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/blank line/) });
    expect(await verifyAuditLog(lines.join('\n'))).toMatchObject({ ok: false, reason: expect.stringMatching(/does not end with a line feed/) });
    // an extra field, or a record that is not an object
    const extra = lines.map((l, i) => (i === 4 ? l.replace('{"data"', '{"by":"me","data"') : l));
    expect(await verifyAuditLog(join(extra))).toMatchObject({ ok: false, line: 5, reason: expect.stringMatching(/fields/) });
    expect(await verifyAuditLog('[1]\n')).toMatchObject({ ok: false, line: 1, reason: 'not an audit record' });
  });

  it('a log cut after a complete record is caught when the expected head is given', async () => {
    const text = await sampleLog();
    const full = await verifyAuditLog(text);
    if (!full.ok) throw new Error('sample log broken');
    const lines = text.trim().split('\n');
    for (let keep = 1; keep < lines.length; keep++) {
      const cut = lines.slice(0, keep).join('\n') + '\n';
      expect((await verifyAuditLog(cut)).ok).toBe(true); // alone, a cut log is a shorter valid chain
      expect(await verifyAuditLog(cut, full.head)).toMatchObject({ ok: false, line: keep, reason: expect.stringMatching(/not the expected/) });
    }
    expect(await verifyAuditLog(text, full.head.toUpperCase())).toMatchObject({ ok: true, head: full.head });
    const log = new AuditLog();
    await log.add('note', { text: 'x' });
    expect(await log.head()).toBe((await verifyAuditLog(await log.toJsonl()) as { head: string }).head);
  });
});
