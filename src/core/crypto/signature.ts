/**
 * Signature verification through WebCrypto only: no DigestInfo parsing in JavaScript, the hash
 * pinned by the algorithm number, the key held to the policy in keys.ts first. A bad signature is
 * an answer ({ ok: false, reason }), never an exception.
 */
import * as asn1js from 'asn1js';
import { parseDer } from './der.ts';
import { toHex } from '../bytes/hex.ts';
import { SIG_ALG, SIG_ALG_NAMES } from '../image/layout.ts';
import { checkKeyPolicy, describeKey, parseSpki, sigAlgForKey, webCryptoAlg, type KeyInfo, type Result } from './keys.ts';

const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

/**
 * Imported verify keys, by algorithm and SPKI bytes. importKey costs far more than verify, and the
 * same few vendor keys verify every image, block and certificate. Bounded, least recently used.
 */
const keyCache = new Map<string, CryptoKey>();
const KEY_CACHE_MAX = 64;

export async function importVerifyKey(spki: Uint8Array, params: Parameters<SubtleCrypto['importKey']>[2]): Promise<CryptoKey> {
  const id = `${JSON.stringify(params)}:${toHex(spki)}`;
  const hit = keyCache.get(id);
  if (hit) {
    keyCache.delete(id);
    keyCache.set(id, hit);
    return hit;
  }
  const key = await crypto.subtle.importKey('spki', buf(spki), params, false, ['verify']);
  keyCache.set(id, key);
  if (keyCache.size > KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  return key;
}

/** Verifies `signature` over `data` with the SPKI key, for image signature algorithm `alg`. Never throws. */
export async function verifySignature(alg: number, spki: Uint8Array, signature: Uint8Array, data: Uint8Array): Promise<Result<KeyInfo>> {
  const parsed = parseSpki(spki);
  if (!parsed.ok) return parsed;
  const policy = checkKeyPolicy(parsed.value);
  if (!policy.ok) return policy;
  const expectedAlg = sigAlgForKey(parsed.value);
  if (expectedAlg !== alg) {
    return { ok: false, reason: `signature algorithm ${SIG_ALG_NAMES[alg] ?? alg} does not match the ${describeKey(parsed.value)} key` };
  }
  const params = webCryptoAlg(alg)!;
  if (alg === SIG_ALG.RSA_PKCS1_SHA256 && parsed.value.kind === 'rsa' && signature.length !== parsed.value.bits / 8) {
    return { ok: false, reason: `RSA signature is ${signature.length} bytes; a ${parsed.value.bits}-bit key makes ${parsed.value.bits / 8}` };
  }
  try {
    const key = await importVerifyKey(spki, params.import);
    const ok = await crypto.subtle.verify(params.sign, key, buf(signature), buf(data));
    return ok ? { ok: true, value: parsed.value } : { ok: false, reason: 'signature does not match the signed bytes' };
  } catch (e) {
    return { ok: false, reason: `the platform could not check this signature: ${(e as Error).message}` };
  }
}

/** Signs `data` with a WebCrypto private key (already imported for `alg`). ECDSA yields raw r||s. */
export async function signBytes(alg: number, privateKey: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  const params = webCryptoAlg(alg);
  if (!params) throw new RangeError(`"alg" expected a known signature algorithm, got ${alg}`);
  return new Uint8Array(await crypto.subtle.sign(params.sign, privateKey, buf(data)));
}

/**
 * Converts an ECDSA signature from DER (SEQUENCE { r INTEGER, s INTEGER }, what openssl writes) to
 * the fixed-width r||s that WebCrypto verifies (IEEE P1363). Strict: minimal DER integers only.
 */
export function ecdsaDerToRaw(der: Uint8Array, size = 32): Uint8Array | undefined {
  const seq = parseDer(der);
  if (!(seq instanceof asn1js.Sequence) || seq.valueBlock.value.length !== 2) return undefined;
  const out = new Uint8Array(size * 2);
  for (const [i, v] of seq.valueBlock.value.entries()) {
    if (!(v instanceof asn1js.Integer)) return undefined;
    let b = new Uint8Array(v.valueBlock.valueHexView);
    if (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) return undefined; // non-minimal
    if (b[0]! & 0x80) return undefined; // negative
    if (b[0] === 0) b = b.subarray(1);
    if (b.length > size) return undefined;
    out.set(b, i * size + size - b.length);
  }
  return out;
}

export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    return new asn1js.Integer({ valueHex: buf((v[0]! & 0x80 ? Uint8Array.of(0, ...v) : v.slice())).buffer });
  };
  return new Uint8Array(new asn1js.Sequence({ value: [int(raw.subarray(0, half)), int(raw.subarray(half))] }).toBER(false));
}
