/**
 * The signature of an X.509 signed object (RFC 5280 §4.1.1.2, §5.1.1.2): a certificate or a CRL is
 * `SEQUENCE { tbs, signatureAlgorithm, signatureValue }`, and both are checked the same way here:
 * the algorithm allow-list (no SHA-1/MD5/DSA), inner == outer AlgorithmIdentifier, the parameters
 * RFC 4055 / RFC 5758 require, the issuer's key policy and key type, and WebCrypto's verify over the
 * exact tbs bytes.
 */
import * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { checkKeyPolicy, describeKey, type KeyInfo, type Result } from './keys.ts';
import { ecdsaDerToRaw, importVerifyKey } from './signature.ts';

const SIG_ALGS: Record<string, { name: 'RSASSA-PKCS1-v1_5' | 'ECDSA' | 'Ed25519'; hash?: string }> = {
  '1.2.840.113549.1.1.11': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  '1.2.840.10045.4.3.2': { name: 'ECDSA', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ECDSA', hash: 'SHA-384' },
  '1.3.101.112': { name: 'Ed25519' },
};
const SIG_ALG_LABEL: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-SHA256',
};

/** What is signed, as pkijs parses a Certificate or a CertificateRevocationList. */
export interface SignedObject {
  /** How messages name it: `certificate "CN=…"`, `the CRL of "CN=…"`. */
  readonly what: string;
  readonly signatureAlgorithm: pkijs.AlgorithmIdentifier;
  /** True when the tbs part's `signature` field equals `signatureAlgorithm` byte for byte. */
  readonly sigAlgConsistent: boolean;
  readonly signatureValue: asn1js.BitString;
  readonly tbs: Uint8Array;
}

/** The key that should have made the signature. */
export interface SigningParty {
  readonly subject: string;
  readonly spki: Uint8Array;
  readonly key: KeyInfo;
}

/** Checks that `issuer`'s key signed `obj`. Never throws. */
export async function verifySignedBy(obj: SignedObject, issuer: SigningParty): Promise<Result<true>> {
  const oid = obj.signatureAlgorithm.algorithmId;
  const alg = SIG_ALGS[oid];
  if (!alg) return { ok: false, reason: `${obj.what} is signed with ${SIG_ALG_LABEL[oid] ?? oid}, which the policy does not allow` };
  if (!obj.sigAlgConsistent) return { ok: false, reason: `${obj.what} names two different signature algorithms` };
  const params = obj.signatureAlgorithm.algorithmParams as unknown;
  // RFC 4055 §5: RSA parameters are NULL, and verifiers must accept them absent too; RFC 5758 §3.2: ECDSA has none.
  if (alg.name === 'RSASSA-PKCS1-v1_5' ? !(params === undefined || params instanceof asn1js.Null) : params !== undefined) {
    return { ok: false, reason: `${obj.what} has malformed signature algorithm parameters` };
  }
  const policy = checkKeyPolicy(issuer.key);
  if (!policy.ok) return { ok: false, reason: `issuer "${issuer.subject}": ${policy.reason}` };
  const k = issuer.key;
  const matches =
    (alg.name === 'RSASSA-PKCS1-v1_5' && k.kind === 'rsa') || (alg.name === 'ECDSA' && k.kind === 'ec') || (alg.name === 'Ed25519' && k.kind === 'ed25519');
  if (!matches) return { ok: false, reason: `${obj.what} is signed with ${oid} but its issuer has a ${describeKey(k)} key` };
  let sig: Uint8Array = new Uint8Array(obj.signatureValue.valueBlock.valueHexView);
  if (obj.signatureValue.valueBlock.unusedBits !== 0) return { ok: false, reason: `${obj.what} signature has unused bits` };
  const size = k.kind === 'ec' ? (k.curve === 'P-384' ? 48 : 32) : 0;
  if (alg.name === 'ECDSA') {
    const raw = ecdsaDerToRaw(sig, size);
    if (!raw) return { ok: false, reason: `${obj.what} has a malformed ECDSA signature` };
    sig = raw;
  }
  try {
    const importAlg =
      alg.name === 'RSASSA-PKCS1-v1_5'
        ? { name: alg.name, hash: alg.hash! }
        : alg.name === 'ECDSA'
          ? { name: 'ECDSA', namedCurve: (k as { curve: string }).curve }
          : { name: 'Ed25519' };
    const key = await importVerifyKey(issuer.spki, importAlg);
    const verifyAlg = alg.name === 'ECDSA' ? { name: 'ECDSA', hash: alg.hash! } : { name: alg.name };
    const ok = await crypto.subtle.verify(verifyAlg, key, sig as Uint8Array<ArrayBuffer>, obj.tbs as Uint8Array<ArrayBuffer>);
    return ok ? { ok: true, value: true } : { ok: false, reason: `${obj.what} was not signed by "${issuer.subject}" (signature does not verify)` };
  } catch (e) {
    return { ok: false, reason: `${obj.what}: signature could not be checked (${(e as Error).message})` };
  }
}
