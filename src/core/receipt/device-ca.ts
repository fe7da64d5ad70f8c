/**
 * The vendor's device CA as a factory station uses it (issue #14): certifies a new NIC's
 * attestation key for its serial and PSID. The emulator takes the result as its `attestationIssuer`
 * (it holds no CA itself); the CLI and the page pass the demo device CA in src/assets/demo-keys.
 */
import { parsePem } from '../crypto/pem.ts';
import { parseCertificate } from '../crypto/x509.ts';
import { importSigningKey } from '../crypto/private-key.ts';
import { makeCertificate } from '../crypto/keygen.ts';
import { DEVICE_SUBJECT } from './verify.ts';

export type DeviceCertificateIssuer = (req: { publicKey: CryptoKey; serial: string; psid: string }) => Promise<Uint8Array>;

/** An issuer from the device CA's key and certificate (PEM). Throws on a caller mistake (files that are not a key and its certificate). */
export async function deviceCaIssuer(keyPem: string, certPem: string): Promise<DeviceCertificateIssuer> {
  const key = await importSigningKey(keyPem);
  if (!key.ok) throw new TypeError(`"keyPem" expected the device CA's private key, got: ${key.reason}`);
  const block = parsePem(certPem).blocks.find((b) => b.label === 'CERTIFICATE');
  const cert = block ? await parseCertificate(block.der) : undefined;
  if (!cert?.ok) throw new TypeError(`"certPem" expected the device CA's certificate${cert ? `: ${cert.reason}` : ''}`);
  if (!cert.value.isCA) throw new TypeError(`"certPem" expected a CA certificate, got "${cert.value.subject}"`);
  const ca = { certificate: cert.value, privateKey: key.value.privateKey };
  return async ({ publicKey, serial, psid }) =>
    (
      await makeCertificate({
        role: 'device',
        commonName: `TrustFlash NIC ${serial}`,
        organization: cert.value.pki.subject.typesAndValues.find((tv) => tv.type === '2.5.4.10')?.value.valueBlock.value ?? 'TrustFlash Demo',
        subjectExtra: [
          [DEVICE_SUBJECT.psid, psid],
          [DEVICE_SUBJECT.serialNumber, serial],
        ],
        publicKey,
        issuer: ca,
        // valid as long as its CA: a NIC's identity does not expire (IEEE 802.1AR DevID habit)
        notBefore: cert.value.notBefore,
        notAfter: cert.value.notAfter,
      })
    ).der;
}
