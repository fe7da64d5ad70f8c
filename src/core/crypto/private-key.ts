/**
 * Private keys from PEM, for signing (CLI and sample generation; the page never holds one).
 * PKCS#8 "PRIVATE KEY" (what openssl 3 writes by default) and PKCS#1 "RSA PRIVATE KEY" (openssl's
 * traditional form, wrapped into PKCS#8 here). Encrypted keys are refused with the command to fix it.
 */
import * as asn1js from 'asn1js';
import { checkKeyPolicy, describeKey, OID, parseSpki, sigAlgForKey, webCryptoAlg, type Result } from './keys.ts';
import { parsePem } from './pem.ts';
import { parseBer } from './der.ts';

export interface SigningKey {
  readonly privateKey: CryptoKey;
  readonly spki: Uint8Array;
  /** Image signature algorithm number (layout.ts SIG_ALG). */
  readonly alg: number;
  readonly description: string;
}

function wrapPkcs1(pkcs1: Uint8Array): Uint8Array {
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.rsaEncryption }), new asn1js.Null()] }),
      new asn1js.OctetString({ valueHex: pkcs1.slice().buffer }),
    ],
  });
  return new Uint8Array(info.toBER(false));
}

function pkcs8Oid(der: Uint8Array): { alg: string; curve?: string } | undefined {
  const seq = parseBer(der);
  if (!(seq instanceof asn1js.Sequence)) return undefined;
  const algId = seq.valueBlock.value[1];
  if (!(algId instanceof asn1js.Sequence)) return undefined;
  const [oid, param] = algId.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier)) return undefined;
  return { alg: oid.valueBlock.toString(), ...(param instanceof asn1js.ObjectIdentifier ? { curve: param.valueBlock.toString() } : {}) };
}

/** Imports a signing key from PEM text. Never throws; a key outside the policy is refused. */
export async function importSigningKey(pem: string): Promise<Result<SigningKey>> {
  const { blocks } = parsePem(pem);
  const block = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!block) return { ok: false, reason: 'no PRIVATE KEY block found in the key file' };
  if (block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(pem)) {
    return { ok: false, reason: 'the key is encrypted; decrypt it first: openssl pkey -in KEY.pem -out KEY-plain.pem' };
  }
  if (block.label === 'EC PRIVATE KEY') return { ok: false, reason: 'SEC1 EC keys are not read directly; convert: openssl pkcs8 -topk8 -nocrypt -in KEY.pem -out KEY-pkcs8.pem' };
  const pkcs8 = block.label === 'RSA PRIVATE KEY' ? wrapPkcs1(block.der) : block.label === 'PRIVATE KEY' ? block.der : undefined;
  if (!pkcs8) return { ok: false, reason: `"${block.label}" is not a supported private key type` };
  const oid = pkcs8Oid(pkcs8);
  if (!oid) return { ok: false, reason: 'the private key is not valid PKCS#8' };
  const importAlg =
    oid.alg === OID.rsaEncryption
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      : oid.alg === OID.ecPublicKey && oid.curve === OID.prime256v1
        ? { name: 'ECDSA', namedCurve: 'P-256' }
        : oid.alg === OID.ed25519
          ? { name: 'Ed25519' }
          : undefined;
  if (!importAlg) return { ok: false, reason: `private key algorithm ${oid.alg}${oid.curve ? ` (${oid.curve})` : ''} is not supported (RSA, ECDSA P-256, Ed25519)` };
  try {
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8 as Uint8Array<ArrayBuffer>, importAlg, true, ['sign']);
    const jwk = await crypto.subtle.exportKey('jwk', privateKey);
    const pubJwk: JsonWebKey = { kty: jwk.kty!, ...(jwk.n ? { n: jwk.n, e: jwk.e! } : {}), ...(jwk.crv ? { crv: jwk.crv } : {}), ...(jwk.x ? { x: jwk.x } : {}), ...(jwk.y ? { y: jwk.y } : {}) };
    const pub = await crypto.subtle.importKey('jwk', pubJwk, importAlg, true, ['verify']);
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pub));
    const info = parseSpki(spki);
    if (!info.ok) return info;
    const policy = checkKeyPolicy(info.value);
    if (!policy.ok) return { ok: false, reason: `signing key refused: ${policy.reason}` };
    const alg = sigAlgForKey(info.value);
    if (alg === undefined || !webCryptoAlg(alg)) return { ok: false, reason: `no image signature algorithm for ${describeKey(info.value)}` };
    return { ok: true, value: { privateKey, spki, alg, description: describeKey(info.value) } };
  } catch (e) {
    return { ok: false, reason: `the private key could not be imported: ${(e as Error).message}` };
  }
}
