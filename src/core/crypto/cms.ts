/**
 * CMS SignedData (RFC 5652), as `openssl cms -sign -binary -outform DER -md sha256` makes it.
 *
 * pkijs parses; the decisions are ours, because SignedData.verify passes whatever certificates are
 * present unless checkChain is set (PKI.js#332) and its chain engine lacks pathLen and EKU checks.
 * Policy: DER only; content type signedData; at least one signerInfo and every signerInfo must
 * verify (an unverifiable extra signer is a tampered file, not a bonus); digest SHA-256 only;
 * signature RSASSA-PKCS1-v1_5 or ECDSA P-256 (not Ed25519: RFC 8419 pairs it with SHA-512);
 * the signer's chain is checked before its signature; signed attributes, when present, carry
 * exactly one contentType equal to eContentType and exactly one messageDigest equal to the content's
 * SHA-256 (RFC 5652 §5.3, §11.1, §11.2), and signingTime appears only signed (§11.3); the signer
 * certificate chains to a trust anchor through x509.ts.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes } from '../bytes/hex.ts';
import { SIG_ALG } from '../image/layout.ts';
import { parseCertificate, validateChain, type Certificate, type ChainOptions, type ChainResult } from './x509.ts';
import { sha256WebCrypto } from './sha256.ts';
import { verifySignature } from './signature.ts';
import { ecdsaDerToRaw } from './signature.ts';
import { parseDer } from './der.ts';
import type { Failed } from '../bytes/result.ts';

export const CMS_OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
} as const;

const DIGEST_NAMES: Record<string, string> = {
  '1.2.840.113549.2.5': 'MD5',
  '1.3.14.3.2.26': 'SHA-1',
  '1.3.36.3.2.1': 'RIPEMD-160',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

/** Why a CMS failed: malformed bytes, a policy refusal, a bad signature, or no chain to a root. */
export type CmsFailureKind = 'malformed' | 'policy' | 'signature' | 'chain' | 'content';

export interface CmsSigner {
  readonly certificate: Certificate;
  readonly chain: ChainResult & { ok: true };
  readonly signingTime: Date | undefined;
}

export type CmsResult =
  | { ok: true; signers: readonly CmsSigner[]; certificates: readonly Certificate[]; attachedContent: Uint8Array | undefined }
  | Failed<{ kind: CmsFailureKind }>;

export interface CmsVerifyOptions {
  /** The signed content when the CMS is detached (ignored for attached content, which must then match if given). */
  readonly content?: Uint8Array;
  readonly anchors: readonly Certificate[];
  /** Certificates supplied outside the CMS (a --cert option). */
  readonly extraCerts?: readonly Certificate[];
  readonly chain: ChainOptions;
  /** Require detached content (images: the CMS covers header || manifest, given separately). */
  readonly requireDetached?: boolean;
  /** Require attached content of type id-data (a release catalog carries its JSON inside). */
  readonly requireAttached?: boolean;
}

const fail = (kind: CmsFailureKind, reason: string): CmsResult => ({ ok: false, kind, reason });

function attrs(set: pkijs.SignedAndUnsignedAttributes | undefined, oid: string): pkijs.Attribute[] {
  return (set?.attributes ?? []).filter((a) => a.type === oid);
}

const nullOrAbsent = (p: unknown) => p === undefined || p instanceof asn1js.Null;

function findSigner(si: pkijs.SignerInfo, certs: readonly Certificate[]): Certificate | undefined {
  if (si.sid instanceof pkijs.IssuerAndSerialNumber) {
    const sid = si.sid;
    return certs.find((c) => c.pki.issuer.isEqual(sid.issuer) && c.pki.serialNumber.isEqual(sid.serialNumber));
  }
  if (si.sid instanceof asn1js.Constructed || si.sid instanceof asn1js.Primitive) {
    const ski = new Uint8Array((si.sid as asn1js.Primitive).valueBlock.valueHexView ?? []);
    return certs.find((c) => c.ski && equalBytes(c.ski, ski));
  }
  return undefined;
}

/** Verifies a DER ContentInfo/SignedData. Never throws on bad input. */
export async function verifyCms(der: Uint8Array, opts: CmsVerifyOptions): Promise<CmsResult> {
  try {
    return await verifyCmsUnguarded(der, opts);
  } catch (e) {
    // pkijs parses some values lazily (on first access) and asn1js can throw there
    return fail('malformed', `CMS could not be read: ${(e as Error).message}`);
  }
}

async function verifyCmsUnguarded(der: Uint8Array, opts: CmsVerifyOptions): Promise<CmsResult> {
  const asn = parseDer(der);
  if (!asn) return fail('malformed', 'CMS is not a single DER-encoded structure');
  let signed: pkijs.SignedData;
  try {
    const ci = new pkijs.ContentInfo({ schema: asn });
    if (ci.contentType !== CMS_OID.signedData) {
      return fail('policy', ci.contentType === CMS_OID.envelopedData ? 'CMS is EnvelopedData, not SignedData' : `CMS content type ${ci.contentType} is not SignedData`);
    }
    signed = new pkijs.SignedData({ schema: ci.content });
  } catch (e) {
    return fail('malformed', `CMS does not parse as SignedData: ${(e as Error).message}`);
  }
  if (signed.version < 1 || signed.version > 5) return fail('malformed', `SignedData version ${signed.version} is not defined`);
  const inCms: Certificate[] = [];
  for (const [i, c] of (signed.certificates ?? []).entries()) {
    if (!(c instanceof pkijs.Certificate)) return fail('policy', `CMS certificate ${i} is not an X.509 certificate`);
    const parsed = await parseCertificate(new Uint8Array(c.toSchema().toBER(false)));
    if (!parsed.ok) return fail('malformed', `CMS certificate ${i}: ${parsed.reason}`);
    inCms.push(parsed.value);
  }
  if (signed.signerInfos.length === 0) return fail('signature', 'CMS has no signers (a certificates-only message proves nothing)');
  // the unsigned parts of the structure are an allow-list too: a byte flipped in them must not pass
  // (found by the catalog's flipped-byte test): digestAlgorithms lists SHA-256 only (§5.1), with
  // absent or NULL parameters (RFC 5754 §2)
  for (const a of signed.digestAlgorithms) {
    if (a.algorithmId !== CMS_OID.sha256) return fail('policy', `CMS digestAlgorithms lists ${DIGEST_NAMES[a.algorithmId] ?? a.algorithmId}; the policy requires SHA-256`);
    if (!nullOrAbsent(a.algorithmParams)) return fail('malformed', 'CMS digestAlgorithms: SHA-256 parameters must be absent or NULL');
  }

  const eci = signed.encapContentInfo;
  let attached: Uint8Array | undefined;
  if (eci.eContent) {
    if (opts.requireDetached) return fail('policy', 'CMS must be detached (the image carries the signed bytes itself)');
    attached = new Uint8Array(eci.eContent.getValue());
  }
  if (opts.requireAttached && (!attached || eci.eContentType !== CMS_OID.data)) {
    return fail('policy', attached ? `CMS content type ${eci.eContentType} is not id-data` : 'CMS is detached; this file must carry its signed content inside (openssl cms -sign -nodetach)');
  }
  const content = attached ?? opts.content;
  if (!content) return fail('content', 'CMS is detached but no content was given to check it against');
  if (attached && opts.content && !equalBytes(attached, opts.content)) return fail('content', 'CMS carries content different from the file');

  const contentDigest = await sha256WebCrypto(content);
  const pool = [...inCms, ...(opts.extraCerts ?? [])];
  const signers: CmsSigner[] = [];
  for (const [i, si] of signed.signerInfos.entries()) {
    const who = `CMS signer ${i + 1} of ${signed.signerInfos.length}`;
    // RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier
    const bySki = !(si.sid instanceof pkijs.IssuerAndSerialNumber);
    if (si.version !== (bySki ? 3 : 1)) return fail('malformed', `${who}: SignerInfo version ${si.version} does not match its signer identifier (RFC 5652 §5.3)`);
    if (!nullOrAbsent(si.digestAlgorithm.algorithmParams)) return fail('malformed', `${who}: digest algorithm parameters must be absent or NULL`);
    const digestOid = si.digestAlgorithm.algorithmId;
    if (digestOid !== CMS_OID.sha256) return fail('policy', `${who} uses digest ${DIGEST_NAMES[digestOid] ?? digestOid}; the policy requires SHA-256`);
    const cert = findSigner(si, pool);
    if (!cert) return fail('chain', `${who}: its certificate is neither in the CMS nor supplied`);
    // Order: structure (malformed) → chain → content digest and signature (secure-update-frameworks
    // §4.4), so a report never shows a chain as checked when a signature failure stopped the work.
    let message: Uint8Array = content;
    let signingTime: Date | undefined;
    let claimedDigest: Uint8Array | undefined;
    for (const oid of [CMS_OID.contentType, CMS_OID.messageDigest, CMS_OID.signingTime]) {
      if (attrs(si.unsignedAttrs, oid).length) return fail('malformed', `${who}: attribute ${oid} must be a signed attribute`);
    }
    if (si.signedAttrs) {
      const ct = attrs(si.signedAttrs, CMS_OID.contentType);
      const md = attrs(si.signedAttrs, CMS_OID.messageDigest);
      const st = attrs(si.signedAttrs, CMS_OID.signingTime);
      if (ct.length !== 1 || ct[0]!.values.length !== 1) return fail('malformed', `${who}: signed attributes need exactly one contentType`);
      const ctv = ct[0]!.values[0];
      if (!(ctv instanceof asn1js.ObjectIdentifier) || ctv.valueBlock.toString() !== eci.eContentType) return fail('malformed', `${who}: contentType attribute does not match the content`);
      if (md.length !== 1 || md[0]!.values.length !== 1) return fail('malformed', `${who}: signed attributes need exactly one messageDigest`);
      const mdv = md[0]!.values[0];
      if (!(mdv instanceof asn1js.OctetString)) return fail('malformed', `${who}: messageDigest is not an OCTET STRING`);
      if (st.length > 1) return fail('malformed', `${who}: more than one signingTime`);
      const stv = st[0]?.values[0];
      if (stv instanceof asn1js.UTCTime || stv instanceof asn1js.GeneralizedTime) signingTime = stv.toDate();
      claimedDigest = new Uint8Array(mdv.valueBlock.valueHexView);
      message = new Uint8Array(si.signedAttrs.encodedValue);
    }
    const chain = await validateChain(cert, pool.filter((c) => !equalBytes(c.der, cert.der)), opts.anchors, opts.chain);
    if (!chain.ok) return fail('chain', `${who}: ${chain.reason}`);
    if (claimedDigest && !equalBytes(claimedDigest, contentDigest)) return fail('signature', `${who}: messageDigest does not match the content (content changed)`);
    const sigOid = si.signatureAlgorithm.algorithmId;
    const alg =
      sigOid === CMS_OID.rsaEncryption || sigOid === CMS_OID.sha256WithRSA
        ? SIG_ALG.RSA_PKCS1_SHA256
        : sigOid === CMS_OID.ecdsaWithSha256
          ? SIG_ALG.ECDSA_P256_SHA256
          : undefined; // Ed25519 in CMS needs SHA-512 with signed attributes (RFC 8419 §3), which the SHA-256 policy excludes
    if (alg === undefined) return fail('policy', `${who} uses signature algorithm ${sigOid}, which the policy does not allow`);
    let sig: Uint8Array = new Uint8Array(si.signature.valueBlock.valueHexView);
    if (alg === SIG_ALG.ECDSA_P256_SHA256) {
      const raw = ecdsaDerToRaw(sig);
      if (!raw) return fail('malformed', `${who}: malformed ECDSA signature`);
      sig = raw;
    }
    const v = await verifySignature(alg, cert.spki, sig, message);
    if (!v.ok) return fail('signature', `${who} (${cert.subject}): ${v.reason}`);
    signers.push({ certificate: cert, chain, signingTime });
  }
  return { ok: true, signers, certificates: inCms, attachedContent: attached };
}

/**
 * The encapsulated content, primitive: pkijs's constructor would split eContent into a constructed
 * OCTET STRING, which is BER, not the DER openssl writes (X.690 §10.2).
 */
function encapsulated(content: Uint8Array | undefined): pkijs.EncapsulatedContentInfo {
  const eci = new pkijs.EncapsulatedContentInfo({ eContentType: CMS_OID.data });
  if (content) eci.eContent = new asn1js.OctetString({ valueHex: content.slice().buffer });
  return eci;
}

/**
 * Makes a CMS SignedData over `content` with signed attributes (contentType, messageDigest,
 * signingTime), SHA-256, the signer certificate and chain included — the shape of
 * `openssl cms -sign -binary -outform DER -md sha256`: detached by default, with the content inside
 * when `attached` (as `-nodetach`; RFC 5652 §5.2 eContent).
 */
export async function createCms(opts: { content: Uint8Array; privateKey: CryptoKey; signer: Certificate; chain?: readonly Certificate[]; signingTime?: Date; attached?: boolean }): Promise<Uint8Array> {
  const digest = await sha256WebCrypto(opts.content);
  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: encapsulated(opts.attached ? opts.content : undefined),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: opts.signer.pki.issuer, serialNumber: opts.signer.pki.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({
          type: 0,
          attributes: [
            new pkijs.Attribute({ type: CMS_OID.contentType, values: [new asn1js.ObjectIdentifier({ value: CMS_OID.data })] }),
            new pkijs.Attribute({ type: CMS_OID.signingTime, values: [new asn1js.UTCTime({ valueDate: opts.signingTime ?? new Date() })] }),
            new pkijs.Attribute({ type: CMS_OID.messageDigest, values: [new asn1js.OctetString({ valueHex: digest.slice().buffer })] }),
          ],
        }),
      }),
    ],
    certificates: [opts.signer.pki, ...(opts.chain ?? []).map((c) => c.pki)],
  });
  await signedData.sign(opts.privateKey, 0, 'SHA-256', opts.content.slice().buffer);
  const ci = new pkijs.ContentInfo({ contentType: CMS_OID.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(ci.toSchema().toBER(false));
}
