/**
 * Pre-flight verification of a signed image, in the order of secure-update-frameworks §4.4 and
 * DESIGN.md: size caps → strict parse → key → chain (EKU, validity) → signature over the exact
 * signed bytes → policy (expiry, forbidden versions) → device identity and secured flag → security
 * version → payload digest. The format check may reject on what the manifest holds (a malformed
 * nextKeys entry); every check that could *pass* because of a manifest claim runs only once the
 * manifest is authenticated. The verdict starts
 * as "reject" and is decided once (report.ts). Nothing here throws for bad input.
 */
import { toHex } from '../bytes/hex.ts';
import { HEAD_MAX, HEADER_SIZE, IMAGE_MAX, SIG_ENTRY, type Manifest } from '../image/layout.ts';
import { describeFormatError, parseImageHead, type ImageHead } from '../image/parse.ts';
import { verifyCms, type CmsResult } from '../crypto/cms.ts';
import { isDemoKeyId } from '../crypto/demo-keys.ts';
import { sha256Blob, sha256Chunked, sha256WebCrypto, type BlobLike, type HashProgress } from '../crypto/sha256.ts';
import { blockPlanOf, type BlockPlan } from '../image/hash-blocks.ts';
import { badBlocks, describeBadBlocks, hashBlocksWebCrypto, type BadBlock, type BlockHasher } from './block-check.ts';
import { verifySignature } from '../crypto/signature.ts';
import { findTrustedKey, type TrustStore } from '../crypto/trust.ts';
import { parseCertificate, validateChain, type Certificate } from '../crypto/x509.ts';
import { revocationSummary } from '../crypto/crl.ts';
import { deviceChecks, HOST_ONLY_CLOCK, type DeviceIdentity, type RawSignature } from './device-checks.ts';
import { ESSENTIAL, nowOverride, ReportBuilder, type CheckId, type Report, type SignerInfo } from './report.ts';
import { overrideRefusal, productionRow, PRODUCTION_RULES } from './production.ts';
import { equalBytes } from '../bytes/hex.ts';
import { checkCatalog, type CatalogCheckInput } from '../catalog/catalog-check.ts';

export interface VerifyOptions {
  readonly trust: TrustStore;
  readonly device?: DeviceIdentity;
  /** Validation time for certificates and expiry (default: now). */
  readonly now?: Date;
  readonly onProgress?: (p: HashProgress) => void;
  readonly signal?: AbortSignal;
  readonly chunkSize?: number;
  /**
   * Format v2: hashes the payload's blocks (default: sequential WebCrypto, one block in memory at a
   * time). The CLI passes its worker pool; the verdict is the same whichever hashes.
   */
  readonly blockHasher?: BlockHasher;
  /**
   * Production mode (production.ts): DEMO keys, development images, final images, demo nextKeys and
   * overrides (`now`) fail the "Production mode" row instead of being noticed. The one switch the
   * CLI's `--production`, the page's setting and a trust bundle all set.
   */
  readonly production?: boolean;
  /**
   * A release catalog (catalog-verify.ts, already verified or refused) and the highest sequences
   * seen before: adds the `catalog` row, judged only on an authenticated manifest. Without it the
   * row is skipped, never passed.
   */
  readonly catalog?: CatalogCheckInput;
}

const AFTER_AUTH: readonly CheckId[] = ['nextKeys', 'expiry', 'forbidden', 'device', 'secured', 'devImage', 'securityVersion', 'deviceKey', 'fits', 'pending', 'catalog', 'payload'];
const ALL: readonly CheckId[] = ['size', 'format', 'key', 'chain', 'signature', 'production', ...AFTER_AUTH];

export { HOST_ONLY_CLOCK, type DeviceIdentity };
/** Appended to the rows only the host can decide (issue #10, S7). */
export const HOST_ONLY_CERTS = 'checked by this host only (the device reads no certificates)';

/** Skips every check not yet decided; the "Production mode" row exists only in production mode, and says it is on. */
function skipFrom(b: ReportBuilder, reason: string, production: boolean): void {
  for (const id of ALL) {
    if (b.has(id) || (id === 'production' && !production)) continue;
    b.skip(id, id === 'production' ? `production mode on (${PRODUCTION_RULES}); ${reason}` : reason);
  }
}

const isBytes = (s: Uint8Array | BlobLike): s is Uint8Array => s instanceof Uint8Array;
const short = (id: Uint8Array) => toHex(id).slice(0, 16);

interface Resolved {
  entry: RawSignature;
  index: number;
  spki: Uint8Array;
  via: 'trusted key' | 'certificate';
  cert?: Certificate;
}

/** Text that marks a report made by the last-resort net below; tests assert it never appears. */
export const INTERNAL_ERROR = 'internal error';

/**
 * Verifies an image held in memory or in a Blob/File (streamed: the payload is never held whole).
 * Never throws: bad input is a failed check; a bug is reported as a failed check too, not a crash.
 */
export async function verifyImage(source: Uint8Array | BlobLike, opts: VerifyOptions): Promise<Report> {
  const b = new ReportBuilder();
  if (opts.now) b.overrides.push(nowOverride(opts.now));
  const essential = opts.production ? [...ESSENTIAL, 'production' as const] : ESSENTIAL;
  const refused = opts.production ? overrideRefusal(b.overrides) : undefined;
  if (refused) {
    b.fail('production', refused);
    skipFrom(b, 'not checked: production mode refuses the override', true);
    return b.finish({ fileSize: source instanceof Uint8Array ? source.length : source.size, deviceVerifies: true }, essential);
  }
  try {
    return await verifyInto(b, source, opts);
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    const pending = ALL.find((id) => !b.has(id)) ?? 'payload';
    b.fail(pending, `${INTERNAL_ERROR}: ${(e as Error)?.message ?? String(e)}`);
    skipFrom(b, 'not checked after an internal error', opts.production === true);
    return b.finish({ fileSize: source instanceof Uint8Array ? source.length : source.size, deviceVerifies: true }, essential);
  }
}

async function verifyInto(b: ReportBuilder, source: Uint8Array | BlobLike, opts: VerifyOptions): Promise<Report> {
  const now = opts.now ?? new Date();
  const production = opts.production === true;
  const total = isBytes(source) ? source.length : source.size;
  let releaseDigest: string | undefined;
  let formatVersion: number | undefined;
  let bad: readonly BadBlock[] | undefined;
  const finish = (manifest?: Manifest, payloadSha256?: string) =>
    b.finish({
      fileSize: total,
      deviceVerifies: true,
      ...(manifest ? { manifest } : {}),
      ...(payloadSha256 ? { payloadSha256 } : {}),
      ...(formatVersion !== undefined ? { formatVersion } : {}),
      ...(releaseDigest ? { releaseDigest } : {}),
      ...(bad ? { badBlocks: bad } : {}),
    }, production ? [...ESSENTIAL, 'production'] : ESSENTIAL);

  // 1. Size, before reading a byte (a 3 GiB file is refused here, unread).
  if (total < HEADER_SIZE) {
    b.fail('size', total === 0 ? 'the file is empty' : `the file is ${total} byte${total === 1 ? '' : 's'}; a signed image starts with a ${HEADER_SIZE}-byte header`);
    skipFrom(b, 'not checked: the file is too small to be an image', production);
    return finish();
  }
  if (total > IMAGE_MAX) {
    b.fail('size', `the file is ${total} bytes, larger than the largest possible image (${IMAGE_MAX} bytes: 2 GiB payload plus headers)`);
    skipFrom(b, 'not checked: the file is larger than any valid image', production);
    return finish();
  }
  b.pass('size', `${total} bytes, within the caps`);

  // 2. Strict parse of everything before the payload.
  const prefixLen = Math.min(total, HEAD_MAX);
  let prefix: Uint8Array;
  try {
    prefix = isBytes(source) ? source.subarray(0, prefixLen) : new Uint8Array(await source.slice(0, prefixLen).arrayBuffer());
  } catch (e) {
    b.fail('format', `the file could not be read: ${(e as Error).message}`);
    skipFrom(b, 'not checked: the file could not be read', production);
    return finish();
  }
  const parsed = parseImageHead(prefix, total);
  if (!parsed.ok) {
    b.fail('format', describeFormatError(parsed.error));
    skipFrom(b, 'not checked: the image does not parse', production);
    return finish();
  }
  const head: ImageHead = parsed.value;
  const m = head.manifest;
  formatVersion = head.formatVersion;
  // the release digest names the release (header ‖ manifest, the v2 table included): it is what was signed
  releaseDigest = toHex(await sha256WebCrypto(prefix.subarray(0, head.signedLength)));
  const certs: Certificate[] = [];
  const problems: string[] = [];
  // an entry repeated byte for byte explains nothing and is refused (the block is the one unsigned region)
  const seenEntries = new Map<string, number>();
  for (const [i, e] of head.entries.entries()) {
    const key = e.type === SIG_ENTRY.SIGNATURE ? `${e.type}:${toHex(e.keyId)}:${toHex(e.signature)}` : `${e.type}:${toHex(e.der)}`;
    const first = seenEntries.get(key);
    if (first !== undefined) problems.push(`signatures.entry[${i}] repeats entry[${first}]${e.type === SIG_ENTRY.CERTIFICATE ? ` (${HOST_ONLY_CERTS})` : ''}`);
    else seenEntries.set(key, i);
  }
  for (const [i, e] of head.entries.entries()) {
    if (e.type !== SIG_ENTRY.CERTIFICATE) continue;
    const c = await parseCertificate(e.der);
    if (c.ok) certs.push(c.value);
    else problems.push(`signatures.entry[${i}]: ${c.reason} (${HOST_ONLY_CERTS})`);
  }
  if (m.minSecurityVersion !== undefined && m.minSecurityVersion > m.securityVersion) {
    problems.push(`manifest.minSecurityVersion ${m.minSecurityVersion} is above the image's own securityVersion ${m.securityVersion}`);
  }
  if (problems.length) {
    b.fail('format', problems.join('; '));
    skipFrom(b, 'not checked: the image does not parse', production);
    return finish(m);
  }
  const plan = blockPlanOf(head);
  const blocksText = plan ? ` in ${plan.count} hash block${plan.count === 1 ? '' : 's'} of ${plan.blockSize} bytes` : '';
  b.pass('format', `format v${head.formatVersion}: ${head.manifestSize}-byte manifest, ${head.entries.length} signature-block entr${head.entries.length === 1 ? 'y' : 'ies'}, ${head.payloadSize}-byte payload${blocksText}; no trailing bytes`);

  // 3. Which keys signed it, and are they known? Signatures by keys this host does not hold are
  // ignored and reported as not checked (issue #10, S3: a dual-signed rotation image keeps
  // working); at least one signature must be by a key it holds.
  const raw = head.entries.flatMap((e, index) => (e.type === SIG_ENTRY.SIGNATURE ? [{ e: e as RawSignature, index }] : []));
  const cmsEntries = head.entries.flatMap((e, index) => (e.type === SIG_ENTRY.CMS ? [{ e, index }] : []));
  if (raw.length === 0 && cmsEntries.length === 0) {
    b.fail('key', 'the image carries no signature (unsigned image); a secure device refuses it');
    skipFrom(b, 'not checked: nothing to verify without a signature', production);
    return finish(m);
  }
  let resolved: Resolved[] = [];
  const ignored: string[] = [];
  for (const { e: entry, index } of raw) {
    const cert = certs.find((c) => equalBytes(c.keyId, entry.keyId));
    const trusted = findTrustedKey(opts.trust, entry.keyId);
    if (cert) resolved.push({ entry, index, spki: cert.spki, via: 'certificate', cert });
    else if (trusted?.certificate) resolved.push({ entry, index, spki: trusted.spki, via: 'certificate', cert: trusted.certificate });
    else if (trusted) resolved.push({ entry, index, spki: trusted.spki, via: 'trusted key' });
    else ignored.push(`signature ${index + 1} (key ${short(entry.keyId)}…): not checked: key not trusted`);
  }
  if (resolved.length === 0 && cmsEntries.length === 0) {
    const which = raw.map(({ e, index }) => `signature ${index + 1} is by key ${short(e.keyId)}…`).join('; ');
    b.fail('key', `${which}, which is neither in the trust store nor in a certificate carried by the image. Add the vendor's root certificate or public key to the trust store if you trust it.`);
    skipFrom(b, 'not checked: no signing key is known', production);
    return finish(m);
  }
  b.pass('key', [...resolved.map((r) => `key ${short(r.entry.keyId)}… (${r.via === 'certificate' ? `certificate "${r.cert!.subject}"` : 'trusted key'})`), ...cmsEntries.map(() => 'a CMS SignedData'), ...ignored].join('; '));

  // 4. Chains (validity at `now`, EKU codeSigning, pathLen), and every carried certificate must be
  // used. A certificate-backed signature whose chain reaches no trust anchor is by a key this host
  // does not trust: ignored like an unknown key, unless no trusted signature is left.
  const chainNotes: string[] = [];
  /** Reported only once their signatures verify. */
  const signers: SignerInfo[] = [];
  /** DER (hex) of every certificate on a validated path. */
  const used = new Set<string>();
  let chainFailed: string | undefined;
  const untrustedChains: { r: Resolved; reason: string }[] = [];
  const chained: Resolved[] = [];
  // revocation (crl.ts): a revoked signer, or one whose CRL cannot be trusted, is refused outright,
  // never ignored like a key this host does not know
  const crls = opts.trust.crls ?? [];
  const revocationNotes: string[] = [];
  const onPaths: Certificate[] = [...opts.trust.anchors];
  let revoked: string | undefined;
  for (const r of resolved) {
    const trusted = findTrustedKey(opts.trust, r.entry.keyId);
    const demo = isDemoKeyId(r.entry.keyId) || (trusted?.demo ?? false);
    if (r.via === 'trusted key') {
      signers.push({ keyId: toHex(r.entry.keyId), via: 'trusted key', demo, ...(trusted ? { anchor: trusted.label } : {}) });
      chainNotes.push(`key ${short(r.entry.keyId)}… is trusted directly`);
      chained.push(r);
      continue;
    }
    const chain = await validateChain(r.cert!, certs.filter((c) => !equalBytes(c.der, r.cert!.der)), opts.trust.anchors, { time: now, crls });
    if (!chain.ok) {
      if (chain.revocation) revoked ??= chain.reason;
      untrustedChains.push({ r, reason: chain.reason });
      continue;
    }
    revocationNotes.push(...(chain.revocation ?? []));
    onPaths.push(...chain.path);
    chained.push(r);
    for (const c of chain.path) used.add(toHex(c.der));
    const anchorDemo = isDemoKeyId(chain.anchor.keyId);
    signers.push({ keyId: toHex(r.entry.keyId), via: 'certificate', subject: r.cert!.subject, anchor: chain.anchor.subject, demo: demo || anchorDemo });
    chainNotes.push(`"${r.cert!.subject}" → ${chain.path.length > 1 ? chain.path.slice(1).map((c) => `"${c.subject}"`).join(' → ') : '(trusted directly)'}`);
  }
  const cmsPrefix = isBytes(source) ? source.subarray(0, head.signedLength) : prefix.subarray(0, head.signedLength);
  const cmsResults: { r: CmsResult; index: number }[] = [];
  for (const { e, index } of cmsEntries) {
    const r = await verifyCms((e as { der: Uint8Array }).der, { content: cmsPrefix, anchors: opts.trust.anchors, extraCerts: certs, chain: { time: now, crls }, requireDetached: true });
    cmsResults.push({ r, index });
  }
  if (revoked) chainFailed = revoked;
  else if (chained.length === 0 && cmsEntries.length === 0 && untrustedChains[0]) chainFailed = untrustedChains[0].reason;
  const cmsChainFail = cmsResults.find(({ r }) => !r.ok && (r.kind === 'chain' || r.kind === 'policy' || r.kind === 'malformed'));
  if (!chainFailed && cmsChainFail && !cmsChainFail.r.ok) chainFailed = `signatures.entry[${cmsChainFail.index}]: ${cmsChainFail.r.reason}`;
  for (const { r } of cmsResults) if (r.ok) for (const s of r.signers) for (const c of s.chain.path) used.add(toHex(c.der));
  const carried = [...certs, ...cmsResults.flatMap(({ r }) => (r.ok ? r.certificates : []))];
  const unusedCert = carried.find((c) => !used.has(toHex(c.der)));
  if (!chainFailed && unusedCert) chainFailed = `certificate "${unusedCert.subject}" in the image is not part of any signer's chain (unexplained bytes are not accepted)`;
  if (chainFailed) {
    b.fail('chain', `${chainFailed}; ${HOST_ONLY_CERTS}`);
    skipFrom(b, 'not checked: the signer is not trusted', production);
    return finish(m);
  }
  resolved = chained;
  for (const { r } of untrustedChains) ignored.push(`signature ${r.index + 1} (certificate "${r.cert!.subject}"): not checked: key not trusted`);
  for (const { r } of cmsResults) {
    if (!r.ok) continue;
    for (const s of r.signers) {
      const demo = isDemoKeyId(s.certificate.keyId) || isDemoKeyId(s.chain.anchor.keyId);
      signers.push({ keyId: toHex(s.certificate.keyId), via: 'cms', subject: s.certificate.subject, anchor: s.chain.anchor.subject, demo });
      chainNotes.push(`CMS signer "${s.certificate.subject}" → "${s.chain.anchor.subject}"`);
      revocationNotes.push(...(s.chain.revocation ?? []));
      onPaths.push(...s.chain.path);
    }
  }
  if (resolved.every((r) => r.via === 'trusted key') && cmsEntries.length === 0) b.skip('chain', `no certificates: ${chainNotes.join('; ')}`);
  else b.pass('chain', `valid at ${now.toISOString()} for code signing: ${chainNotes.join('; ')}; ${revocationSummary(crls, revocationNotes, onPaths)}; ${HOST_ONLY_CERTS}`);

  // 5. Every signature by a key this host holds, over header || manifest, must verify.
  const signed = cmsPrefix;
  const sigFailures: string[] = [];
  const verifiedIds = new Set<number>();
  for (const r of resolved) {
    const v = await verifySignature(r.entry.alg, r.spki, r.entry.signature, signed);
    if (!v.ok) sigFailures.push(`signature ${r.index + 1}: ${v.reason}`);
    else verifiedIds.add(r.index);
  }
  for (const { r, index } of cmsResults) if (!r.ok) sigFailures.push(`signatures.entry[${index}] (CMS): ${r.reason}`);
  if (sigFailures.length) {
    b.fail('signature', `${sigFailures.join('; ')}. The header or manifest was changed after signing, or the signature is corrupt.`);
    skipFrom(b, 'not checked: the manifest is not authenticated', production);
    return finish(m);
  }
  const n = resolved.length + cmsEntries.length;
  const notChecked = ignored.length ? `; ${ignored.join('; ')}` : '';
  b.pass('signature', `${n} signature${n === 1 ? '' : 's'} over the header and manifest (${head.signedLength} bytes) verif${n === 1 ? 'ies' : 'y'}${notChecked}`);
  b.signers.push(...signers);
  if (production) {
    // refused outright, not noticed; the rows after it still run, so the report shows everything
    const ok = await productionRow(b, { signers, manifest: m, ...(opts.device?.keyIds ? { deviceKeyIds: opts.device.keyIds } : {}) });
    if (!ok) b.notices.push(`Production mode: ${PRODUCTION_RULES}.`);
  } else {
    if (signers.some((s) => s.demo)) b.notices.push('Signed with a DEMO key whose private half is public: this proves nothing outside a demo. Never trust demo keys on real devices.');
    if (m.dev) b.notices.push('This is a development image (dev flag set); production devices refuse it.');
  }

  // 6–9. What the image says against the device and the clock (device-checks.ts).
  await deviceChecks(b, { m, head, raw, verifiedIds, certs, trust: opts.trust, signed, now, ...(opts.device ? { device: opts.device } : {}) });

  // 10. The release catalog (docs/catalog.md): listed, not withdrawn, current or accepted, fresh, not rolled back.
  if (!opts.catalog) b.skip('catalog', 'no release catalog loaded (--catalog): whether this is a current, unwithdrawn release was not checked');
  else {
    const v = checkCatalog({ ...opts.catalog, manifest: m, releaseDigest: releaseDigest!, now, ...(opts.device ? { devicePsid: opts.device.psid } : {}), ...(opts.production ? { production: true } : {}) });
    b.add('catalog', v.status, v.reason);
  }

  // 11. Payload: v2 block by block against the signed table (no whole-payload digest), v1 one
  // digest streamed over the same source.
  if (plan) {
    let digests: Uint8Array;
    try {
      digests = await (opts.blockHasher ?? hashBlocksWebCrypto)({ source, plan, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
      b.fail('payload', `the payload could not be read: ${(e as Error).message}`);
      return finish(m);
    }
    bad = badBlocks(plan, digests);
    if (bad.length === 0) b.pass('payload', blocksPassText(plan));
    else b.fail('payload', describeBadBlocks(plan, bad));
    return finish(m);
  }
  let digest: Uint8Array;
  try {
    digest = isBytes(source)
      ? await sha256Chunked(source.subarray(head.payloadOffset), { ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) })
      : await sha256Blob(source, { start: head.payloadOffset, end: total, ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (e) {
    b.fail('payload', `the payload could not be read: ${(e as Error).message}`);
    return finish(m);
  }
  const signedDigest = m.payloadSha256!; // a v1 manifest always has it (parse.ts)
  if (equalBytes(digest, signedDigest)) b.pass('payload', `SHA-256 ${toHex(digest)} matches the manifest`);
  else b.fail('payload', `SHA-256 of the payload is ${toHex(digest)}, the manifest says ${toHex(signedDigest)}: the payload was changed after signing`);
  return finish(m, toHex(digest));
}

function blocksPassText(plan: BlockPlan): string {
  if (plan.count === 0) return 'an empty payload: the signed table is empty';
  const last = plan.payloadSize - (plan.count - 1) * plan.blockSize;
  const tail = last === plan.blockSize ? '' : ` (the last one ${last} bytes)`;
  return `all ${plan.count} hash block${plan.count === 1 ? '' : 's'} of ${plan.blockSize} bytes${tail} match the signed table`;
}
