/**
 * The DEMO device CA (src/assets/demo-keys/device-ca; its private half is public): the factory's
 * CA for the attestation certificates of the emulated NICs the page and the CLI manufacture (issue
 * #14), and the CA their receipts are checked against by default. A real vendor's device CA signs
 * at the factory, never on a host; a receipt checked against this CA proves only that an emulated
 * NIC made by this program signed it (docs/threat-model.md).
 */
import deviceCaKeyPem from '../assets/demo-keys/device-ca/key.pem?raw';
import deviceCaCertPem from '../assets/demo-keys/device-ca/cert.pem?raw';
import { parsePem } from '../core/crypto/pem.ts';
import { parseCertificate, type Certificate } from '../core/crypto/x509.ts';
import { deviceCaIssuer, type DeviceCertificateIssuer } from '../core/receipt/device-ca.ts';

export const DEMO_DEVICE_CA_LABEL = 'DEMO device CA (its private half is public: demo only)';
export const DEMO_DEVICE_CA_PEM: string = deviceCaCertPem;

let issuer: Promise<DeviceCertificateIssuer> | undefined;
let cert: Promise<Certificate> | undefined;

/** The factory's issuer for new emulated NICs (loaded once). */
export function demoDeviceCaIssuer(): Promise<DeviceCertificateIssuer> {
  return (issuer ??= deviceCaIssuer(deviceCaKeyPem, deviceCaCertPem));
}

/** The demo device CA certificate, the anchor receipts of emulated NICs are checked against. */
export function demoDeviceCaCertificate(): Promise<Certificate> {
  return (cert ??= parseCertificate(parsePem(deviceCaCertPem).blocks[0]!.der).then((r) => {
    if (!r.ok) throw new Error(`the DEMO device CA certificate does not parse: ${r.reason}`);
    return r.value;
  }));
}
