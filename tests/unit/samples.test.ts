/** The demo samples: reproducible byte for byte, and each verified exactly as its index entry says. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSamples } from '../../src/cli/make-samples.ts';
import { loadTrustStore } from '../../src/core/crypto/trust.ts';
import { parsePem } from '../../src/core/crypto/pem.ts';
import { parseCertificate } from '../../src/core/crypto/x509.ts';
import { verifyImage } from '../../src/core/verify/verify-image.ts';
import { verifyDetached } from '../../src/core/verify/verify-detached.ts';
import { NOW } from './helpers/demo.ts';

describe('samples', () => {
  it('are reproducible and verify as their index says', async () => {
    const a = mkdtempSync(join(tmpdir(), 'tf-samples-a-'));
    const b = mkdtempSync(join(tmpdir(), 'tf-samples-b-'));
    const entries = await makeSamples(a, { big: false });
    await makeSamples(b, { big: false });
    const files = new Set(entries.flatMap((e) => [e.file, e.signature, e.certificate].filter((f): f is string => !!f)));
    for (const f of [...files, 'index.json', 'demo-root.pem', 'device.json']) {
      expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between two runs`).toBe(true);
    }
    const { store } = await loadTrustStore([{ name: 'root', text: readFileSync(join(a, 'demo-root.pem'), 'utf8') }]);
    const device = JSON.parse(readFileSync(join(a, 'device.json'), 'utf8'));
    expect(entries.length).toBeGreaterThanOrEqual(14);
    for (const e of entries) {
      const bytes = new Uint8Array(readFileSync(join(a, e.file)));
      let r;
      if (e.kind === 'image') r = await verifyImage(bytes, { trust: store, device, now: NOW });
      else {
        const cert = await parseCertificate(parsePem(readFileSync(join(a, e.certificate!), 'utf8')).blocks[0]!.der);
        if (!cert.ok) throw new Error(cert.reason);
        r = await verifyDetached(bytes, new Uint8Array(readFileSync(join(a, e.signature!))), { trust: store, certificates: [cert.value], now: NOW });
      }
      expect(r.verdict, `${e.title}: ${r.failed?.reason}`).toBe(e.expect.verdict);
      expect(r.failed?.id, e.title).toBe(e.expect.failedCheck);
    }
  }, 120_000);
});
