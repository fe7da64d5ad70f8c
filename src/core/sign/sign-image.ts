/** Producing signed images: manifest + payload + keys → image bytes (the vendor side). */
import { DIGEST_SIZE, FORMAT_V1, FORMAT_V2, FORMAT_VERSION, HASH_BLOCK_DEFAULT, LIMITS, SIG_ENTRY, type Manifest, type SigEntry } from '../image/layout.ts';
import { hashBlockCount } from '../image/hash-blocks.ts';
import { encodeSignedPart, writeImage } from '../image/write.ts';
import { describeFormatError, parseImage } from '../image/parse.ts';
import { createCms } from '../crypto/cms.ts';
import { keyIdOf } from '../crypto/keys.ts';
import type { SigningKey } from '../crypto/private-key.ts';
import { sha256Chunked, sha256Wasm } from '../crypto/sha256.ts';
import { signBytes } from '../crypto/signature.ts';
import type { Certificate } from '../crypto/x509.ts';

/** A manifest as an author writes it: everything but the payload fields, which signing fills in. */
export type ManifestDraft = Omit<Manifest, 'payloadSize' | 'payloadSha256' | 'hashBlockSize' | 'blockDigests'>;

/** The container to write: format v2 (a signed table of hash-block digests) unless v1 is asked for. */
export interface SignFormat {
  readonly format?: typeof FORMAT_V1 | typeof FORMAT_V2;
  /** v2 only: the hash-block size (a power of two, LIMITS.hashBlockMin..hashBlockMax); default 1 MiB. */
  readonly hashBlockSize?: number;
}

/**
 * The problem with a hash-block size for a payload, or undefined: the caller's mistake is a
 * RangeError in signImage, and a message the CLI prints as it is.
 */
export function hashBlockSizeProblem(blockSize: number, payloadSize: number): string | undefined {
  const { hashBlockMin: min, hashBlockMax: max, hashBlocksMax } = LIMITS;
  if (!Number.isInteger(blockSize) || blockSize < min || blockSize > max || (blockSize & (blockSize - 1)) !== 0) {
    return `"hashBlockSize" expected a power of two in ${min}..${max}, got ${blockSize}`;
  }
  const count = hashBlockCount(payloadSize, blockSize);
  if (count > hashBlocksMax) return `"hashBlockSize" ${blockSize} cuts the ${payloadSize}-byte payload into ${count} blocks, more than the ${hashBlocksMax} the table holds; use ${2 ** Math.ceil(Math.log2(payloadSize / hashBlocksMax))} or more`;
  return undefined;
}

/** SHA-256 of every hash block, concatenated: the v2 table (sequential; hash-wasm). */
export async function blockDigestsOf(payload: Uint8Array, blockSize: number): Promise<Uint8Array> {
  const count = hashBlockCount(payload.length, blockSize);
  const out = new Uint8Array(count * DIGEST_SIZE);
  for (let i = 0; i < count; i++) out.set(await sha256Wasm(payload.subarray(i * blockSize, (i + 1) * blockSize)), i * DIGEST_SIZE);
  return out;
}

export interface Signer {
  readonly key: SigningKey;
  /** The signer's certificate and intermediates (leaf first), carried in the image; empty for a bare trusted key. */
  readonly chain?: readonly Certificate[];
  /** Sign as a CMS SignedData entry instead of a raw signature entry. */
  readonly cms?: boolean;
  readonly signingTime?: Date;
}

export async function completeManifest(draft: ManifestDraft, payload: Uint8Array, how: SignFormat = {}): Promise<Manifest> {
  // tag 10 (`sequence`) is reserved: read in older images, never written (issue #10, S4)
  const { sequence: _reserved, ...rest } = draft;
  void _reserved;
  const format = how.format ?? FORMAT_VERSION;
  if (format === FORMAT_V1) {
    if (how.hashBlockSize !== undefined) throw new TypeError(`"hashBlockSize" expected no value for format v1, got ${how.hashBlockSize}`);
    return { ...rest, payloadSize: payload.length, payloadSha256: await sha256Chunked(payload) };
  }
  if (format !== FORMAT_V2) throw new RangeError(`"format" expected 1 or 2, got ${String(format)}`);
  const blockSize = how.hashBlockSize ?? HASH_BLOCK_DEFAULT;
  const problem = hashBlockSizeProblem(blockSize, payload.length);
  if (problem) throw new RangeError(problem);
  return { ...rest, payloadSize: payload.length, hashBlockSize: blockSize, blockDigests: await blockDigestsOf(payload, blockSize) };
}

/** Signs header || manifest with each signer; certificates follow the signatures they support. */
export async function signImage(draft: ManifestDraft, payload: Uint8Array, signers: readonly Signer[], how: SignFormat = {}): Promise<Uint8Array> {
  const manifest = await completeManifest(draft, payload, how);
  const signed = encodeSignedPart(manifest);
  const entries: SigEntry[] = [];
  const certs: SigEntry[] = [];
  for (const s of signers) {
    if (s.cms) {
      const [leaf, ...rest] = s.chain ?? [];
      if (!leaf) throw new TypeError('"signer.chain" expected the signer certificate for a CMS signature, got none');
      entries.push({ type: SIG_ENTRY.CMS, der: await createCms({ content: signed, privateKey: s.key.privateKey, signer: leaf, chain: rest, ...(s.signingTime ? { signingTime: s.signingTime } : {}) }) });
      continue;
    }
    entries.push({ type: SIG_ENTRY.SIGNATURE, alg: s.key.alg, keyId: await keyIdOf(s.key.spki), signature: await signBytes(s.key.alg, s.key.privateKey, signed) });
    for (const c of s.chain ?? []) if (!certs.some((e) => e.type === SIG_ENTRY.CERTIFICATE && e.der === c.der)) certs.push({ type: SIG_ENTRY.CERTIFICATE, der: c.der });
  }
  const image = writeImage({ signed, entries: [...entries, ...certs], payload });
  // never hand out an image our own parser would refuse
  const check = parseImage(image);
  if (!check.ok) throw new RangeError(`the signed image does not parse: ${describeFormatError(check.error)}`);
  return image;
}
