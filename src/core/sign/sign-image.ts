/** Producing signed images: manifest + payload + keys → image bytes (the vendor side). */
import { SIG_ENTRY, type Manifest, type SigEntry } from '../image/layout.ts';
import { encodeSignedPart, writeImage } from '../image/write.ts';
import { describeFormatError, parseImage } from '../image/parse.ts';
import { createCms } from '../crypto/cms.ts';
import { keyIdOf } from '../crypto/keys.ts';
import type { SigningKey } from '../crypto/private-key.ts';
import { sha256Chunked } from '../crypto/sha256.ts';
import { signBytes } from '../crypto/signature.ts';
import type { Certificate } from '../crypto/x509.ts';

/** A manifest as an author writes it: everything but the payload fields, which signing fills in. */
export type ManifestDraft = Omit<Manifest, 'payloadSize' | 'payloadSha256'>;

export interface Signer {
  readonly key: SigningKey;
  /** The signer's certificate and intermediates (leaf first), carried in the image; empty for a bare trusted key. */
  readonly chain?: readonly Certificate[];
  /** Sign as a CMS SignedData entry instead of a raw signature entry. */
  readonly cms?: boolean;
  readonly signingTime?: Date;
}

export async function completeManifest(draft: ManifestDraft, payload: Uint8Array): Promise<Manifest> {
  // tag 10 (`sequence`) is reserved: read in older images, never written (issue #10, S4)
  const { sequence: _reserved, ...rest } = draft;
  void _reserved;
  return { ...rest, payloadSize: payload.length, payloadSha256: await sha256Chunked(payload) };
}

/** Signs header || manifest with each signer; certificates follow the signatures they support. */
export async function signImage(draft: ManifestDraft, payload: Uint8Array, signers: readonly Signer[]): Promise<Uint8Array> {
  const manifest = await completeManifest(draft, payload);
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
