/** Several independent NICs at once: different serials and PSIDs, separate flash, separate decisions. */
import { describe, expect, it } from 'vitest';
import { newNic, pending, queryTags, running, sample, update } from './nic-helpers.ts';

describe('several NICs', () => {
  it('are independent: each decides for its own identity and keeps its own flash', async () => {
    const a = await newNic();
    const b = await newNic({ identity: { psid: 'MT_0000000999', serial: 'TFN-B-0001' } });
    const c = await newNic({ identity: { serial: 'TFN-C-0001' } });
    expect(new TextDecoder().decode(queryTags(a).get(7))).not.toBe(new TextDecoder().decode(queryTags(c).get(7)));
    const [ra, rb, rc] = await Promise.all([update(a, sample('good')), update(b, sample('good')), update(c, sample('wrong-psid'))]);
    expect(ra).toBe(0);
    expect(rb).toBe(0x03); // good.tfw is for TF_0000000001, b is MT_0000000999
    expect(rc).toBe(0x03);
    expect(await update(b, sample('wrong-psid'))).toBe(0); // made for MT_0000000999
    await Promise.all([a.reset(), b.reset(), c.reset()]);
    expect([running(a), running(b), running(c)]).toEqual(['28.40.1000', '28.40.1000', '28.39.1002']);
    expect([pending(a), pending(b), pending(c)]).toEqual([undefined, undefined, undefined]);
  });
});
