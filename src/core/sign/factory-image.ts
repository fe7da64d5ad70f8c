/**
 * A factory image that makes an emulated NIC trust the operator's own keys. A NIC checks each update
 * with the keys its running image embeds (`nextKeys`); a factory image is trusted by definition
 * (that is what manufacturing means), so manufacturing a NIC with an image whose `nextKeys` are
 * the operator's keys is how a lab gets a NIC that accepts the operator's releases and nothing
 * signed by the demo keys. The image keeps the given factory image's payload, identity binding and
 * version; it is signed with a throwaway key made here and discarded (the NIC never checks its
 * factory image's signature, and no demo key is involved).
 */
import { describeFormatError, parseImage } from '../image/parse.ts';
import { parsePem } from '../crypto/pem.ts';
import { parseCertificate } from '../crypto/x509.ts';
import { describeKey, parseSpki } from '../crypto/keys.ts';
import { algorithmsText, keyAlgorithmBit } from '../verify/next-keys.ts';
import { FAMILY_ALGORITHMS } from '../verify/algorithms.ts';
import { importSigningKey } from '../crypto/private-key.ts';
import { generateRsaKey, privateKeyPem } from '../crypto/keygen.ts';
import { signImage } from './sign-image.ts';
import type { Failed } from '../bytes/result.ts';

export type FactoryResult = { ok: true; image: Uint8Array } | Failed;

/** Can this NIC family verify updates signed with the key (SPKI DER)? The rule of src/core/verify/next-keys.ts. */
export function nicCanVerify(spki: Uint8Array): { ok: true } | Failed {
  const k = parseSpki(spki);
  if (!k.ok) return k;
  if ((keyAlgorithmBit(spki) & FAMILY_ALGORITHMS) !== 0) return { ok: true };
  return { ok: false, reason: `the NIC verifies ${algorithmsText(FAMILY_ALGORITHMS)} keys only; this is ${describeKey(k.value)}` };
}

/** `base` (a factory image) with `nextKeys` replaced by `keys` (SPKI DER), re-signed by a throwaway key. */
export async function factoryImageTrusting(base: Uint8Array, keys: readonly Uint8Array[]): Promise<FactoryResult> {
  if (keys.length === 0) return { ok: false, reason: 'no key to trust was given' };
  if (keys.length > 8) return { ok: false, reason: `${keys.length} keys given; an image embeds at most 8` };
  for (const [i, k] of keys.entries()) {
    const v = nicCanVerify(k);
    if (!v.ok) return { ok: false, reason: `key ${i + 1}: ${v.reason}` };
  }
  const parsed = parseImage(base);
  if (!parsed.ok) return { ok: false, reason: `the factory image does not parse: ${describeFormatError(parsed.error)}` };
  const { payloadSize: _size, payloadSha256: _digest, hashBlockSize, blockDigests: _table, ...draft } = parsed.value.manifest;
  const throwaway = await generateRsaKey(2048);
  const key = await importSigningKey(await privateKeyPem(throwaway.privateKey));
  if (!key.ok) return { ok: false, reason: key.reason };
  // the same container as the base: a v1 factory image stays v1, a v2 one keeps its hash-block size
  const how = parsed.value.formatVersion === 1 ? { format: 1 as const } : { format: 2 as const, ...(hashBlockSize !== undefined ? { hashBlockSize } : {}) };
  const image = await signImage({ ...draft, nextKeys: keys.map((k) => k.slice()) }, parsed.value.payload, [{ key: key.value }], how);
  return { ok: true, image };
}

/**
 * The same from PEM texts as an operator hands them over (the CLI's --trust-key files, the page's
 * "Add emulated NIC trusting my key"): a PUBLIC KEY block, or a CERTIFICATE whose key is taken.
 * A source with neither is an error naming it.
 */
export async function factoryImageTrustingPems(base: Uint8Array, sources: readonly { name: string; text: string }[]): Promise<FactoryResult> {
  const keys: Uint8Array[] = [];
  for (const { name, text } of sources) {
    const blocks = parsePem(text).blocks;
    const pub = blocks.find((b) => b.label === 'PUBLIC KEY');
    const cert = blocks.find((b) => b.label === 'CERTIFICATE');
    if (pub) keys.push(pub.der);
    else if (cert) {
      const c = await parseCertificate(cert.der);
      if (!c.ok) return { ok: false, reason: `${name}: ${c.reason}` };
      keys.push(c.value.spki);
    } else return { ok: false, reason: `${name}: no PUBLIC KEY or CERTIFICATE in it (openssl pkey -in KEY.pem -pubout -out KEY.pub makes one)` };
  }
  return factoryImageTrusting(base, keys);
}
