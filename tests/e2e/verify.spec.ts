import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, index, SAMPLES_DIR, tab } from './fixtures.ts';
import { signImage } from '../../src/core/sign/sign-image.ts';
import { makeCertificate } from '../../src/core/crypto/keygen.ts';
import { DRAFT, demoKey, demoCert, payloadOf } from '../unit/helpers/demo.ts';

test.describe('firmware verification page', () => {
  test('opens on firmware verification with the demo trust root and device', async ({ watched: page }) => {
    await page.goto('/');
    await expect(page).toHaveTitle(/TrustFlash/);
    await expect(page.getByRole('heading', { name: 'Firmware', exact: true })).toBeVisible();
    await expect(page.locator('.sample')).toHaveCount(index.samples.length);
    await page.screenshot({ path: test.info().outputPath('start-flow.png') });
    await tab(page, 'trust');
    await expect(page.getByTestId('device')).toContainText('TF_0000000001');
    await expect(page.locator('.sample')).toHaveCount(index.samples.length);
    await page.screenshot({ path: test.info().outputPath('start.png'), fullPage: true });
  });

  for (const s of index.samples) {
    test(`sample "${s.title}" is ${s.expect.verdict}ed${s.expect.failedCheck ? ` by ${s.expect.failedCheck}` : ''}`, async ({ watched: page }) => {
      await page.goto('/');
      await page.locator('.sample', { hasText: s.title }).click();
      const verdict = page.getByTestId('verdict');
      await expect(verdict).toHaveAttribute('data-verdict', s.expect.verdict, { timeout: 30_000 });
      await expect(verdict).toContainText(s.expect.verdict === 'accept' ? 'Accepted' : 'Rejected');
      if (s.expect.failedCheck) {
        await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', s.expect.failedCheck);
        await expect(page.locator(`tr[data-check="${s.expect.failedCheck}"]`)).toHaveAttribute('data-status', 'fail');
      } else {
        await expect(page.locator('tr[data-status="fail"]')).toHaveCount(0);
      }
      if (s.kind === 'detached') await expect(page.getByTestId('notice').first()).toContainText('does not verify signatures itself');
      if (s.expect.verdict === 'accept') await expect(page.getByTestId('notice').filter({ hasText: 'DEMO key' })).toBeVisible();
    });
  }

  test('a picked file goes through the same checks; the manifest is shown', async ({ watched: page }) => {
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles(join(SAMPLES_DIR, 'good.tfw'));
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept');
    await expect(page.getByTestId('manifest-version')).toHaveText('28.40.1000');
    await expect(page.getByTestId('release-notes')).toContainText('RDMA counter overflow');
    await page.screenshot({ path: test.info().outputPath('accepted.png'), fullPage: true });
  });

  test('detached mode: firmware + .sig + signer certificate picked together', async ({ watched: page }) => {
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles(['generic.bin', 'generic.sig', 'demo-signer.pem'].map((f) => join(SAMPLES_DIR, f)));
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept');
    await expect(page.getByTestId('notice').first()).toContainText('does not verify signatures itself');
  });

  test('bad input gets a specific message: a PNG, an empty file, a truncated image', async ({ watched: page }) => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-e2e-'));
    const png = join(dir, 'photo.png');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'));
    const empty = join(dir, 'empty.tfw');
    writeFileSync(empty, '');
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles(png);
    await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'format');
    await expect(page.getByTestId('failed-check')).toContainText('not a TrustFlash image');
    await page.getByTestId('file-input').setInputFiles(empty);
    await expect(page.getByTestId('failed-check')).toContainText('the file is empty');
    await page.getByTestId('file-input').setInputFiles({ name: 'cut.tfw', mimeType: 'application/octet-stream', buffer: Buffer.from(new Uint8Array(await (await page.request.get('/samples/good.tfw')).body()).subarray(0, 5000)) });
    await expect(page.getByTestId('failed-check')).toContainText('truncated');
  });

  test('firmware metadata is rendered as text, never as HTML', async ({ watched: page }) => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const img = await signImage({ ...DRAFT, vendor: 'TrustFlash <b>Test</b>', releaseNotes: hostile, psids: ['TF_0000000001'] }, payloadOf(128), [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }]);
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles({ name: 'hostile.tfw', mimeType: 'application/octet-stream', buffer: Buffer.from(img) });
    await expect(page.getByTestId('release-notes')).toHaveText(hostile);
    await expect(page.getByTestId('manifest')).toContainText('TrustFlash <b>Test</b>');
    await expect(page.locator('.panel img, .panel b, .panel script')).toHaveCount(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  test('control and bidi characters from a certificate or a file name are shown escaped, not obeyed', async ({ watched: page }) => {
    // a signer certificate, issued by the demo root, whose name would reverse what follows it
    const signer = await demoKey('signer');
    const root = await demoKey('root');
    const cn = 'Signer \u202eexe.txt\u202c \u2066x\u2069 \u001b[31m';
    const publicKey = await crypto.subtle.importKey('spki', signer.spki.slice(), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify']);
    const cert = await makeCertificate({ commonName: cn, role: 'signer', publicKey, issuer: { certificate: await demoCert('root'), privateKey: root.privateKey }, notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2036-01-01T00:00:00Z') });
    const img = await signImage({ ...DRAFT, psids: ['TF_0000000001'] }, payloadOf(128), [{ key: signer, chain: [cert] }]);
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles({ name: 'fw\u202egpj.tfw', mimeType: 'application/octet-stream', buffer: Buffer.from(img) });
    await expect(page.getByTestId('verdict')).toBeVisible();
    const shown = (await page.locator('.panel').filter({ has: page.getByTestId('verdict') }).innerText());
    expect(shown).toContain('Signer \\u202eexe.txt\\u202c \\u2066x\\u2069 \\u001b[31m');
    expect(shown).toContain('fw\\u202egpj.tfw');
    expect(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(shown)).toBe(false);
  });

  test('without the demo root in the trust store, the demo-signed image is rejected at the chain', async ({ watched: page }) => {
    await page.goto('/');
    await tab(page, 'trust');
    await page.getByLabel('TrustFlash demo root (TEST KEY)').uncheck();
    await page.locator('.sample', { hasText: 'Signed update 28.40.1000' }).click();
    await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'chain');
    await page.getByTestId('trust-input').setInputFiles('src/assets/demo-keys/root/cert.pem');
    await page.locator('.sample', { hasText: 'Signed update 28.40.1000' }).click();
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept');
  });

  test('without the device identity, device checks are skipped, not passed', async ({ watched: page }) => {
    await page.goto('/');
    await tab(page, 'trust');
    await page.getByLabel('Emulated NIC identity').uncheck();
    await page.locator('.sample', { hasText: 'Wrong device (PSID)' }).click();
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept');
    await expect(page.locator('tr[data-check="device"]')).toHaveAttribute('data-status', 'skipped');
  });
});
