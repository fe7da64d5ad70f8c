/**
 * Key and certificate generation for vendors (`trustflash keygen`): RSA-2048 keys (PKCS#8 PEM) and
 * X.509 v3 certificates for code signing — a self-signed root, an intermediate CA, or a signer
 * issued by a CA. Extensions follow RFC 5280 §4.2: basicConstraints (critical), keyUsage
 * (critical), extendedKeyUsage codeSigning, subject and authority key identifiers.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { EKU, parseCertificate, type Certificate } from './x509.ts';
import { sha256WebCrypto } from './sha256.ts';
import { toPem } from './pem.ts';

/** `device`: a NIC's attestation key, certified by a device CA (digitalSignature only, no EKU; issue #14). */
export type CertRole = 'root' | 'intermediate' | 'signer' | 'self-signed-signer' | 'device';

export interface CertRequest {
  readonly commonName: string;
  readonly organization?: string;
  readonly role: CertRole;
  readonly publicKey: CryptoKey;
  /** Issuer; absent for self-signed roles. */
  readonly issuer?: { certificate: Certificate; privateKey: CryptoKey };
  /** Self-signed roles sign with this key. */
  readonly privateKey?: CryptoKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly pathLen?: number;
  /** 16 random bytes unless given (tests and reproducible demo sets pass one). */
  readonly serial?: Uint8Array;
  /** More subject attributes after CN, as [OID, value] (a device certificate's OU = PSID, serialNumber). */
  readonly subjectExtra?: readonly (readonly [string, string])[];
}

export async function generateRsaKey(bits = 2048): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', key)));
}

const time = (d: Date) => new pkijs.Time({ type: d.getUTCFullYear() >= 2050 ? 1 : 0, value: d });

/** keyUsage as a DER named BIT STRING (trailing zero bits dropped, X.690 §11.2.2). */
function keyUsageBits(bits: number[]): asn1js.BitString {
  const max = Math.max(...bits);
  const bytes = new Uint8Array((max >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return new asn1js.BitString({ valueHex: bytes.buffer, unusedBits: 7 - (max & 7) });
}

function ext(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

/**
 * A Name with one attribute per RDN (O=…, CN=…), the usual shape. pkijs would put every attribute
 * into a single multi-valued RDN (one SET), so the Name is encoded here and parsed back.
 */
function distinguishedName(attrs: readonly (readonly [string, string])[]): pkijs.RelativeDistinguishedNames {
  const seq = new asn1js.Sequence({
    value: attrs.map(([type, value]) => new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] })),
  });
  return pkijs.RelativeDistinguishedNames.fromBER(seq.toBER(false));
}

export async function makeCertificate(req: CertRequest): Promise<Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = req.serial ?? crypto.getRandomValues(new Uint8Array(16));
  const s = serial.slice();
  s[0]! &= 0x7f; // positive
  if (s[0] === 0) s[0] = 1; // minimal DER
  cert.serialNumber = new asn1js.Integer({ valueHex: s.buffer });
  const name = distinguishedName([
    ...(req.organization ? [['2.5.4.10', req.organization] as const] : []),
    ['2.5.4.3', req.commonName] as const,
    ...(req.subjectExtra ?? []),
  ]);
  cert.subject = name;
  cert.issuer = req.issuer ? req.issuer.certificate.pki.subject : name;
  cert.notBefore = time(req.notBefore);
  cert.notAfter = time(req.notAfter);
  await cert.subjectPublicKeyInfo.importKey(req.publicKey);

  const spkiBits = new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  const ski = (await sha256WebCrypto(spkiBits)).slice(0, 20);
  const isCA = req.role === 'root' || req.role === 'intermediate' || req.role === 'self-signed-signer';
  const signs = req.role === 'signer' || req.role === 'self-signed-signer';
  const ku = [...(signs || isCA || req.role === 'device' ? [0] : []), ...(isCA ? [5, 6] : [])]; // digitalSignature, keyCertSign, cRLSign
  const extensions = [
    ext('2.5.29.19', true, new pkijs.BasicConstraints({ cA: isCA, ...(isCA && req.pathLen !== undefined ? { pathLenConstraint: req.pathLen } : {}) }).toSchema()),
    ext('2.5.29.15', true, keyUsageBits(ku)),
    ext('2.5.29.14', false, new asn1js.OctetString({ valueHex: ski.buffer })),
  ];
  if (signs) extensions.push(ext('2.5.29.37', false, new pkijs.ExtKeyUsage({ keyPurposes: [EKU.codeSigning] }).toSchema()));
  const issuerSki = req.issuer?.certificate.ski ?? ski;
  extensions.push(ext('2.5.29.35', false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: issuerSki.slice().buffer }) }).toSchema()));
  cert.extensions = extensions;

  const signingKey = req.issuer?.privateKey ?? req.privateKey;
  if (!signingKey) throw new TypeError('"privateKey" expected the key of a self-signed certificate, got undefined');
  await cert.sign(signingKey, 'SHA-256');
  const parsed = await parseCertificate(new Uint8Array(cert.toSchema(true).toBER(false)));
  if (!parsed.ok) throw new Error(`generated certificate does not parse: ${parsed.reason}`);
  return parsed.value;
}

export function certificatePem(c: Certificate): string {
  return toPem('CERTIFICATE', c.der);
}
