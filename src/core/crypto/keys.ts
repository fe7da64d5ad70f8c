/**
 * Public keys: SubjectPublicKeyInfo parsing, the key policy, key ids, WebCrypto import.
 *
 * The policy is where PKCS#1 v1.5 forgeries die before any signature math: RSA keys must have
 * e = 65537 and a modulus of exactly 2048, 3072 or 4096 bits (Bleichenbacher 2006 needs e = 3;
 * secure-update-frameworks §7.1). The hash is pinned by the policy, never taken from a signature.
 */
import * as asn1js from 'asn1js';
import { toHex } from '../bytes/hex.ts';
import { parseDer } from './der.ts';
import { memoByBytes } from '../bytes/memo.ts';
import { sha256WebCrypto } from './sha256.ts';
import { SIG_ALG } from '../image/layout.ts';

export const OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  ed25519: '1.3.101.112',
} as const;

export type KeyInfo =
  | { kind: 'rsa'; bits: number; exponent: bigint }
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | string }
  | { kind: 'ed25519' }
  | { kind: 'other'; oid: string };

import type { Result } from '../bytes/result.ts';
export type { Result };

function intBytes(i: asn1js.Integer): Uint8Array {
  return new Uint8Array(i.valueBlock.valueHexView);
}

function bitLength(be: Uint8Array): number {
  let i = 0;
  while (i < be.length && be[i] === 0) i++;
  if (i === be.length) return 0;
  return (be.length - i - 1) * 8 + (32 - Math.clz32(be[i]!));
}

/** Parses SPKI DER strictly. Never throws. */
export const parseSpki: (der: Uint8Array) => Result<KeyInfo> = memoByBytes(parseSpkiUncached);

function parseSpkiUncached(der: Uint8Array): Result<KeyInfo> {
  const root = parseDer(der);
  if (!(root instanceof asn1js.Sequence) || root.valueBlock.value.length !== 2) return { ok: false, reason: 'public key is not a DER SubjectPublicKeyInfo' };
  const [alg, bits] = root.valueBlock.value;
  if (!(alg instanceof asn1js.Sequence) || !(bits instanceof asn1js.BitString)) return { ok: false, reason: 'public key is not a DER SubjectPublicKeyInfo' };
  const oid = alg.valueBlock.value[0];
  if (!(oid instanceof asn1js.ObjectIdentifier)) return { ok: false, reason: 'public key algorithm is missing' };
  const algOid = oid.valueBlock.toString();
  const params = alg.valueBlock.value[1];
  if (bits.valueBlock.unusedBits !== 0) return { ok: false, reason: 'public key bit string has unused bits' };
  const keyBytes = new Uint8Array(bits.valueBlock.valueHexView);
  if (algOid === OID.rsaEncryption) {
    if (!(params instanceof asn1js.Null) || alg.valueBlock.value.length !== 2) return { ok: false, reason: 'RSA key parameters must be NULL' };
    const inner = parseDer(keyBytes);
    if (!(inner instanceof asn1js.Sequence) || inner.valueBlock.value.length !== 2) return { ok: false, reason: 'RSA public key is malformed' };
    const [n, e] = inner.valueBlock.value;
    if (!(n instanceof asn1js.Integer) || !(e instanceof asn1js.Integer)) return { ok: false, reason: 'RSA public key is malformed' };
    const nb = intBytes(n);
    const eb = intBytes(e);
    if ((nb[0]! & 0x80) !== 0 || (eb[0]! & 0x80) !== 0) return { ok: false, reason: 'RSA public key has a negative modulus or exponent' };
    return { ok: true, value: { kind: 'rsa', bits: bitLength(nb), exponent: BigInt('0x' + (toHex(eb) || '0')) } };
  }
  if (algOid === OID.ecPublicKey) {
    if (!(params instanceof asn1js.ObjectIdentifier)) return { ok: false, reason: 'EC key must name its curve' };
    const curveOid = params.valueBlock.toString();
    const curve = curveOid === OID.prime256v1 ? 'P-256' : curveOid === OID.secp384r1 ? 'P-384' : curveOid;
    return { ok: true, value: { kind: 'ec', curve } };
  }
  if (algOid === OID.ed25519) {
    if (alg.valueBlock.value.length !== 1 || keyBytes.length !== 32) return { ok: false, reason: 'Ed25519 key is malformed' };
    return { ok: true, value: { kind: 'ed25519' } };
  }
  return { ok: true, value: { kind: 'other', oid: algOid } };
}

export function describeKey(k: KeyInfo): string {
  switch (k.kind) {
    case 'rsa':
      return `RSA-${k.bits} (e = ${k.exponent})`;
    case 'ec':
      return `ECDSA ${k.curve}`;
    case 'ed25519':
      return 'Ed25519';
    default:
      return `unsupported key algorithm ${k.oid}`;
  }
}

export const RSA_SIZES = [2048, 3072, 4096] as const;

/** The key policy every signing key and every certificate key in a chain must meet. */
export function checkKeyPolicy(k: KeyInfo): Result<KeyInfo> {
  switch (k.kind) {
    case 'rsa':
      if (k.exponent !== 65537n) return { ok: false, reason: `RSA public exponent is ${k.exponent}; the policy requires 65537` };
      if (!(RSA_SIZES as readonly number[]).includes(k.bits)) return { ok: false, reason: `RSA modulus is ${k.bits} bits; the policy allows ${RSA_SIZES.join(', ')}` };
      return { ok: true, value: k };
    case 'ec':
      if (k.curve !== 'P-256' && k.curve !== 'P-384') return { ok: false, reason: `EC curve ${k.curve} is not allowed (P-256, P-384)` };
      return { ok: true, value: k };
    case 'ed25519':
      return { ok: true, value: k };
    default:
      return { ok: false, reason: describeKey(k) };
  }
}

/** Key id = SHA-256 of the SubjectPublicKeyInfo DER (docs/image-format.md). */
export async function keyIdOf(spki: Uint8Array): Promise<Uint8Array> {
  return sha256WebCrypto(spki);
}

/** Which image signature algorithm a key is used with. */
export function sigAlgForKey(k: KeyInfo): number | undefined {
  if (k.kind === 'rsa') return SIG_ALG.RSA_PKCS1_SHA256;
  if (k.kind === 'ec' && k.curve === 'P-256') return SIG_ALG.ECDSA_P256_SHA256;
  if (k.kind === 'ed25519') return SIG_ALG.ED25519;
  return undefined;
}

/** WebCrypto algorithm parameters for verifying/signing with an image signature algorithm. */
export function webCryptoAlg(alg: number): { import: RsaHashedImportParams | EcKeyImportParams | Algorithm; sign: AlgorithmIdentifier | EcdsaParams } | undefined {
  switch (alg) {
    case SIG_ALG.RSA_PKCS1_SHA256:
      return { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
    case SIG_ALG.ECDSA_P256_SHA256:
      return { import: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
    case SIG_ALG.ED25519:
      return { import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
    default:
      return undefined;
  }
}
