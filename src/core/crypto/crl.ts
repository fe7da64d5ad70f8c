/**
 * X.509 certificate revocation lists (RFC 5280 §5) and the revocation check of a certification
 * path (§6.3), for a lab that has no network: the vendor's CRLs are files loaded next to the roots.
 *
 * Scope: complete CRLs for the certificates of one issuer, v1 or v2. Refused when parsed, each with
 * its own reason: delta CRLs (deltaCRLIndicator, §5.2.4), partitioned or indirect CRLs
 * (issuingDistributionPoint, §5.2.5; certificateIssuer entries, §5.3.3), removeFromCRL in a
 * complete CRL (§5.3.1), any other critical extension (§5.2, §5.3), a CRL without nextUpdate
 * (§5.1.2.5), and anything that is not strict DER. A CRL applies to a certificate when its issuer
 * name equals the certificate's issuer's subject (and its AKI, when both have one, that issuer's
 * SKI) AND its signature verifies with that issuer's key (§6.3.3 (f), (g)).
 *
 * Several CRLs of one issuer: the one with the highest CRL number (then the latest thisUpdate) is
 * the issuer's current statement and alone decides (a complete CRL supersedes the earlier ones,
 * §5.2.3); every one of them must still verify, or the status is unknown. The current one must be
 * valid at the verification time: thisUpdate ≤ now ≤ nextUpdate. Anything short of that fails the
 * path closed ("revocation status unknown"), never passes it silently.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes, toHex } from '../bytes/hex.ts';
import type { Failed } from '../bytes/result.ts';
import { parseDer } from './der.ts';
import type { Result } from './keys.ts';
import { looksLikePem, parsePem, toPem } from './pem.ts';
import { verifySignedBy } from './signed-object.ts';
import { formatName } from './x500-name.ts';
import type { Certificate } from './x509.ts';

/** A CRL file larger than this is refused unread: a vendor's code-signing CRL lists a handful of keys. */
export const CRL_MAX = 4 * 1024 * 1024;
/** Entries per CRL (each is at least ~20 bytes; this bounds the work of one lookup). */
export const CRL_MAX_ENTRIES = 100_000;

export const PEM_LABEL_CRL = 'X509 CRL';

const CRL_EXT = {
  authorityKeyIdentifier: '2.5.29.35',
  cRLNumber: '2.5.29.20',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCRL: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;
const ENTRY_EXT = {
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29',
} as const;

/** CRLReason (RFC 5280 §5.3.1), spelled as the ASN.1 module spells it; 7 is not used. */
export const CRL_REASON: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};
export const REASON_CODE = Object.fromEntries(Object.entries(CRL_REASON).map(([k, v]) => [v, Number(k)])) as Readonly<Record<string, number>>;

export interface RevokedEntry {
  /** The serial as minimal hex (no leading zero octets but for the sign), lowercase. */
  readonly serialHex: string;
  readonly revocationDate: Date;
  /** CRLReason code; absent when the entry has no reasonCode extension. */
  readonly reason: number | undefined;
}

export interface Crl {
  readonly der: Uint8Array;
  readonly pki: pkijs.CertificateRevocationList;
  /** The issuer name, formatted ("O=…, CN=…"). */
  readonly issuer: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** cRLNumber (§5.2.3), when present. */
  readonly number: bigint | undefined;
  /** authorityKeyIdentifier keyIdentifier, when present. */
  readonly aki: Uint8Array | undefined;
  readonly revoked: readonly RevokedEntry[];
  readonly sigAlgConsistent: boolean;
}

/** A serial as one spelling: hex without redundant leading zero octets. */
export function normalizeSerialHex(hex: string): string {
  let h = hex.toLowerCase();
  while (h.length > 2 && h.startsWith('00') && parseInt(h.slice(2, 4), 16) < 0x80) h = h.slice(2);
  return h;
}

/** "2026-11-22T00:00:00Z": the second is the CRL's own precision. */
export const isoSeconds = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

type ExtValue = { ok: true; value: asn1js.AsnType } | Failed;

function extValue(ext: pkijs.Extension, what: string): ExtValue {
  const v = parseDer(new Uint8Array(ext.extnValue.valueBlock.valueHexView));
  return v ? { ok: true, value: v } : { ok: false, reason: `${what} does not parse as DER` };
}

/** Parses one CRL (DER). Never throws; every refusal names what is wrong. */
export function parseCrl(der: Uint8Array): Result<Crl> {
  if (der.length > CRL_MAX) return { ok: false, reason: `the CRL is ${der.length} bytes, more than the ${CRL_MAX} this tool reads` };
  const asn = parseDer(der);
  if (!asn) return { ok: false, reason: 'the CRL is not a single DER-encoded structure' };
  let pki: pkijs.CertificateRevocationList;
  try {
    pki = new pkijs.CertificateRevocationList({ schema: asn });
  } catch (e) {
    return { ok: false, reason: `the CRL does not parse: ${(e as Error).message}` };
  }
  const issuer = formatName(pki.issuer);
  const who = `the CRL of "${issuer}"`;
  // §5.1.2.1: v2 whenever extensions are present; v1 otherwise
  if (pki.version !== 0 && pki.version !== 1) return { ok: false, reason: `${who} has version ${pki.version + 1}; only v1 and v2 exist` };
  if (pki.version === 0 && (pki.crlExtensions || pki.revokedCertificates?.some((r) => r.crlEntryExtensions))) return { ok: false, reason: `${who} is v1 but carries extensions (RFC 5280 §5.1.2.1)` };
  if (!pki.nextUpdate) return { ok: false, reason: `${who} has no nextUpdate (RFC 5280 §5.1.2.5 requires it): nobody could tell when it goes stale` };
  const thisUpdate = pki.thisUpdate.value;
  const nextUpdate = pki.nextUpdate.value;
  if (nextUpdate.getTime() < thisUpdate.getTime()) return { ok: false, reason: `${who} has nextUpdate ${isoSeconds(nextUpdate)} before thisUpdate ${isoSeconds(thisUpdate)}` };

  let number: bigint | undefined;
  let aki: Uint8Array | undefined;
  const seen = new Set<string>();
  for (const ext of pki.crlExtensions?.extensions ?? []) {
    if (seen.has(ext.extnID)) return { ok: false, reason: `${who} repeats extension ${ext.extnID}` };
    seen.add(ext.extnID);
    switch (ext.extnID) {
      case CRL_EXT.cRLNumber: {
        const v = extValue(ext, `${who}: cRLNumber`);
        if (!v.ok) return v;
        if (!(v.value instanceof asn1js.Integer)) return { ok: false, reason: `${who}: cRLNumber is not an INTEGER` };
        const hex = toHex(new Uint8Array(v.value.valueBlock.valueHexView));
        // §5.2.3: a non-negative integer of at most 20 octets
        if (hex.length === 0 || parseInt(hex.slice(0, 2), 16) >= 0x80 || normalizeSerialHex(hex).length > 42) return { ok: false, reason: `${who}: cRLNumber is negative or longer than 20 octets` };
        number = BigInt(`0x${hex}`);
        break;
      }
      case CRL_EXT.authorityKeyIdentifier: {
        let v: unknown;
        try {
          v = ext.parsedValue as unknown;
        } catch {
          return { ok: false, reason: `${who}: authorityKeyIdentifier does not parse` };
        }
        if (v instanceof pkijs.AuthorityKeyIdentifier && v.keyIdentifier) aki = new Uint8Array(v.keyIdentifier.valueBlock.valueHexView);
        break;
      }
      case CRL_EXT.deltaCRLIndicator:
        return { ok: false, reason: `${who} is a delta CRL (deltaCRLIndicator); only complete CRLs are supported` };
      case CRL_EXT.issuingDistributionPoint:
        return { ok: false, reason: `${who} has an issuingDistributionPoint (a partitioned or indirect CRL); only complete CRLs for one issuer are supported` };
      case CRL_EXT.freshestCRL:
      case CRL_EXT.authorityInfoAccess:
        break; // non-critical pointers to the network; nothing to fetch in an air-gapped lab
      default:
        if (ext.critical) return { ok: false, reason: `${who} has an unsupported critical extension ${ext.extnID} (RFC 5280 §5.2: such a CRL must not be used)` };
    }
  }

  const entries = pki.revokedCertificates ?? [];
  if (entries.length > CRL_MAX_ENTRIES) return { ok: false, reason: `${who} lists ${entries.length} certificates, more than the ${CRL_MAX_ENTRIES} this tool reads` };
  const revoked: RevokedEntry[] = [];
  for (const [i, e] of entries.entries()) {
    const at = `${who}, entry ${i + 1}`;
    const serial = new Uint8Array(e.userCertificate.valueBlock.valueHexView);
    if (serial.length === 0) return { ok: false, reason: `${at}: empty serial number` };
    let reason: number | undefined;
    const entrySeen = new Set<string>();
    for (const ext of e.crlEntryExtensions?.extensions ?? []) {
      if (entrySeen.has(ext.extnID)) return { ok: false, reason: `${at} repeats extension ${ext.extnID}` };
      entrySeen.add(ext.extnID);
      switch (ext.extnID) {
        case ENTRY_EXT.reasonCode: {
          const v = extValue(ext, `${at}: reasonCode`);
          if (!v.ok) return v;
          if (!(v.value instanceof asn1js.Enumerated)) return { ok: false, reason: `${at}: reasonCode is not an ENUMERATED` };
          const code = v.value.valueBlock.valueDec;
          if (CRL_REASON[code] === undefined) return { ok: false, reason: `${at}: reasonCode ${code} is not a CRLReason (RFC 5280 §5.3.1)` };
          // §5.3.1: removeFromCRL only in delta CRLs
          if (code === REASON_CODE.removeFromCRL) return { ok: false, reason: `${at}: removeFromCRL belongs in a delta CRL, not a complete one (RFC 5280 §5.3.1)` };
          reason = code;
          break;
        }
        case ENTRY_EXT.invalidityDate:
          break; // informational (§5.3.2): the certificate is revoked either way
        case ENTRY_EXT.certificateIssuer:
          return { ok: false, reason: `${at} names another certificate issuer (an indirect CRL); only CRLs for the issuer's own certificates are supported` };
        default:
          if (ext.critical) return { ok: false, reason: `${at} has an unsupported critical extension ${ext.extnID} (RFC 5280 §5.3: such a CRL must not be used)` };
      }
    }
    revoked.push({ serialHex: normalizeSerialHex(toHex(serial)), revocationDate: e.revocationDate.value, reason });
  }
  const inner = new Uint8Array(pki.signature.toSchema().toBER(false));
  const outer = new Uint8Array(pki.signatureAlgorithm.toSchema().toBER(false));
  return { ok: true, value: { der, pki, issuer, thisUpdate, nextUpdate, number, aki, revoked, sigAlgConsistent: equalBytes(inner, outer) } };
}

const crlVerdicts = new WeakMap<Crl, Map<string, Promise<Result<true>>>>();

/** Checks that `issuer`'s key signed `crl`, once per CRL and key (a path search asks again). Never throws. */
export function verifyCrlSignature(crl: Crl, issuer: Certificate): Promise<Result<true>> {
  let byKey = crlVerdicts.get(crl);
  if (!byKey) crlVerdicts.set(crl, (byKey = new Map()));
  const id = `${toHex(issuer.keyId)}/${issuer.subject}`;
  let v = byKey.get(id);
  if (!v) byKey.set(id, (v = verifyCrlSignatureOnce(crl, issuer)));
  return v;
}

function verifyCrlSignatureOnce(crl: Crl, issuer: Certificate): Promise<Result<true>> {
  return verifySignedBy(
    { what: `the CRL of "${crl.issuer}" issued ${isoSeconds(crl.thisUpdate)}`, signatureAlgorithm: crl.pki.signatureAlgorithm, sigAlgConsistent: crl.sigAlgConsistent, signatureValue: crl.pki.signatureValue, tbs: crl.pki.tbsView },
    issuer,
  );
}

/** The issuer a CRL names is this certificate (name, and key identifier when both say one). */
export function crlNamesIssuer(crl: Crl, issuer: Certificate): boolean {
  return crl.pki.issuer.isEqual(issuer.pki.subject) && !(crl.aki && issuer.ski && !equalBytes(crl.aki, issuer.ski));
}

/** Newest first: the higher CRL number, then the later thisUpdate (a CRL without a number counts as below any number). */
export function newestFirst(a: Crl, b: Crl): number {
  const na = a.number ?? -1n;
  const nb = b.number ?? -1n;
  if (na !== nb) return na > nb ? -1 : 1;
  return b.thisUpdate.getTime() - a.thisUpdate.getTime();
}

export function describeCrl(crl: Crl): string {
  return `the CRL of "${crl.issuer}"${crl.number !== undefined ? ` number ${crl.number}` : ''} issued ${isoSeconds(crl.thisUpdate)}`;
}

export const reasonName = (code: number | undefined): string => (code === undefined ? 'unspecified (no reason code)' : (CRL_REASON[code] ?? `code ${code}`));

/** Why a path failed its revocation check: a certificate is on a CRL, or its status cannot be known. */
export type RevocationFailure = Failed<{ readonly revocation: 'revoked' | 'unknown' }>;

/**
 * The revocation check of a validated path (leaf first, anchor last), RFC 5280 §6.3: every
 * certificate but the anchor against the CRLs of its issuer (the next certificate on the path).
 * The anchor itself is trusted by being in the store: removing it is how a root is revoked.
 * Returns the notes for the report on success: which CRL vouched for which certificate.
 */
export async function checkPathRevocation(path: readonly Certificate[], crls: readonly Crl[], time: Date): Promise<Result<string[], { readonly revocation: 'revoked' | 'unknown' }>> {
  const notes: string[] = [];
  const t = time.getTime();
  for (let i = 0; i + 1 < path.length; i++) {
    const cert = path[i]!;
    const issuer = path[i + 1]!;
    const named = crls.filter((c) => crlNamesIssuer(c, issuer));
    if (named.length === 0) {
      notes.push(`no CRL of "${issuer.subject}" loaded: "${cert.subject}" not checked for revocation`);
      continue;
    }
    const unknown = (why: string): RevocationFailure => ({ ok: false, reason: `revocation status of "${cert.subject}" unknown: ${why}`, revocation: 'unknown' });
    // §6.3.3 (f): the CRL issuer's key must be allowed to sign CRLs
    if (issuer.keyUsage !== undefined && !(issuer.keyUsage & (1 << 6))) return unknown(`"${issuer.subject}" keyUsage does not allow cRLSign, so its CRL cannot be used`);
    for (const crl of named) {
      const sig = await verifyCrlSignature(crl, issuer);
      if (!sig.ok) return unknown(sig.reason);
    }
    const current = [...named].sort(newestFirst)[0]!;
    if (current.thisUpdate.getTime() > t) return unknown(`${describeCrl(current)} is not valid until ${isoSeconds(current.thisUpdate)}`);
    if (current.nextUpdate.getTime() < t) return unknown(`${describeCrl(current)} expired on ${isoSeconds(current.nextUpdate)} (its nextUpdate): get the issuer's current CRL`);
    const serial = normalizeSerialHex(cert.serialHex);
    const hit = current.revoked.find((r) => r.serialHex === serial);
    if (hit) {
      return {
        ok: false,
        reason: `certificate "${cert.subject}" revoked: serial 0x${serial}, reason ${reasonName(hit.reason)}, by the CRL of "${current.issuer}" issued ${isoSeconds(current.thisUpdate)} (revoked ${isoSeconds(hit.revocationDate)})`,
        revocation: 'revoked',
      };
    }
    const superseded = named.length > 1 ? `, superseding ${named.length - 1} older` : '';
    notes.push(`"${cert.subject}" not revoked per ${describeCrl(current)}, next update ${isoSeconds(current.nextUpdate)}${superseded}`);
  }
  return { ok: true, value: notes };
}

/**
 * What the chain row says about revocation once every path passed: the notes of each path, and
 * every loaded CRL that no certificate involved could have issued (its issuer is neither a trusted
 * root nor on a validated path), so a CRL is never silently ignored.
 */
export function revocationSummary(crls: readonly Crl[], notes: readonly string[], involved: readonly Certificate[]): string {
  if (crls.length === 0) return 'revocation not checked: no revocation list (CRL) is loaded';
  const unused = crls.filter((crl) => !involved.some((c) => crlNamesIssuer(crl, c)));
  const parts = [...new Set(notes)];
  for (const crl of unused) parts.push(`${describeCrl(crl)} not used: its issuer is neither a trusted root nor on this chain`);
  return `revocation: ${parts.join('; ')}`;
}

/**
 * A CRL file's text for the trust store: PEM as it is, DER armoured as "X509 CRL" (so the page can
 * keep it as text beside the roots). Refuses a file too large to be a CRL, unread.
 */
export function crlFileText(bytes: Uint8Array): Result<string> {
  if (bytes.length > CRL_MAX * 2) return { ok: false, reason: `${bytes.length} bytes is too large for a CRL (at most ${CRL_MAX} bytes of DER)` };
  if (bytes.length === 0) return { ok: false, reason: 'the file is empty' };
  if (looksLikePem(bytes)) {
    const text = new TextDecoder().decode(bytes);
    const { blocks, errors } = parsePem(text);
    if (errors.length) return { ok: false, reason: errors.join('; ') };
    const other = blocks.find((b) => b.label !== PEM_LABEL_CRL);
    if (other) return { ok: false, reason: `holds a "${other.label}" block; a CRL file holds "${PEM_LABEL_CRL}" blocks only (roots and keys are trusted separately)` };
    if (blocks.length === 0) return { ok: false, reason: `no "${PEM_LABEL_CRL}" block found` };
    return { ok: true, value: text };
  }
  return { ok: true, value: toPem(PEM_LABEL_CRL, bytes) };
}
