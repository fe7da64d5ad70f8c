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
import { compareVersions } from '../image/version.ts';
import { HEAD_MAX, HEADER_SIZE, IMAGE_MAX, SIG_ALG, SIG_ENTRY, type Manifest, type SigEntry } from '../image/layout.ts';
import { describeFormatError, parseImageHead, type ImageHead } from '../image/parse.ts';
import { verifyCms, type CmsResult } from '../crypto/cms.ts';
import { isDemoKeyId } from '../crypto/demo-keys.ts';
import { sha256Blob, sha256Chunked, sha256WebCrypto, type BlobLike, type HashProgress } from '../crypto/sha256.ts';
import { blockPlanOf, type BlockPlan } from '../image/hash-blocks.ts';
import { badBlocks, describeBadBlocks, hashBlocksSequential, type BadBlock, type BlockHasher } from './block-check.ts';
import { verifySignature } from '../crypto/signature.ts';
import { findTrustedKey, type TrustStore } from '../crypto/trust.ts';
import { parseCertificate, validateChain, type Certificate } from '../crypto/x509.ts';
import { revocationSummary } from '../crypto/crl.ts';
import { nowOverride, ReportBuilder, type CheckId, type Report, type SignerInfo } from './report.ts';
import { equalBytes } from '../bytes/hex.ts';
import { algorithmsText, checkNextKeys, FINAL_IMAGE_NOTICE, keyAlgorithmBit } from './next-keys.ts';
import { FAMILY_ALGORITHMS, VERIFIABLE_ALG } from './algorithms.ts';

/**
 * What the host knows about the target device: from its QUERY answer (the update session), or
 * DEVICE.json (`trustflash verify --device`). Every field but the PSID is optional; a check whose
 * input the device did not give is skipped and says so.
 */
export interface DeviceIdentity {
  readonly psid: string;
  readonly deviceId?: number;
  readonly version?: string;
  /**
   * The security-version floor as one number (DEVICE.json). The session gives the three parts
   * below instead; the floor is the largest of all given (issue #10, S1).
   */
  readonly securityVersion?: number;
  /** QUERY tag 11: the SVN burnt into the fuses. */
  readonly fusedSvn?: number;
  /** QUERY tag 12: the running image's SVN. */
  readonly runningSvn?: number;
  /** QUERY tag 13: the running image's minimum SVN for the next image. */
  readonly runningMinSvn?: number;
  readonly forbiddenVersions?: readonly string[];
  /** QUERY tag 14: SHA-256 (lowercase hex) of each key the running image embeds. */
  readonly keyIds?: readonly string[];
  /** QUERY tag 22: the largest image the device takes (its bank). */
  readonly maxImageSize?: number;
  /**
   * QUERY tags 2 / 16: the version already pending (activated, waiting for a reset), true when
   * only the bank state says so, false when nothing is pending; absent when not known.
   */
  readonly pending?: string | boolean;
  /** QUERY tag 10 bit 2: a development device (accepts development images). */
  readonly devDevice?: boolean;
  /** QUERY tag 25: the signature algorithms the device verifies (absent: an older device, the family rule). */
  readonly verifiableAlgorithms?: number;
}

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
}

const AFTER_AUTH: readonly CheckId[] = ['nextKeys', 'expiry', 'forbidden', 'device', 'secured', 'devImage', 'securityVersion', 'deviceKey', 'fits', 'pending', 'payload'];
const ALL: readonly CheckId[] = ['size', 'format', 'key', 'chain', 'signature', ...AFTER_AUTH];

/** Appended to the rows only the host can decide (issue #10, S7). */
export const HOST_ONLY_CLOCK = 'checked by this host only (the device has no clock)';
export const HOST_ONLY_CERTS = 'checked by this host only (the device reads no certificates)';

function skipFrom(b: ReportBuilder, reason: string): void {
  for (const id of ALL) if (!b.has(id)) b.skip(id, reason);
}

const isBytes = (s: Uint8Array | BlobLike): s is Uint8Array => s instanceof Uint8Array;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const short = (id: Uint8Array) => toHex(id).slice(0, 16);

type RawSignature = SigEntry & { type: typeof SIG_ENTRY.SIGNATURE };
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
  try {
    return await verifyInto(b, source, opts);
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    const pending = ALL.find((id) => !b.has(id)) ?? 'payload';
    b.fail(pending, `${INTERNAL_ERROR}: ${(e as Error)?.message ?? String(e)}`);
    skipFrom(b, 'not checked after an internal error');
    return b.finish({ fileSize: source instanceof Uint8Array ? source.length : source.size, deviceVerifies: true });
  }
}

async function verifyInto(b: ReportBuilder, source: Uint8Array | BlobLike, opts: VerifyOptions): Promise<Report> {
  const now = opts.now ?? new Date();
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
    });

  // 1. Size, before reading a byte (a 3 GiB file is refused here, unread).
  if (total < HEADER_SIZE) {
    b.fail('size', total === 0 ? 'the file is empty' : `the file is ${total} byte${total === 1 ? '' : 's'}; a signed image starts with a ${HEADER_SIZE}-byte header`);
    skipFrom(b, 'not checked: the file is too small to be an image');
    return finish();
  }
  if (total > IMAGE_MAX) {
    b.fail('size', `the file is ${total} bytes, larger than the largest possible image (${IMAGE_MAX} bytes: 2 GiB payload plus headers)`);
    skipFrom(b, 'not checked: the file is larger than any valid image');
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
    skipFrom(b, 'not checked: the file could not be read');
    return finish();
  }
  const parsed = parseImageHead(prefix, total);
  if (!parsed.ok) {
    b.fail('format', describeFormatError(parsed.error));
    skipFrom(b, 'not checked: the image does not parse');
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
    skipFrom(b, 'not checked: the image does not parse');
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
    skipFrom(b, 'not checked: nothing to verify without a signature');
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
    skipFrom(b, 'not checked: no signing key is known');
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
    skipFrom(b, 'not checked: the signer is not trusted');
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
    skipFrom(b, 'not checked: the manifest is not authenticated');
    return finish(m);
  }
  const n = resolved.length + cmsEntries.length;
  const notChecked = ignored.length ? `; ${ignored.join('; ')}` : '';
  b.pass('signature', `${n} signature${n === 1 ? '' : 's'} over the header and manifest (${head.signedLength} bytes) verif${n === 1 ? 'ies' : 'y'}${notChecked}`);
  b.signers.push(...signers);
  if (signers.some((s) => s.demo)) b.notices.push('Signed with a DEMO key whose private half is public: this proves nothing outside a demo. Never trust demo keys on real devices.');
  if (m.dev) b.notices.push('This is a development image (dev flag set); production devices refuse it.');

  const d = opts.device;
  const noDevice = 'no device given: connect a device or pass its identity to check this';

  // 6. After this image, can the device verify another update? (issue #10, S2)
  const mask = d?.verifiableAlgorithms;
  const nk = checkNextKeys(m.nextKeys, { ...(mask !== undefined ? { mask, from: 'device' as const } : {}), finalImage: m.finalImage === true });
  if (nk.ok) b.pass('nextKeys', nk.reason);
  else b.fail('nextKeys', nk.reason);
  if (m.finalImage && nk.ok && nk.usable.length === 0) b.notices.push(FINAL_IMAGE_NOTICE);
  else if (m.finalImage) b.notices.push('The image is marked as a final image (finalImage), yet its nextKeys still hold a key the device can verify further updates with.');

  // 7. Freshness: the host's clock only.
  const t = Math.floor(now.getTime() / 1000);
  if (m.expires !== undefined && m.expires < t) b.fail('expiry', `the image expired on ${iso(m.expires)}; ask the vendor for a current release; ${HOST_ONLY_CLOCK}`);
  else if (m.releaseDate > t + 86400) b.fail('expiry', `the release date ${iso(m.releaseDate)} is in the future; check this computer's clock; ${HOST_ONLY_CLOCK}`);
  else b.pass('expiry', `released ${iso(m.releaseDate)}${m.expires !== undefined ? `, valid until ${iso(m.expires)}` : ', no expiry'}; ${HOST_ONLY_CLOCK}`);

  // 8. Policy against the device: forbidden versions (the device's list), identity, secured flag,
  // development image, security-version floor.
  if (!d) b.skip('forbidden', noDevice);
  else if ((d.forbiddenVersions ?? []).includes(m.version)) b.fail('forbidden', `version ${m.version} is on this device's forbidden list; choose another release`);
  else b.pass('forbidden', `version ${m.version} is not on the device's forbidden list (${(d.forbiddenVersions ?? []).length} entries)`);
  if (!d) b.skip('device', noDevice);
  else if (!m.psids.includes(d.psid)) b.fail('device', `the image is for PSID ${m.psids.join(', ')}; this device is ${d.psid || '(no PSID reported)'}. Get the image made for this board.`);
  else if (d.deviceId !== undefined && m.deviceIds.length > 0 && !m.deviceIds.includes(d.deviceId)) b.fail('device', `the image is for device id ${m.deviceIds.join(', ')}; this device is ${d.deviceId}. Get the image made for this board.`);
  else b.pass('device', `PSID ${d.psid}${d.deviceId !== undefined ? `, device id ${d.deviceId}` : ''} is listed in the manifest`);
  if (m.secured) b.pass('secured', 'the image is marked secured');
  else b.fail('secured', 'the image is not a secured image; a device running secure firmware refuses it');
  if (!m.dev) b.pass('devImage', 'a production image');
  else if (!d || d.devDevice === undefined) b.skip('devImage', d ? 'a development image, and the device did not say whether it is a development device' : `a development image; ${noDevice}`);
  else if (!d.devDevice) b.fail('devImage', 'a development image, and this is a production device: it refuses development images (MCC 0x32). Use the production release.');
  else b.pass('devImage', 'a development image, and this is a development device');
  securityVersionCheck(b, m, d, noDevice);

  // 9. What the device checks with what it holds: its keys, its bank, its pending image.
  await deviceKeyCheck(b, raw, verifiedIds, certs, opts.trust, signed, d, noDevice);
  if (!d) b.skip('fits', noDevice);
  else if (d.maxImageSize === undefined) b.skip('fits', 'the device did not report its bank size');
  else if (head.totalSize > d.maxImageSize) b.fail('fits', `the image is ${head.totalSize} bytes; the device's bank holds ${d.maxImageSize}. Get the image made for this board.`);
  else b.pass('fits', `${head.totalSize} bytes fit the device's ${d.maxImageSize}-byte bank`);
  if (!d) b.skip('pending', noDevice);
  else if (d.pending === undefined) b.skip('pending', 'the device did not say whether an image is pending');
  else if (d.pending !== false) b.fail('pending', `${d.pending === true ? 'an image' : `version ${d.pending}`} is already pending on the device (activated, waiting for a reset): reset the device to run it, or undo it, then update`);
  else b.pass('pending', 'no image is waiting for a reset on the device');

  // 11. Payload: v2 block by block against the signed table (no whole-payload digest), v1 one
  // digest streamed over the same source.
  if (plan) {
    let digests: Uint8Array;
    try {
      digests = await (opts.blockHasher ?? hashBlocksSequential)({ source, plan, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
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

/** The floor is the largest of the fused SVN, the running image's SVN and its minimum (issue #10, S1). */
function securityVersionCheck(b: ReportBuilder, m: Manifest, d: DeviceIdentity | undefined, noDevice: string): void {
  if (!d) return b.skip('securityVersion', noDevice);
  const all: [number | undefined, string][] = [
    [d.securityVersion, 'security version'],
    [d.fusedSvn, 'fused security version'],
    [d.runningSvn, "running image's security version"],
    [d.runningMinSvn, "running image's minimum security version"],
  ];
  const parts = all.filter((p): p is [number, string] => p[0] !== undefined);
  if (parts.length === 0) return b.skip('securityVersion', 'the device did not report a security version');
  const floor = Math.max(...parts.map((p) => p[0]));
  const why = parts.filter((p) => p[0] === floor).map((p) => p[1]).join(' and ');
  if (m.securityVersion < floor) {
    return void b.fail('securityVersion', `image security version ${m.securityVersion} is below ${floor}, the device's ${why}: a downgrade to a version with known vulnerabilities is refused`);
  }
  const vs = d.version ? ` (version ${d.version} → ${m.version}${compareVersions(m.version, d.version) < 0 ? ', an older release at the same security level' : ''})` : '';
  b.pass('securityVersion', `image security version ${m.securityVersion} ≥ device's ${floor} (${why})${vs}`);
}

/**
 * The device verifies only RSA-2048 PKCS#1 v1.5 / SHA-256 signatures by keys its running image
 * embeds (QUERY tag 14): every such signature must verify and at least one must exist (S3). The
 * key id is the SHA-256 of the key, so any copy of the key this host has — a trusted key or a
 * certificate carried by the image, trusted or not — is that very key, and the host checks the
 * signature with it as the device will.
 */
async function deviceKeyCheck(
  b: ReportBuilder,
  raw: readonly { e: RawSignature; index: number }[],
  verified: ReadonlySet<number>,
  certs: readonly Certificate[],
  trust: TrustStore,
  signed: Uint8Array,
  d: DeviceIdentity | undefined,
  noDevice: string,
): Promise<void> {
  if (!d) return b.skip('deviceKey', noDevice);
  if (d.keyIds === undefined) return b.skip('deviceKey', "the device's keys were not given (an update session reads them from the device)");
  if (d.keyIds.length === 0) return void b.fail('deviceKey', 'the device reports no embedded keys (QUERY tag 14): it can verify no image. Its firmware needs service.');
  const mask = d.verifiableAlgorithms ?? FAMILY_ALGORITHMS;
  if ((mask & VERIFIABLE_ALG.RSA2048_PKCS1_SHA256) === 0) return void b.fail('deviceKey', `the device verifies ${algorithmsText(mask)}; this host knows no image signature it could check`);
  const held = new Set(d.keyIds.map((k) => k.toLowerCase()));
  const checked: string[] = [];
  for (const { e, index } of raw) {
    // the device looks only at RSA-2048 PKCS#1 v1.5 signatures (256 bytes) by keys it holds
    if (!held.has(toHex(e.keyId)) || e.alg !== SIG_ALG.RSA_PKCS1_SHA256 || e.signature.length !== 256) continue;
    const spki = certs.find((c) => equalBytes(c.keyId, e.keyId))?.spki ?? findTrustedKey(trust, e.keyId)?.spki;
    if (!spki) {
      return void b.fail('deviceKey', `signature ${index + 1} is by key ${short(e.keyId)}…, which the device holds, but this host has no copy of that key to check the signature as the device will: add the key's public key or certificate to the trust store`);
    }
    if (keyAlgorithmBit(spki) !== VERIFIABLE_ALG.RSA2048_PKCS1_SHA256) continue; // a held key of another kind: the device cannot use it
    const ok = verified.has(index) || (await verifySignature(e.alg, spki, e.signature, signed)).ok;
    if (!ok) return void b.fail('deviceKey', `signature ${index + 1} by key ${short(e.keyId)}…, which the device holds, does not verify: the device refuses the image (MCC 0x05)`);
    checked.push(`signature ${index + 1} (key ${short(e.keyId)}…)`);
  }
  if (checked.length === 0) {
    const ids = d.keyIds.map((k) => `${k.slice(0, 16)}…`).join(', ');
    return void b.fail('deviceKey', `no RSA-2048 signature in the image is by a key the device holds (${ids}): the device refuses it (MCC 0x04 or 0x07). Get the image signed with a key the running firmware embeds.`);
  }
  b.pass('deviceKey', `${checked.join(', ')} by ${checked.length === 1 ? 'a key' : 'keys'} the device holds verif${checked.length === 1 ? 'ies' : 'y'}`);
}
