/**
 * Signing without the key on disk (issue #14): a release engineer whose key lives in an HSM or a
 * cloud KMS prepares exactly the bytes every signature covers — header ‖ manifest, the signed head
 * of docs/image-format.md — signs them there, and attaches the signature. Prepare is a pure
 * function of the manifest, the payload and the format, so prepare and attach run with the same
 * inputs rebuild the same head; and RSASSA-PKCS1-v1_5 is deterministic, so the image is byte for
 * byte the one `trustflash sign --key` makes. An attached signature is checked against the given
 * certificate or public key before an image exists; a refusal says which of the usual mistakes it
 * is (another file signed, a cut-off signature, another key).
 */
import * as asn1js from 'asn1js';
import { SIG_ALG, SIG_ALG_NAMES, SIG_ENTRY, type Manifest, type SigEntry } from '../image/layout.ts';
import { encodeSignedPart, writeImage } from '../image/write.ts';
import { describeFormatError, parseImage } from '../image/parse.ts';
import { checkKeyPolicy, describeKey, keyIdOf, parseSpki, sigAlgForKey } from '../crypto/keys.ts';
import { sha256WebCrypto } from '../crypto/sha256.ts';
import { ecdsaDerToRaw, verifySignature } from '../crypto/signature.ts';
import { verifyCms } from '../crypto/cms.ts';
import { parseDer } from '../crypto/der.ts';
import type { Certificate } from '../crypto/x509.ts';
import { equalBytes, toHex } from '../bytes/hex.ts';
import type { Result } from '../bytes/result.ts';
import { completeManifest, type ManifestDraft, type SignFormat } from './sign-image.ts';

/** The signed head to hand to a signer elsewhere, and its SHA-256 (what `openssl pkeyutl -pkeyopt digest:sha256` signs). */
export interface PreparedHead {
  readonly manifest: Manifest;
  /** header ‖ manifest: exactly the bytes every signature covers. */
  readonly signed: Uint8Array;
  readonly digest: Uint8Array;
}

/** The bytes to sign for this manifest, payload and format: the same inputs give the same bytes. */
export async function prepareHead(draft: ManifestDraft, payload: Uint8Array, how: SignFormat = {}): Promise<PreparedHead> {
  const manifest = await completeManifest(draft, payload, how);
  const signed = encodeSignedPart(manifest);
  return { manifest, signed, digest: await sha256WebCrypto(signed) };
}

/** The signature made elsewhere, and what it is checked against. */
export type ExternalSignature =
  /** Raw bytes: RSASSA-PKCS1-v1_5 (openssl pkeyutl / dgst -sign), ECDSA P-256 (DER or r‖s), Ed25519. */
  | { readonly kind: 'raw'; readonly signature: Uint8Array; readonly spki: Uint8Array; readonly chain?: readonly Certificate[] }
  /** A DER CMS SignedData, detached, over the head (openssl cms -sign -binary -outform DER); its signer is chain[0]. */
  | { readonly kind: 'cms'; readonly der: Uint8Array; readonly chain: readonly Certificate[] };

export const SIGNED_ELSEWHERE_HINT = 'sign the file --prepare wrote (or its .sha256 digest with openssl pkeyutl -pkeyopt digest:sha256) with the same --manifest, --payload, --format and --block-size';

/**
 * The image from a prepared head and a signature made elsewhere, or why not. The signature must
 * verify over `head.signed` with the given key before any image is built.
 */
export async function attachSignature(head: PreparedHead, payload: Uint8Array, sig: ExternalSignature): Promise<Result<Uint8Array>> {
  const entries: SigEntry[] = [];
  if (sig.kind === 'cms') {
    const [leaf, ...rest] = sig.chain;
    if (!leaf) return { ok: false, reason: 'a CMS signature needs the signer certificate (--cert)' };
    // the signer's certificate is the anchor here: this checks the signature and its signer, not the PKI (verify does that)
    const r = await verifyCms(sig.der, { content: head.signed, anchors: [leaf], extraCerts: rest, chain: { time: new Date() }, requireDetached: true });
    if (!r.ok) return { ok: false, reason: `the CMS signature is refused: ${r.reason}${r.kind === 'signature' || r.kind === 'content' ? ` (${SIGNED_ELSEWHERE_HINT})` : ''}` };
    if (!r.signers.some((s) => equalBytes(s.certificate.der, leaf.der))) return { ok: false, reason: `the CMS signature is not by the --cert signer "${leaf.subject}"` };
    entries.push({ type: SIG_ENTRY.CMS, der: sig.der.slice() });
  } else {
    const raw = await checkRaw(head, sig.signature, sig.spki);
    if (!raw.ok) return raw;
    entries.push({ type: SIG_ENTRY.SIGNATURE, alg: raw.value.alg, keyId: await keyIdOf(sig.spki), signature: raw.value.signature });
    // certificates follow the signature they support, as signImage writes them
    for (const c of sig.chain ?? []) entries.push({ type: SIG_ENTRY.CERTIFICATE, der: c.der });
  }
  const image = writeImage({ signed: head.signed, entries, payload });
  const check = parseImage(image);
  if (!check.ok) return { ok: false, reason: `the image does not parse: ${describeFormatError(check.error)}` };
  return { ok: true, value: image };
}

async function checkRaw(head: PreparedHead, given: Uint8Array, spki: Uint8Array): Promise<Result<{ alg: number; signature: Uint8Array }>> {
  const key = parseSpki(spki);
  if (!key.ok) return key;
  const policy = checkKeyPolicy(key.value);
  if (!policy.ok) return { ok: false, reason: `the signer's key is refused: ${policy.reason}` };
  const alg = sigAlgForKey(key.value);
  if (alg === undefined) return { ok: false, reason: `no image signature algorithm for a ${describeKey(key.value)} key` };
  let signature = given;
  if (given.length === 0) return { ok: false, reason: 'the signature file is empty' };
  if (key.value.kind === 'rsa') {
    const want = key.value.bits / 8;
    if (given.length !== want) {
      return { ok: false, reason: `the signature is ${given.length} bytes; an RSA-${key.value.bits} signature is exactly ${want}${given.length < want ? ' (truncated?)' : ''}: is it the raw output of openssl pkeyutl -sign or openssl dgst -sha256 -sign, not base64 or a CMS?` };
    }
  } else if (alg === SIG_ALG.ECDSA_P256_SHA256) {
    // openssl writes DER; a KMS may give r‖s (64 bytes)
    const r = ecdsaDerToRaw(given);
    if (r) signature = r;
    else if (given.length !== 64) return { ok: false, reason: `the ECDSA signature is neither DER nor 64-byte r‖s (${given.length} bytes: truncated?)` };
  }
  const v = await verifySignature(alg, spki, signature, head.signed);
  if (v.ok) return { ok: true, value: { alg, signature: signature.slice() } };
  if (key.value.kind === 'rsa') return { ok: false, reason: rsaMismatch(spki, key.value.exponent, given, head.digest) };
  return { ok: false, reason: `the ${SIG_ALG_NAMES[alg] ?? 'signature'} does not verify over the prepared bytes with this key: it was made over other bytes or with another key (${SIGNED_ELSEWHERE_HINT})` };
}

/**
 * Why an RSA PKCS#1 v1.5 signature failed: opened with the public key (s^e mod n, RFC 8017 §8.2.2),
 * a well-formed EMSA-PKCS1-v1_5 block means this key signed *some* SHA-256 digest — other bytes;
 * anything else means another key signed it (or it is not an RSA signature at all). The
 * exponentiation uses only public values.
 */
function rsaMismatch(spki: Uint8Array, e: bigint, sig: Uint8Array, digest: Uint8Array): string {
  const n = rsaModulus(spki);
  if (n !== undefined) {
    const em = modPow(toBig(sig), e, n);
    const emBytes = fromBig(em, sig.length);
    const signedDigest = pkcs1Sha256Digest(emBytes);
    if (signedDigest) {
      return `the signature is by this key but over other bytes: it signs SHA-256 ${toHex(signedDigest)}, the prepared bytes' digest is ${toHex(digest)} (${SIGNED_ELSEWHERE_HINT})`;
    }
  }
  return `the signature was not made with this key (--cert/--pubkey): opened with it, it is no PKCS#1 v1.5 signature; sign with the private key of that certificate, or give the certificate of the key that signed`;
}

/** DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1). */
const SHA256_PREFIX = Uint8Array.from([0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]);

/** The SHA-256 digest inside EM = 00 01 FF…FF 00 DigestInfo, or undefined. */
function pkcs1Sha256Digest(em: Uint8Array): Uint8Array | undefined {
  const tail = SHA256_PREFIX.length + 32;
  if (em.length < tail + 11 || em[0] !== 0 || em[1] !== 1) return undefined;
  const sep = em.length - tail - 1;
  for (let i = 2; i < sep; i++) if (em[i] !== 0xff) return undefined;
  if (em[sep] !== 0 || !equalBytes(em.subarray(sep + 1, sep + 1 + SHA256_PREFIX.length), SHA256_PREFIX)) return undefined;
  return em.subarray(em.length - 32);
}

function rsaModulus(spki: Uint8Array): bigint | undefined {
  const root = parseDer(spki);
  const bits = root instanceof asn1js.Sequence ? root.valueBlock.value[1] : undefined;
  if (!(bits instanceof asn1js.BitString)) return undefined;
  const inner = parseDer(new Uint8Array(bits.valueBlock.valueHexView));
  const n = inner instanceof asn1js.Sequence ? inner.valueBlock.value[0] : undefined;
  return n instanceof asn1js.Integer ? toBig(new Uint8Array(n.valueBlock.valueHexView)) : undefined;
}

const toBig = (b: Uint8Array) => (b.length ? BigInt(`0x${toHex(b)}`) : 0n);
function fromBig(x: bigint, len: number): Uint8Array {
  const hex = x.toString(16).padStart(len * 2, '0');
  if (hex.length > len * 2) return new Uint8Array(len);
  return Uint8Array.from({ length: len }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}
function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
