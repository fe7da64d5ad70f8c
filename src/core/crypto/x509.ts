/**
 * X.509 certificates and certification paths for code signing.
 *
 * pkijs parses; the path is built and checked here, because pkijs's CertificateChainValidationEngine
 * enforces neither pathLenConstraint nor extendedKeyUsage and searches paths without a bound
 * (x509-limbo pathological::* cases). What is checked (RFC 5280 §6.1, the subset code signing needs):
 * strict DER; signature algorithm allow-list (no SHA-1/MD5) and inner == outer AlgorithmIdentifier;
 * the key policy of keys.ts on every key; name chaining and AKI/SKI; every signature; validity at the
 * given time for every certificate including the anchor; basicConstraints cA and keyCertSign on
 * issuers; pathLenConstraint (§6.1.4 (l)(m)); no unknown critical extension; the leaf's keyUsage
 * (digitalSignature) and extendedKeyUsage (codeSigning, with EKU chaining through issuers);
 * revocation against the trust store's CRLs when given (crl.ts, §6.3).
 * Path search is depth-first, bounded in depth and in signature checks.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes, toHex } from '../bytes/hex.ts';
import { checkKeyPolicy, parseSpki, type KeyInfo, type Result } from './keys.ts';
import { verifySignedBy } from './signed-object.ts';
import { formatName } from './x500-name.ts';
import { parseDer } from './der.ts';
import { memoByBytes } from '../bytes/memo.ts';
import { sha256WebCrypto } from './sha256.ts';
import type { Failed } from '../bytes/result.ts';
import { checkPathRevocation, type Crl } from './crl.ts';

export const EKU = {
  codeSigning: '1.3.6.1.5.5.7.3.3',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  any: '2.5.29.37.0',
} as const;

const EXT = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  certificatePolicies: '2.5.29.32',
} as const;

/** Critical extensions this validator understands; any other critical extension fails the path. */
const UNDERSTOOD_CRITICAL = new Set<string>([EXT.basicConstraints, EXT.keyUsage, EXT.extKeyUsage, EXT.subjectAltName]);

/** keyUsage bits (RFC 5280 §4.2.1.3), as numbers in a 9-bit mask, bit 0 = digitalSignature. */
export const KU = { digitalSignature: 1 << 0, keyCertSign: 1 << 5 } as const;

export interface Certificate {
  readonly der: Uint8Array;
  readonly pki: pkijs.Certificate;
  readonly subject: string;
  readonly issuer: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  /** SHA-256 of the SPKI DER: the key id used in image signatures. */
  readonly keyId: Uint8Array;
  readonly key: KeyInfo;
  readonly isCA: boolean;
  readonly pathLen: number | undefined;
  readonly keyUsage: number | undefined;
  readonly eku: readonly string[] | undefined;
  readonly ski: Uint8Array | undefined;
  readonly aki: Uint8Array | undefined;
  readonly selfIssued: boolean;
  readonly unknownCritical: readonly string[];
  readonly sigAlgOid: string;
  readonly sigAlgConsistent: boolean;
}

function kuMask(bits: asn1js.BitString): number {
  const b = new Uint8Array(bits.valueBlock.valueHexView);
  let mask = 0;
  // bit 0 is the most significant bit of the first byte (DER BIT STRING order)
  for (let i = 0; i < 9; i++) if ((b[i >> 3] ?? 0) & (0x80 >> (i & 7))) mask |= 1 << i;
  return mask;
}

/** Parses one certificate. Never throws; a non-DER or unparsable certificate is a reason. */
export const parseCertificate: (der: Uint8Array) => Promise<Result<Certificate>> = memoByBytes(parseCertificateUncached, 32);

async function parseCertificateUncached(der: Uint8Array): Promise<Result<Certificate>> {
  const asn = parseDer(der);
  if (!asn) return { ok: false, reason: 'certificate is not a single DER-encoded structure' };
  let pki: pkijs.Certificate;
  try {
    pki = new pkijs.Certificate({ schema: asn });
  } catch (e) {
    return { ok: false, reason: `certificate does not parse: ${(e as Error).message}` };
  }
  const spki = new Uint8Array(pki.subjectPublicKeyInfo.toSchema().toBER(false));
  const key = parseSpki(spki);
  if (!key.ok) return { ok: false, reason: `certificate key: ${key.reason}` };
  let isCA = false;
  let pathLen: number | undefined;
  let keyUsage: number | undefined;
  let eku: string[] | undefined;
  let ski: Uint8Array | undefined;
  let aki: Uint8Array | undefined;
  const unknownCritical: string[] = [];
  const seen = new Set<string>();
  for (const ext of pki.extensions ?? []) {
    if (seen.has(ext.extnID)) return { ok: false, reason: `certificate repeats extension ${ext.extnID}` };
    seen.add(ext.extnID);
    // pkijs parses an extension's value lazily, in this getter, and asn1js can throw on malformed
    // bytes there (found by the fuzzer: a GeneralizedTime inside an extension)
    let v: unknown;
    try {
      v = ext.parsedValue as unknown;
    } catch {
      return { ok: false, reason: `certificate extension ${ext.extnID} does not parse` };
    }
    if (ext.critical && !UNDERSTOOD_CRITICAL.has(ext.extnID)) unknownCritical.push(ext.extnID);
    switch (ext.extnID) {
      case EXT.basicConstraints:
        if (!(v instanceof pkijs.BasicConstraints)) return { ok: false, reason: 'basicConstraints does not parse' };
        isCA = v.cA === true;
        if (v.pathLenConstraint !== undefined) {
          const pl = v.pathLenConstraint;
          pathLen = typeof pl === 'number' ? pl : Number(pl.valueBlock.valueDec);
          if (!Number.isSafeInteger(pathLen) || pathLen < 0) return { ok: false, reason: 'pathLenConstraint is invalid' };
        }
        break;
      case EXT.keyUsage:
        if (!(v instanceof asn1js.BitString)) return { ok: false, reason: 'keyUsage does not parse' };
        keyUsage = kuMask(v);
        break;
      case EXT.extKeyUsage:
        if (!(v instanceof pkijs.ExtKeyUsage)) return { ok: false, reason: 'extendedKeyUsage does not parse' };
        eku = v.keyPurposes.slice();
        break;
      case EXT.subjectKeyIdentifier:
        if (v instanceof asn1js.OctetString) ski = new Uint8Array(v.valueBlock.valueHexView);
        break;
      case EXT.authorityKeyIdentifier:
        if (v instanceof pkijs.AuthorityKeyIdentifier && v.keyIdentifier) aki = new Uint8Array(v.keyIdentifier.valueBlock.valueHexView);
        break;
    }
  }
  const inner = new Uint8Array(pki.signature.toSchema().toBER(false));
  const outer = new Uint8Array(pki.signatureAlgorithm.toSchema().toBER(false));
  return {
    ok: true,
    value: {
      der,
      pki,
      subject: formatName(pki.subject),
      issuer: formatName(pki.issuer),
      serialHex: toHex(new Uint8Array(pki.serialNumber.valueBlock.valueHexView)),
      notBefore: pki.notBefore.value,
      notAfter: pki.notAfter.value,
      spki,
      keyId: await sha256WebCrypto(spki),
      key: key.value,
      isCA,
      pathLen,
      keyUsage,
      eku,
      ski,
      aki,
      selfIssued: pki.subject.isEqual(pki.issuer),
      unknownCritical,
      sigAlgOid: pki.signatureAlgorithm.algorithmId,
      sigAlgConsistent: equalBytes(inner, outer),
    },
  };
}

/** Checks that `issuer`'s key signed `cert`. Never throws. */
export function verifyIssuedBy(cert: Certificate, issuer: Certificate): Promise<Result<true>> {
  const pki = cert.pki;
  return verifySignedBy({ what: `certificate "${cert.subject}"`, signatureAlgorithm: pki.signatureAlgorithm, sigAlgConsistent: cert.sigAlgConsistent, signatureValue: pki.signatureValue, tbs: pki.tbsView }, issuer);
}

export interface ChainOptions {
  /** Time at which every certificate must be valid. */
  readonly time: Date;
  /** The leaf must carry this EKU (default codeSigning). */
  readonly requiredEku?: string;
  /** When false, a leaf without an extendedKeyUsage extension is accepted (web PKI habit). Default true. */
  readonly ekuMustBePresent?: boolean;
  /** When true (default), a leaf with keyUsage must allow digitalSignature. */
  readonly leafNeedsDigitalSignature?: boolean;
  /** Longest path, counting the leaf and the anchor (default 10). */
  readonly maxLength?: number;
  /** Longest path in intermediates (x509-limbo max_chain_depth); undefined = no extra limit. */
  readonly maxIntermediates?: number;
  /**
   * CRLs to check every non-anchor certificate of the path against (crl.ts, RFC 5280 §6.3), at
   * `time`. Undefined: revocation is not part of this validation (signing-side checks); an empty
   * list: checked, and the result says no CRL was loaded.
   */
  readonly crls?: readonly Crl[];
}

export type ChainResult =
  | { ok: true; path: readonly Certificate[]; anchor: Certificate; /** What the CRLs said, one note per certificate, when `crls` was given. */ revocation?: readonly string[] }
  | Failed<{ readonly revocation?: 'revoked' | 'unknown' }>;

const MAX_SIGNATURE_CHECKS = 64;

function sameKeyAndName(a: Certificate, b: Certificate): boolean {
  return equalBytes(a.spki, b.spki) && a.pki.subject.isEqual(b.pki.subject);
}

/**
 * The rules a path must meet apart from its signatures (validity at `time`, key policy, the leaf's
 * code-signing EKU and keyUsage, issuers being CAs with keyCertSign): what `trustflash sign` checks
 * on the chain it is given, so it never writes an image `verify` would refuse for its certificates.
 */
export function certificatePathProblem(path: readonly Certificate[], opts: ChainOptions): string | undefined {
  return path.length ? pathProblem(path, opts) : undefined;
}

function pathProblem(path: readonly Certificate[], opts: ChainOptions): string | undefined {
  const t = opts.time.getTime();
  for (const c of path) {
    // RFC 5280 §4.1.2.2: a positive serial number of at most 20 octets
    const negative = parseInt(c.serialHex.slice(0, 2), 16) >= 0x80;
    const octets = c.serialHex.length / 2 - (c.serialHex.startsWith('00') ? 1 : 0);
    if (/^0*$/.test(c.serialHex) || negative || octets > 20) return `certificate "${c.subject}" has an invalid serial number (zero, negative or longer than 20 octets)`;
    // RFC 5280 §4.2.1.3: keyCertSign requires cA; §4.1.2.6: a CA has a non-empty subject
    if (c.keyUsage !== undefined && c.keyUsage & KU.keyCertSign && !c.isCA) return `certificate "${c.subject}" asserts keyCertSign without being a CA`;
    if (c.isCA && c.pki.subject.typesAndValues.length === 0) return `a CA certificate (issued by "${c.issuer}") has an empty subject`;
    if (c.notBefore.getTime() > t) return `certificate "${c.subject}" is not valid until ${c.notBefore.toISOString()}`;
    if (c.notAfter.getTime() < t) return `certificate "${c.subject}" expired on ${c.notAfter.toISOString()}`;
    if (c.unknownCritical.length) return `certificate "${c.subject}" has an unsupported critical extension ${c.unknownCritical.join(', ')}`;
    const kp = checkKeyPolicy(c.key);
    if (!kp.ok) return `certificate "${c.subject}": ${kp.reason}`;
  }
  const leaf = path[0]!;
  const eku = opts.requiredEku ?? EKU.codeSigning;
  if (leaf.eku) {
    if (!leaf.eku.includes(eku)) return `certificate "${leaf.subject}" is not allowed for ${eku === EKU.codeSigning ? 'code signing' : eku} (extendedKeyUsage ${leaf.eku.join(', ')})`;
  } else if (opts.ekuMustBePresent ?? true) {
    return `certificate "${leaf.subject}" has no extendedKeyUsage; code signing needs ${EKU.codeSigning}`;
  }
  if ((opts.leafNeedsDigitalSignature ?? true) && leaf.keyUsage !== undefined && !(leaf.keyUsage & KU.digitalSignature)) {
    return `certificate "${leaf.subject}" keyUsage does not allow digitalSignature`;
  }
  let nonSelfIssuedBelow = 0;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (c.pki.version !== 2) return `issuer certificate "${c.subject}" is not X.509 v3`;
    if (!c.isCA) return `certificate "${c.subject}" issues certificates but is not a CA (basicConstraints cA is not set)`;
    if (c.keyUsage !== undefined && !(c.keyUsage & KU.keyCertSign)) return `CA certificate "${c.subject}" keyUsage does not allow keyCertSign`;
    if (c.eku && !c.eku.includes(eku) && !c.eku.includes(EKU.any)) return `CA certificate "${c.subject}" does not allow ${eku === EKU.codeSigning ? 'code signing' : eku} (extendedKeyUsage)`;
    if (c.pathLen !== undefined && nonSelfIssuedBelow > c.pathLen) {
      return `CA certificate "${c.subject}" allows ${c.pathLen} intermediate${c.pathLen === 1 ? '' : 's'} below it, the path has ${nonSelfIssuedBelow}`;
    }
    // self-issued intermediates do not count (RFC 5280 §6.1.4 (l))
    if (!c.selfIssued) nonSelfIssuedBelow++;
  }
  const intermediates = path.slice(1, -1).filter((c) => !c.selfIssued).length;
  if (opts.maxIntermediates !== undefined && intermediates > opts.maxIntermediates) {
    return `path needs ${intermediates} intermediates, more than the ${opts.maxIntermediates} allowed`;
  }
  return undefined;
}

/**
 * Finds and checks a path from `leaf` through `intermediates` (any order) to one of `anchors`.
 * A leaf that is itself an anchor is a path of one (a directly trusted self-signed signer).
 */
export async function validateChain(leaf: Certificate, intermediates: readonly Certificate[], anchors: readonly Certificate[], opts: ChainOptions): Promise<ChainResult> {
  const maxLength = opts.maxLength ?? 10;
  let checks = 0;
  let firstProblem: string | undefined;
  const note = (p: string) => {
    firstProblem ??= p;
  };
  // a path that is sound but for revocation is the most telling answer when no path is found
  let revocationFailure: (Failed & { revocation: 'revoked' | 'unknown' }) | undefined;
  const signed = new Map<string, Result<true>>();

  async function issuedBy(c: Certificate, i: Certificate): Promise<Result<true>> {
    const key = toHex(c.keyId) + toHex(c.der.subarray(c.der.length - 16)) + '/' + toHex(i.keyId);
    const cached = signed.get(key);
    if (cached) return cached;
    if (++checks > MAX_SIGNATURE_CHECKS) return { ok: false, reason: `path search stopped after ${MAX_SIGNATURE_CHECKS} signature checks` };
    const r = await verifyIssuedBy(c, i);
    signed.set(key, r);
    return r;
  }

  async function extend(path: Certificate[]): Promise<ChainResult | undefined> {
    const tip = path[path.length - 1]!;
    // Reached an anchor?
    const anchor = anchors.find((a) => equalBytes(a.der, tip.der) || sameKeyAndName(a, tip));
    if (anchor) {
      const full = path.slice(0, -1).concat(anchor);
      const problem = pathProblem(full, opts);
      if (!problem && !opts.crls) return { ok: true, path: full, anchor };
      if (!problem && opts.crls) {
        const r = await checkPathRevocation(full, opts.crls, opts.time);
        if (r.ok) return { ok: true, path: full, anchor, revocation: r.value };
        revocationFailure ??= r;
      }
      if (problem) note(problem);
    }
    if (path.length >= maxLength) {
      note(`no path to a trusted root within ${maxLength} certificates`);
      return undefined;
    }
    const candidates = [...anchors, ...intermediates].filter(
      (c) => c.pki.subject.isEqual(tip.pki.issuer) && !path.some((p) => equalBytes(p.der, c.der)) && !(tip.aki && c.ski && !equalBytes(tip.aki, c.ski)),
    );
    if (candidates.length === 0 && tip.selfIssued && path.length > 1) note(`the chain ends at "${tip.subject}", a root that is not in the trust store`);
    else if (candidates.length === 0 && path.length > 1 && path.some((p) => p.pki.subject.isEqual(tip.pki.issuer))) note(`the certificates form a loop that never reaches a trusted root`);
    for (const c of candidates) {
      const r = await issuedBy(tip, c);
      if (!r.ok) {
        note(r.reason);
        if (checks > MAX_SIGNATURE_CHECKS) return undefined;
        continue;
      }
      const found = await extend([...path, c]);
      if (found) return found;
      if (checks > MAX_SIGNATURE_CHECKS) return undefined;
    }
    return undefined;
  }

  const found = await extend([leaf]);
  if (found) return found;
  if (revocationFailure) return { ok: false, reason: revocationFailure.reason, revocation: revocationFailure.revocation };
  return { ok: false, reason: firstProblem ?? `certificate "${leaf.subject}" does not chain to a trusted root (issuer "${leaf.issuer}" not found)` };
}
