/** One failure-result shape: every parser and checker that can fail says why in `reason`, with its detail beside it. */
import { describe, expect, it } from 'vitest';
import { parseImage, parseImageHead } from '../../../src/core/image/parse.ts';
import { parseDfuFile } from '../../../src/core/dfu/dfu-file.ts';
import { parseStrictJson } from '../../../src/core/bytes/strict-json.ts';
import { manifestFromJson } from '../../../src/core/sign/manifest-json.ts';
import { decodeStatus } from '../../../src/core/update/protocol.ts';
import { decodeQuery } from '../../../src/core/update/query.ts';
import { parseIsoTime } from '../../../src/core/bytes/iso-time.ts';
import { verifyAuditLog } from '../../../src/core/update/audit.ts';

describe('failure results', () => {
  it('a format failure names the field and offset in its reason, and carries them apart', () => {
    const bad = new TextEncoder().encode('TFWX' + '\0'.repeat(40));
    for (const r of [parseImage(bad), parseImageHead(bad, bad.length), decodeStatus(new Uint8Array(3)), decodeQuery(Uint8Array.from([3, 9, 0]))]) {
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.reason).toBe(`${r.error.field} at offset ${r.error.offset}: ${r.error.message}`);
    }
    const dfu = parseDfuFile(new Uint8Array(20));
    expect(dfu.ok === false && dfu.reason.includes(dfu.error.field)).toBe(true);
  });

  it('JSON, manifests, dates and audit logs fail with a reason a person can act on', async () => {
    const j = parseStrictJson('{"a": 1, "a": 2}');
    expect(j).toMatchObject({ ok: false, reason: expect.stringMatching(/^line 1, column \d+: .*"a"/) });
    const m = await manifestFromJson({ psid: 'X', bogus: 1 }, async () => '');
    expect(m.ok).toBe(false);
    if (!m.ok) expect(m.reason).toBe(m.errors.join('; '));
    expect(parseIsoTime('2026-02-31T00:00:00Z')).toMatchObject({ ok: false, reason: expect.any(String) });
    expect(await verifyAuditLog('')).toMatchObject({ ok: false, line: 0, empty: true, reason: 'the log is empty' });
  });
});
