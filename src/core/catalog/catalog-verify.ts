/**
 * A signed release catalog: CMS SignedData (RFC 5652) with the catalog JSON as its encapsulated
 * content (id-data), as `openssl cms -sign -nodetach -binary -outform DER -md sha256` makes it, or
 * the same in PEM ("CMS" or "PKCS7"). It is checked like a CMS-signed image (cms.ts): exactly one
 * signer, SHA-256, its certificate chained to a root of the trust store at the validation time,
 * code-signing EKU, and every loaded CRL applied to the path. Only then is the content read.
 *
 * The rollback state is kept per trust anchor (the vendor root) and PSID, not per signing
 * certificate: a vendor that re-keys its catalog signer under the same root must not reset the
 * highest sequence a lab has seen (docs/catalog.md).
 */
import { toHex } from '../bytes/hex.ts';
import type { Failed } from '../bytes/result.ts';
import * as pkijs from 'pkijs';
import { CMS_OID, verifyCms, type CmsFailureKind } from '../crypto/cms.ts';
import { parseBer } from '../crypto/der.ts';
import { formatName } from '../crypto/x500-name.ts';
import { isDemoKeyId } from '../crypto/demo-keys.ts';
import { looksLikePem, parsePem } from '../crypto/pem.ts';
import type { TrustStore } from '../crypto/trust.ts';
import { CATALOG_FILE_MAX, parseCatalogJson, type CatalogContent } from './catalog-json.ts';

export const CATALOG_PEM_LABELS = ['CMS', 'PKCS7'] as const;

export interface VerifiedCatalog {
  readonly content: CatalogContent;
  /** The JSON text that was signed. */
  readonly json: string;
  readonly signer: { readonly subject: string; readonly keyId: string };
  /** The root the signer chains to; its key id names the catalog's rollback state. */
  readonly anchor: { readonly subject: string; readonly keyId: string };
  /** Signed by a demo key or under the demo root (whose private halves are public). */
  readonly demo: boolean;
  /** What the CRLs said about the signer's path (crl.ts). */
  readonly revocation: readonly string[];
}

export type CatalogFailureKind = CmsFailureKind | 'size' | 'schema';
export type CatalogResult = { ok: true; value: VerifiedCatalog } | Failed<{ readonly kind: CatalogFailureKind }>;

const fail = (kind: CatalogFailureKind, reason: string): CatalogResult => ({ ok: false, kind, reason });

/** The DER inside a catalog file: the bytes themselves, or the one CMS/PKCS7 PEM block. */
export function catalogDer(bytes: Uint8Array): { ok: true; der: Uint8Array } | Failed {
  if (!looksLikePem(bytes)) return { ok: true, der: bytes };
  const { blocks, errors } = parsePem(new TextDecoder().decode(bytes));
  if (errors.length) return { ok: false, reason: errors.join('; ') };
  const ours = blocks.filter((b) => (CATALOG_PEM_LABELS as readonly string[]).includes(b.label));
  if (ours.length !== 1 || blocks.length !== 1) return { ok: false, reason: `a PEM catalog holds exactly one "CMS" (or "PKCS7") block, found ${blocks.map((b) => `"${b.label}"`).join(', ') || 'none'}` };
  return { ok: true, der: ours[0]!.der };
}

/** Verifies a catalog file against the trust store's roots and CRLs at `time`. Never throws on bad input. */
export async function verifyCatalog(bytes: Uint8Array, opts: { trust: TrustStore; time: Date }): Promise<CatalogResult> {
  if (bytes.length === 0) return fail('size', 'the catalog file is empty');
  if (bytes.length > CATALOG_FILE_MAX) return fail('size', `the catalog file is ${bytes.length} bytes, at most ${CATALOG_FILE_MAX}`);
  const der = catalogDer(bytes);
  if (!der.ok) return fail('malformed', der.reason);
  const cms = await verifyCms(der.der, { anchors: opts.trust.anchors, chain: { time: opts.time, crls: opts.trust.crls ?? [] }, requireAttached: true });
  if (!cms.ok) return fail(cms.kind, cms.reason);
  // one signer names one rollback state; a second signer would be a second catalog in one file
  if (cms.signers.length !== 1) return fail('policy', `the catalog has ${cms.signers.length} signers; exactly one is allowed`);
  const s = cms.signers[0]!;
  let json: string;
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(cms.attachedContent!);
  } catch {
    return fail('schema', 'the signed content is not UTF-8 text');
  }
  const content = parseCatalogJson(json);
  if (!content.ok) return fail('schema', content.reason);
  return {
    ok: true,
    value: {
      content: content.value,
      json,
      signer: { subject: s.certificate.subject, keyId: toHex(s.certificate.keyId) },
      anchor: { subject: s.chain.anchor.subject, keyId: toHex(s.chain.anchor.keyId) },
      demo: isDemoKeyId(s.certificate.keyId) || isDemoKeyId(s.chain.anchor.keyId),
      revocation: s.chain.revocation ?? [],
    },
  };
}

/** The key under which the highest sequence seen is kept: the vendor root and the product. */
export function rollbackKey(anchorKeyId: string, psid: string): string {
  return `${anchorKeyId}/${psid}`;
}

/** The rollback keys a verified catalog speaks for (one per product it lists). */
/**
 * The highest sequence seen for `psid` under ANY root. Sequences are recorded per root and PSID, but
 * compared per PSID: which root a catalog chains to is decided by the certificates the CMS carries,
 * and those are not signed, so an old catalog re-wrapped with certificates that chain it to another
 * trusted root (say, during a root rollover) must not find a fresh, empty history there.
 */
export function lastSeenFor(lastSeen: Readonly<Record<string, number>> | undefined, psid: string): number | undefined {
  let best: number | undefined;
  for (const [k, v] of Object.entries(lastSeen ?? {})) {
    if (k.slice(k.indexOf('/') + 1) === psid && (best === undefined || v > best)) best = v;
  }
  return best;
}
export function rollbackKeys(c: VerifiedCatalog): string[] {
  return c.content.products.map((p) => rollbackKey(c.anchor.keyId, p.psid));
}

/** What `catalog inspect` shows: the content and the certificates carried, NOT verified. */
export interface UnverifiedCatalog {
  readonly json: string;
  /** The parsed content, or why it does not meet the schema. */
  readonly content: { ok: true; value: CatalogContent } | Failed;
  readonly certificates: readonly { subject: string; issuer: string; notAfter: Date }[];
  readonly signers: number;
}

/** Reads a catalog's content without checking anything (inspect). Never throws on bad input. */
export function readCatalogUnverified(bytes: Uint8Array): { ok: true; value: UnverifiedCatalog } | Failed {
  const der = catalogDer(bytes);
  if (!der.ok) return der;
  const asn = parseBer(der.der);
  if (!asn) return { ok: false, reason: 'not a DER or PEM CMS structure' };
  try {
    const ci = new pkijs.ContentInfo({ schema: asn });
    if (ci.contentType !== CMS_OID.signedData) return { ok: false, reason: `CMS content type ${ci.contentType} is not SignedData` };
    const sd = new pkijs.SignedData({ schema: ci.content });
    const e = sd.encapContentInfo.eContent;
    if (!e) return { ok: false, reason: 'the CMS is detached: it carries no catalog' };
    const json = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(e.getValue()));
    const certificates = (sd.certificates ?? []).flatMap((c) => (c instanceof pkijs.Certificate ? [{ subject: formatName(c.subject), issuer: formatName(c.issuer), notAfter: c.notAfter.value }] : []));
    return { ok: true, value: { json, content: parseCatalogJson(json), certificates, signers: sd.signerInfos.length } };
  } catch (e) {
    return { ok: false, reason: `the CMS could not be read: ${(e as Error).message}` };
  }
}
