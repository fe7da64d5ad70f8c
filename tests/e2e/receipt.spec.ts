/**
 * Device-signed receipts in the page (issue #14): after an update of the emulated NIC the outcome
 * says "device-attested" with the serial and versions the NIC signed, and the exported audit log
 * carries the receipt, which verifies offline against the DEMO device CA.
 */
import { readFileSync } from 'node:fs';
import { test, expect, tab } from './fixtures.ts';
import { parsePem } from '../../src/core/crypto/pem.ts';
import { parseCertificate } from '../../src/core/crypto/x509.ts';
import { unarmorReceipt } from '../../src/core/receipt/receipt.ts';
import { verifyReceipt } from '../../src/core/receipt/verify.ts';
import { verifyAuditLog } from '../../src/core/update/audit.ts';

test('an update of the emulated NIC ends device-attested, and the exported audit log carries the receipt', async ({ watched: page }) => {
  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
  await tab(page, 'demos');
  await page.locator('[data-scenario="signed"]').click();
  await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
  const att = page.getByTestId('attestation');
  await expect(att).toHaveAttribute('data-verified', 'true');
  await expect(att).toContainText(/device-attested: TFN\w+ \(PSID TF_0000000001\) runs 28\.39\.1002, 28\.40\.1000 pending, fused security version \d+/);
  await expect(att).toContainText('its certificate is from "O=TrustFlash Demo, CN=TrustFlash Demo Device CA (TEST KEY, NOT FOR PRODUCTION)"');
  await page.getByTestId('update-panel').screenshot({ path: test.info().outputPath('attested.png') });

  await tab(page, 'log');
  await expect(page.getByTestId('log')).toContainText('device-attested: ');
  const download = page.waitForEvent('download');
  await page.getByTestId('export-audit').click();
  const text = readFileSync(await (await download).path(), 'utf8');
  expect(await verifyAuditLog(text)).toMatchObject({ ok: true });
  const records = text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { verified?: boolean; receipt?: string; fields?: { serial: string } } });
  const rec = records.find((r) => r.kind === 'receipt');
  expect(rec?.data.verified).toBe(true);
  const bytes = unarmorReceipt(new TextEncoder().encode(rec!.data.receipt!));
  if (!bytes.ok) throw new Error(bytes.reason);
  const ca = await parseCertificate(parsePem(readFileSync('src/assets/demo-keys/device-ca/cert.pem', 'utf8')).blocks[0]!.der);
  if (!ca.ok) throw new Error(ca.reason);
  const v = await verifyReceipt(bytes.bytes, { anchors: [ca.value], time: new Date(), serial: rec!.data.fields!.serial });
  expect(v.ok, v.ok ? '' : v.reason).toBe(true);
  expect(v.ok && v.receipt.pendingVersion).toBe('28.40.1000');
});
