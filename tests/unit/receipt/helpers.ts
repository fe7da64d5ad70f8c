/** Shared by the receipt tests: NICs certified by the demo (or the rogue) device CA, and their receipts. Not a test file. */
import { EmulatedNic, type NicOptions } from '../../../src/emulator/nic.ts';
import { deviceCaIssuer, type DeviceCertificateIssuer } from '../../../src/core/receipt/device-ca.ts';
import { demoCert, keyPem } from '../helpers/demo.ts';
import { sample } from '../device/nic-helpers.ts';
import type { Certificate } from '../../../src/core/crypto/x509.ts';

const issuers = new Map<string, Promise<DeviceCertificateIssuer>>();

/** The issuer of a demo-keys folder's CA ('device-ca' or 'rogue-device-ca'). */
export function issuerOf(ca = 'device-ca'): Promise<DeviceCertificateIssuer> {
  let i = issuers.get(ca);
  if (!i) issuers.set(ca, (i = deviceCaIssuer(keyPem(ca), keyPem(ca, 'cert.pem'))));
  return i;
}

export const deviceCa = (): Promise<Certificate> => demoCert('device-ca');
export const rogueDeviceCa = (): Promise<Certificate> => demoCert('rogue-device-ca');

/** A small NIC with an attestation key certified by `ca`. */
export async function attestedNic(opts: Partial<NicOptions> = {}, ca = 'device-ca'): Promise<EmulatedNic> {
  return EmulatedNic.create({ factoryImage: sample('factory'), bankSize: 1024 * 1024, attestationIssuer: await issuerOf(ca), ...opts });
}

export function nonce(fill?: number): Uint8Array {
  return fill === undefined ? crypto.getRandomValues(new Uint8Array(32)) : new Uint8Array(32).fill(fill);
}

/** The firmware's receipt for `n`, or a thrown error naming why it made none. */
export function receiptOf(nic: EmulatedNic, n: Uint8Array): Uint8Array {
  const r = nic.firmware.receipt(n);
  if (!r.ok) throw new Error(`no receipt: reason ${r.reason}`);
  return r.bytes;
}
