/**
 * `--trust` and `--crl` files into a trust store, for every command that verifies. A file that does
 * not load is an error (exit 2, naming the file and the block); a CRL that loads but is doubtful
 * (from no trusted root, or not verifying with the root it names) is a warning on stderr, and the
 * chain row says what became of it.
 */
import { crlFileText, CRL_MAX } from '../core/crypto/crl.ts';
import { loadTrustStore, type TrustStore, type TrustText } from '../core/crypto/trust.ts';
import { IoError, type Io } from './io.ts';
import { parsePem } from '../core/crypto/pem.ts';
import { parseCertificate, type Certificate } from '../core/crypto/x509.ts';
import { demoDeviceCaCertificate } from '../service/demo-device-ca.ts';

export async function loadTrustFiles(io: Io, trustPaths: readonly string[], crlPaths: readonly string[]): Promise<TrustStore> {
  const sources: TrustText[] = await Promise.all(trustPaths.map(async (p) => ({ name: p, text: await io.readText(p) })));
  for (const p of crlPaths) {
    const size = (await io.openBlob(p)).size;
    if (size > CRL_MAX * 2) throw new IoError(`cannot use ${p}: ${size} bytes is too large for a CRL (at most ${CRL_MAX} bytes of DER)`);
    const text = crlFileText(await io.readBytes(p));
    if (!text.ok) throw new IoError(`--crl ${p}: ${text.reason}`);
    sources.push({ name: p, text: text.value, kind: 'crl' });
  }
  const { store, errors, warnings } = await loadTrustStore(sources);
  if (errors.length) throw new IoError(`trust store: ${errors.join('; ')}`);
  for (const w of warnings) io.err(`warning: ${w}`);
  return store;
}

/**
 * The device CAs receipts are checked against: `--device-ca` certificates; else the trust bundle's
 * (`fromBundle`); else, for an emulated NIC, the DEMO device CA that made it.
 */
export async function deviceCaOf(io: Io, paths: readonly string[], emulated: boolean, fromBundle: readonly Certificate[] = []): Promise<{ certs: Certificate[]; demo: boolean }> {
  if (paths.length === 0 && fromBundle.length > 0) return { certs: [...fromBundle], demo: false };
  if (paths.length === 0) return emulated ? { certs: [await demoDeviceCaCertificate()], demo: true } : { certs: [], demo: false };
  const certs: Certificate[] = [];
  for (const path of paths) {
    const blocks = parsePem(await io.readText(path)).blocks.filter((b) => b.label === 'CERTIFICATE');
    if (blocks.length === 0) throw new IoError(`--device-ca ${path}: no CERTIFICATE block`);
    for (const b of blocks) {
      const c = await parseCertificate(b.der);
      if (!c.ok) throw new IoError(`--device-ca ${path}: ${c.reason}`);
      certs.push(c.value);
    }
  }
  return { certs, demo: false };
}
