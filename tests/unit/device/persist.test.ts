/** Persistence: a saved NIC resumes exactly (a pending image stays pending until reset); damaged state files are refused. */
import { describe, expect, it } from 'vitest';
import { decodeState, encodeState } from '../../../src/emulator/persist.ts';
import { EmulatedNic } from '../../../src/emulator/nic.ts';
import { newNic, pending, running, sample, update } from './nic-helpers.ts';

describe('NIC state', () => {
  it('round-trips, and resuming is not a reset: a pending image stays pending', async () => {
    const nic = await newNic();
    expect(await update(nic, sample('good'))).toBe(0);
    const bytes = encodeState(nic.snapshot());
    const back = decodeState(bytes);
    expect(back.ok).toBe(true);
    if (!back.ok) return;
    expect(Buffer.from(encodeState(back.value)).equals(Buffer.from(bytes))).toBe(true);
    const again = await EmulatedNic.create({ state: back.value });
    expect(running(again)).toBe('28.39.1002');
    expect(pending(again)).toBe('28.40.1000');
    await again.reset();
    expect(running(again)).toBe('28.40.1000');
    expect(again.identity).toEqual(nic.identity);
  });

  it('refuses damaged state files with a reason', async () => {
    const good = encodeState((await newNic()).snapshot());
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty', new Uint8Array(0), /shorter than/],
      ['wrong magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0 : b)), /magic/],
      ['truncated', good.subarray(0, good.length - 1), /expected \d+ bytes/],
      ['trailing', new Uint8Array([...good, 0]), /expected \d+ bytes/],
      ['json length', (() => { const c = good.slice(); new DataView(c.buffer).setUint32(8, 0xffffffff, true); return c; })(), /metadata length/],
    ];
    for (const [name, bytes, re] of cases) {
      const r = decodeState(bytes);
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error, name).toMatch(re);
    }
    // metadata edits
    const dv = new DataView(good.buffer);
    const jsonLen = dv.getUint32(8, true);
    const meta = JSON.parse(new TextDecoder().decode(good.subarray(12, 12 + jsonLen)));
    const withMeta = (m: object) => {
      const j = new TextEncoder().encode(JSON.stringify(m));
      const out = new Uint8Array(12 + j.length + (good.length - 12 - jsonLen));
      out.set(good.subarray(0, 12));
      new DataView(out.buffer).setUint32(8, j.length, true);
      out.set(j, 12);
      out.set(good.subarray(12 + jsonLen), 12 + j.length);
      return out;
    };
    expect(decodeState(withMeta({ ...meta, bankSize: 1000 })).ok).toBe(false);
    expect(decodeState(withMeta({ ...meta, fuses: 'zz' })).ok).toBe(false);
    expect(decodeState(withMeta({ ...meta, pages: [...meta.pages].reverse() })).ok).toBe(meta.pages.length < 2);
    expect(decodeState(withMeta({ ...meta, identity: { ...meta.identity, psid: '' } })).ok).toBe(false);
  });
});
