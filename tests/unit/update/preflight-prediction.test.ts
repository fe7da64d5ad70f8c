/**
 * The pre-flight prediction rule (issue #10; docs/verification.md §13): for every sample and every
 * variant (tests/unit/update/variants.ts), the device's own verdict is learnt by driving a fresh
 * NIC without any host pre-flight, and the real update session is run against another fresh NIC
 * in the same state. Any image the device refuses must be refused by the session's pre-flight,
 * before LOCK; the session must never reach the device's refusal. The only exceptions are the
 * named ones of verification.md §13 (faults of the flash or the bus, another host changing the
 * device between QUERY and LOCK), which no variant here produces.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { loadTrustStore, type TrustStore } from '../../../src/core/crypto/trust.ts';
import { UpdateSession } from '../../../src/core/update/session.ts';
import { NOW } from '../helpers/demo.ts';
import { buildVariants, deviceVerdict, nicFor, type Variant } from './variants.ts';

let variants: Variant[];
let trust: TrustStore;

beforeAll(async () => {
  variants = await buildVariants();
  trust = (await loadTrustStore([{ name: 'root', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }])).store;
}, 120_000);

describe('pre-flight predicts every refusal the device gives after LOCK', () => {
  it('builds the variants', () => {
    expect(variants.length).toBeGreaterThanOrEqual(50);
  });

  for (const deviceBranch of [false, true]) {
    it(`${deviceBranch ? 'variants decided by the S1–S5 device rules (need the device branch)' : 'samples and variants the device already decides'}: the session never gets past pre-flight for an image the device refuses`, async () => {
      const rows: string[] = [];
      const misses: string[] = [];
      for (const v of variants.filter((x) => (x.deviceBranch ?? false) === deviceBranch)) {
        const device = await deviceVerdict(await nicFor(v.nic), v.image);
        const dev = await nicFor(v.nic);
        const host = new DfuHost(dev);
        await host.open();
        const r = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: v.image }, trust, now: NOW }).run();
        const predicted = r.outcome === 'rejected-by-host';
        rows.push(`${v.name}: device ${device.accepted ? 'accepts' : `refuses 0x${device.code.toString(16)} at ${device.step}`}; session ${r.outcome}${r.report?.failed ? ` (${r.report.failed.id})` : ''}`);
        if (!device.accepted && !predicted) misses.push(`${v.name}: the device refuses (0x${device.code.toString(16)} at ${device.step}) but the session ended ${r.outcome}: ${r.message}`);
        // the session never reaches a refusal by the device: an image it sends, the device takes
        if (r.outcome === 'rejected-by-device') misses.push(`${v.name}: refused by the device after LOCK (${r.message})`);
        if (device.accepted) expect(['updated', 'rejected-by-host'], `${v.name}: ${r.message}`).toContain(r.outcome);
        // the device rules of the hardening spec (S1–S5), held against the device itself
        if (v.spec && (v.spec === 'accept') !== device.accepted) misses.push(`${v.name}: the hardening spec says the device must ${v.spec} it; it ${device.accepted ? 'accepts' : `refuses 0x${device.code.toString(16)}`}`);
        // and the host the same way: a spec'd accept installs through the session
        if (v.spec === 'accept' && r.outcome !== 'updated') misses.push(`${v.name}: the spec says it installs; the session ended ${r.outcome}: ${r.message}`);
      }
      expect(misses, rows.join("\n")).toEqual([]);
      if (!deviceBranch) {
        // not vacuous: many refusals by the device, each predicted, and many images installed
        expect(rows.filter((r) => r.includes('device refuses')).length).toBeGreaterThanOrEqual(18);
        expect(rows.filter((r) => r.endsWith('session updated')).length).toBeGreaterThanOrEqual(15);
      }
      if (process.env.SHOW_ROWS) console.log(rows.join("\n"));
    }, 300_000);
  }
});
