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
import { HEAD_MAX, HEADER_SIZE, IMAGE_MAX, SIG_ENTRY, type Manifest, type SigEntry } from '../image/layout.ts';
import { describeFormatError, parseImageHead, type ImageHead } from '../image/parse.ts';
import { verifyCms, type CmsResult } from '../crypto/cms.ts';
import { checkKeyPolicy, parseSpki } from '../crypto/keys.ts';
import { isDemoKeyId } from '../crypto/demo-keys.ts';
import { sha256Blob, sha256Chunked, type BlobLike, type HashProgress } from '../crypto/sha256.ts';
import { verifySignature } from '../crypto/signature.ts';
import { findTrustedKey, type TrustStore } from '../crypto/trust.ts';
import { parseCertificate, validateChain, type Certificate } from '../crypto/x509.ts';
import { ReportBuilder, type CheckId, type Report, type SignerInfo } from './report.ts';
import { equalBytes } from '../bytes/hex.ts';

/** What the host knows about the target device (from its QUERY answer, or DEVICE.json). */
export interface DeviceIdentity {
  readonly psid: string;
  readonly deviceId?: number;
  readonly version?: string;
  readonly securityVersion?: number;
  readonly forbiddenVersions?: readonly string[];
}

export interface VerifyOptions {
  readonly trust: TrustStore;
  readonly device?: DeviceIdentity;
  /** Validation time for certificates and expiry (default: now). */
  readonly now?: Date;
  readonly onProgress?: (p: HashProgress) => void;
  readonly signal?: AbortSignal;
  readonly chunkSize?: number;
}

const AFTER_AUTH: readonly CheckId[] = ['expiry', 'forbidden', 'device', 'secured', 'securityVersion', 'payload'];
const ALL: readonly CheckId[] = ['size', 'format', 'key', 'chain', 'signature', ...AFTER_AUTH];

function skipFrom(b: ReportBuilder, reason: string): void {
  for (const id of ALL) if (!b.has(id)) b.skip(id, reason);
}

const isBytes = (s: Uint8Array | BlobLike): s is Uint8Array => s instanceof Uint8Array;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const short = (id: Uint8Array) => toHex(id).slice(0, 16);

interface Resolved {
  entry: SigEntry & { type: typeof SIG_ENTRY.SIGNATURE };
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
  const finish = (manifest?: Manifest, payloadSha256?: string) =>
    b.finish({ fileSize: total, deviceVerifies: true, ...(manifest ? { manifest } : {}), ...(payloadSha256 ? { payloadSha256 } : {}) });

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
  const certs: Certificate[] = [];
  const problems: string[] = [];
  // an entry repeated byte for byte explains nothing and is refused (the block is the one unsigned region)
  const seenEntries = new Map<string, number>();
  for (const [i, e] of head.entries.entries()) {
    const key = e.type === SIG_ENTRY.SIGNATURE ? `${e.type}:${toHex(e.keyId)}:${toHex(e.signature)}` : `${e.type}:${toHex(e.der)}`;
    const first = seenEntries.get(key);
    if (first !== undefined) problems.push(`signatures.entry[${i}] repeats entry[${first}]`);
    else seenEntries.set(key, i);
  }
  for (const [i, e] of head.entries.entries()) {
    if (e.type !== SIG_ENTRY.CERTIFICATE) continue;
    const c = await parseCertificate(e.der);
    if (c.ok) certs.push(c.value);
    else problems.push(`signatures.entry[${i}]: ${c.reason}`);
  }
  for (const [i, k] of m.nextKeys.entries()) {
    const info = parseSpki(k);
    const policy = info.ok ? checkKeyPolicy(info.value) : info;
    if (!policy.ok) problems.push(`manifest.nextKeys[${i}]: ${policy.reason}`);
  }
  if (m.minSecurityVersion !== undefined && m.minSecurityVersion > m.securityVersion) {
    problems.push(`manifest.minSecurityVersion ${m.minSecurityVersion} is above the image's own securityVersion ${m.securityVersion}`);
  }
  if (problems.length) {
    b.fail('format', problems.join('; '));
    skipFrom(b, 'not checked: the image does not parse');
    return finish(m);
  }
  b.pass('format', `format v${head.formatVersion}: ${head.manifestSize}-byte manifest, ${head.entries.length} signature-block entr${head.entries.length === 1 ? 'y' : 'ies'}, ${head.payloadSize}-byte payload; no trailing bytes`);

  // 3. Which keys signed it, and are they known?
  const raw = head.entries.flatMap((e, index) => (e.type === SIG_ENTRY.SIGNATURE ? [{ e, index }] : []));
  const cmsEntries = head.entries.flatMap((e, index) => (e.type === SIG_ENTRY.CMS ? [{ e, index }] : []));
  if (raw.length === 0 && cmsEntries.length === 0) {
    b.fail('key', 'the image carries no signature (unsigned image); a secure device refuses it');
    skipFrom(b, 'not checked: nothing to verify without a signature');
    return finish(m);
  }
  const resolved: Resolved[] = [];
  const unknown: string[] = [];
  for (const { e, index } of raw) {
    const entry = e as Resolved['entry'];
    const cert = certs.find((c) => equalBytes(c.keyId, entry.keyId));
    const trusted = findTrustedKey(opts.trust, entry.keyId);
    if (cert) resolved.push({ entry, index, spki: cert.spki, via: 'certificate', cert });
    else if (trusted?.certificate) resolved.push({ entry, index, spki: trusted.spki, via: 'certificate', cert: trusted.certificate });
    else if (trusted) resolved.push({ entry, index, spki: trusted.spki, via: 'trusted key' });
    else unknown.push(`signature ${index + 1} is by key ${short(entry.keyId)}…, which is neither in the trust store nor in a certificate carried by the image`);
  }
  if (unknown.length) {
    b.fail('key', `${unknown.join('; ')}. Add the vendor's root certificate or public key to the trust store if you trust it.`);
    skipFrom(b, 'not checked: a signing key is unknown');
    return finish(m);
  }
  b.pass('key', [...resolved.map((r) => `key ${short(r.entry.keyId)}… (${r.via === 'certificate' ? `certificate "${r.cert!.subject}"` : 'trusted key'})`), ...cmsEntries.map(() => 'a CMS SignedData')].join('; '));

  // 4. Chains (validity at `now`, EKU codeSigning, pathLen), and every carried certificate must be used.
  const chainNotes: string[] = [];
  /** Reported only once their signatures verify. */
  const signers: SignerInfo[] = [];
  /** DER (hex) of every certificate on a validated path. */
  const used = new Set<string>();
  let chainFailed: string | undefined;
  for (const r of resolved) {
    const trusted = findTrustedKey(opts.trust, r.entry.keyId);
    const demo = isDemoKeyId(r.entry.keyId) || (trusted?.demo ?? false);
    if (r.via === 'trusted key') {
      signers.push({ keyId: toHex(r.entry.keyId), via: 'trusted key', demo, ...(trusted ? { anchor: trusted.label } : {}) });
      chainNotes.push(`key ${short(r.entry.keyId)}… is trusted directly`);
      continue;
    }
    const chain = await validateChain(r.cert!, certs.filter((c) => !equalBytes(c.der, r.cert!.der)), opts.trust.anchors, { time: now });
    if (!chain.ok) {
      chainFailed ??= chain.reason;
      continue;
    }
    for (const c of chain.path) used.add(toHex(c.der));
    const anchorDemo = isDemoKeyId(chain.anchor.keyId);
    signers.push({ keyId: toHex(r.entry.keyId), via: 'certificate', subject: r.cert!.subject, anchor: chain.anchor.subject, demo: demo || anchorDemo });
    chainNotes.push(`"${r.cert!.subject}" → ${chain.path.length > 1 ? chain.path.slice(1).map((c) => `"${c.subject}"`).join(' → ') : '(trusted directly)'}`);
  }
  const cmsPrefix = isBytes(source) ? source.subarray(0, head.signedLength) : prefix.subarray(0, head.signedLength);
  const cmsResults: { r: CmsResult; index: number }[] = [];
  for (const { e, index } of cmsEntries) {
    const r = await verifyCms((e as { der: Uint8Array }).der, { content: cmsPrefix, anchors: opts.trust.anchors, extraCerts: certs, chain: { time: now }, requireDetached: true });
    cmsResults.push({ r, index });
  }
  const cmsChainFail = cmsResults.find(({ r }) => !r.ok && (r.kind === 'chain' || r.kind === 'policy' || r.kind === 'malformed'));
  if (!chainFailed && cmsChainFail && !cmsChainFail.r.ok) chainFailed = `signatures.entry[${cmsChainFail.index}]: ${cmsChainFail.r.reason}`;
  for (const { r } of cmsResults) if (r.ok) for (const s of r.signers) for (const c of s.chain.path) used.add(toHex(c.der));
  const carried = [...certs, ...cmsResults.flatMap(({ r }) => (r.ok ? r.certificates : []))];
  const unusedCert = carried.find((c) => !used.has(toHex(c.der)));
  if (!chainFailed && unusedCert) chainFailed = `certificate "${unusedCert.subject}" in the image is not part of any signer's chain (unexplained bytes are not accepted)`;
  if (chainFailed) {
    b.fail('chain', chainFailed);
    skipFrom(b, 'not checked: the signer is not trusted');
    return finish(m);
  }
  for (const { r } of cmsResults) {
    if (!r.ok) continue;
    for (const s of r.signers) {
      const demo = isDemoKeyId(s.certificate.keyId) || isDemoKeyId(s.chain.anchor.keyId);
      signers.push({ keyId: toHex(s.certificate.keyId), via: 'cms', subject: s.certificate.subject, anchor: s.chain.anchor.subject, demo });
      chainNotes.push(`CMS signer "${s.certificate.subject}" → "${s.chain.anchor.subject}"`);
    }
  }
  if (resolved.every((r) => r.via === 'trusted key') && cmsEntries.length === 0) b.skip('chain', `no certificates: ${chainNotes.join('; ')}`);
  else b.pass('chain', `valid at ${now.toISOString()} for code signing: ${chainNotes.join('; ')}`);

  // 5. Every signature over header || manifest must verify.
  const signed = cmsPrefix;
  const sigFailures: string[] = [];
  for (const r of resolved) {
    const v = await verifySignature(r.entry.alg, r.spki, r.entry.signature, signed);
    if (!v.ok) sigFailures.push(`signature ${r.index + 1}: ${v.reason}`);
  }
  for (const { r, index } of cmsResults) if (!r.ok) sigFailures.push(`signatures.entry[${index}] (CMS): ${r.reason}`);
  if (sigFailures.length) {
    b.fail('signature', `${sigFailures.join('; ')}. The header or manifest was changed after signing, or the signature is corrupt.`);
    skipFrom(b, 'not checked: the manifest is not authenticated');
    return finish(m);
  }
  const n = resolved.length + cmsEntries.length;
  b.pass('signature', `${n} signature${n === 1 ? '' : 's'} over the header and manifest (${head.signedLength} bytes) verif${n === 1 ? 'ies' : 'y'}`);
  b.signers.push(...signers);
  if (signers.some((s) => s.demo)) b.notices.push('Signed with a DEMO key whose private half is public: this proves nothing outside a demo. Never trust demo keys on real devices.');
  if (m.dev) b.notices.push('This is a development image (dev flag set); production devices refuse it.');

  // 6. Freshness.
  const t = Math.floor(now.getTime() / 1000);
  if (m.expires !== undefined && m.expires < t) b.fail('expiry', `the image expired on ${iso(m.expires)}; ask the vendor for a current release`);
  else if (m.releaseDate > t + 86400) b.fail('expiry', `the release date ${iso(m.releaseDate)} is in the future; check this computer's clock`);
  else b.pass('expiry', `released ${iso(m.releaseDate)}${m.expires !== undefined ? `, valid until ${iso(m.expires)}` : ', no expiry'}`);

  // 7. Policy: forbidden versions (the device's list). 8. Device identity, secured flag. 9. Security version.
  const d = opts.device;
  const noDevice = 'no device given: connect a device or pass its identity to check this';
  if (!d) b.skip('forbidden', noDevice);
  else if ((d.forbiddenVersions ?? []).includes(m.version)) b.fail('forbidden', `version ${m.version} is on this device's forbidden list; choose another release`);
  else b.pass('forbidden', `version ${m.version} is not on the device's forbidden list (${(d.forbiddenVersions ?? []).length} entries)`);
  if (!d) b.skip('device', noDevice);
  else if (!m.psids.includes(d.psid)) b.fail('device', `the image is for PSID ${m.psids.join(', ')}; this device is ${d.psid}. Get the image made for this board.`);
  else if (d.deviceId !== undefined && m.deviceIds.length > 0 && !m.deviceIds.includes(d.deviceId)) b.fail('device', `the image is for device id ${m.deviceIds.join(', ')}; this device is ${d.deviceId}`);
  else b.pass('device', `PSID ${d.psid}${d.deviceId !== undefined ? `, device id ${d.deviceId}` : ''} is listed in the manifest`);
  if (m.secured) b.pass('secured', 'the image is marked secured');
  else b.fail('secured', 'the image is not a secured image; a device running secure firmware refuses it');
  if (!d) b.skip('securityVersion', noDevice);
  else if (d.securityVersion === undefined) b.skip('securityVersion', 'the device did not report a security version');
  else if (m.securityVersion < d.securityVersion) {
    b.fail('securityVersion', `image security version ${m.securityVersion} is below the device's ${d.securityVersion}: a downgrade to a version with known vulnerabilities is refused`);
  } else {
    const vs = d.version ? ` (version ${d.version} → ${m.version}${compareVersions(m.version, d.version) < 0 ? ', an older release at the same security level' : ''})` : '';
    b.pass('securityVersion', `image security version ${m.securityVersion} ≥ device's ${d.securityVersion}${vs}`);
  }

  // 11. Payload digest, streamed over the same source.
  let digest: Uint8Array;
  try {
    digest = isBytes(source)
      ? await sha256Chunked(source.subarray(head.payloadOffset), { ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) })
      : await sha256Blob(source, { start: head.payloadOffset, end: total, ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (e) {
    b.fail('payload', `the payload could not be read: ${(e as Error).message}`);
    return finish(m);
  }
  if (equalBytes(digest, m.payloadSha256)) b.pass('payload', `SHA-256 ${toHex(digest)} matches the manifest`);
  else b.fail('payload', `SHA-256 of the payload is ${toHex(digest)}, the manifest says ${toHex(m.payloadSha256)}: the payload was changed after signing`);
  return finish(m, toHex(digest));
}
