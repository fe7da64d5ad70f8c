/**
 * Manufacturing the NIC's attestation key (issue #14; docs/protocol.md §8.10). The firmware has no
 * entropy source, so the factory station makes the key: an RSA-2048 key pair with WebCrypto, whose
 * public half the vendor's device CA certifies (the `issuer` the manufacturer passes in: the CLI and
 * the page use the demo device CA; the emulator holds no CA of its own). The private numbers the
 * firmware signs with (n, d) and the certificate are written twice, each copy with a SHA-256
 * trailer, so one damaged byte never loses the key (the firmware rewrites a bad copy at boot).
 */
import { ATTEST_A, ATTEST_B, FLASH_OK, SECTOR, type Flash } from './flash.ts';

/** What the device CA is asked to certify: the NIC's public key, for its serial and PSID. */
export interface AttestationRequest {
  readonly publicKey: CryptoKey;
  readonly serial: string;
  readonly psid: string;
}

/** The vendor's device CA at the factory: returns the device certificate's DER. */
export type AttestationIssuer = (req: AttestationRequest) => Promise<Uint8Array>;

export const ATTEST_MAGIC = 0x4b414654; // "TFAK"
export const ATTEST_VERSION = 1;
/** The largest certificate a copy holds (wasm/firmware/attest.ts CERT_MAX). */
export const ATTEST_CERT_MAX = 2048;

function fromBase64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** A JWK number as exactly 256 big-endian bytes (RFC 7518 §6.3: unsigned big-endian, no leading zeros required). */
function number256(b64: string | undefined, what: string): Uint8Array {
  const v = fromBase64Url(b64 ?? '');
  if (v.length === 0 || v.length > 256) throw new Error(`the attestation key's ${what} is not a 2048-bit number`);
  const out = new Uint8Array(256);
  out.set(v, 256 - v.length);
  return out;
}

/** One copy: "TFAK" | version u16 | cert length u16 | n[256] | d[256] | cert | SHA-256 of all before it. */
export async function encodeAttestationCopy(n: Uint8Array, d: Uint8Array, cert: Uint8Array): Promise<Uint8Array> {
  if (n.length !== 256 || d.length !== 256) throw new RangeError(`"n", "d" expected 256 bytes each, got ${n.length} and ${d.length}`);
  if (cert.length === 0 || cert.length > ATTEST_CERT_MAX) throw new RangeError(`"cert" expected 1..${ATTEST_CERT_MAX} bytes, got ${cert.length}`);
  const body = new Uint8Array(8 + 512 + cert.length);
  const v = new DataView(body.buffer);
  v.setUint32(0, ATTEST_MAGIC, true);
  v.setUint16(4, ATTEST_VERSION, true);
  v.setUint16(6, cert.length, true);
  body.set(n, 8);
  body.set(d, 264);
  body.set(cert, 520);
  const out = new Uint8Array(body.length + 32);
  out.set(body);
  out.set(new Uint8Array(await crypto.subtle.digest('SHA-256', body)), body.length);
  return out;
}

/** Makes the NIC's key, has `issuer` certify it, and writes both copies. Returns the certificate. */
export async function provisionAttestation(flash: Flash, issuer: AttestationIssuer, identity: { serial: string; psid: string }): Promise<Uint8Array> {
  const pair = await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const cert = await issuer({ publicKey: pair.publicKey, serial: identity.serial, psid: identity.psid });
  const copy = await encodeAttestationCopy(number256(jwk.n, 'modulus'), number256(jwk.d, 'private exponent'), cert);
  for (const addr of [ATTEST_A, ATTEST_B]) {
    if (flash.erase(addr, SECTOR) !== FLASH_OK || flash.write(addr, copy) !== FLASH_OK) throw new Error(`manufacturing failed writing the attestation key at 0x${addr.toString(16)}`);
  }
  return cert;
}
