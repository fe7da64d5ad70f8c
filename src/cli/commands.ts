/** The `trustflash` commands. Each returns an exit code: 0 success/accepted, 1 rejected, 2 usage or I/O. */
import { basename, join, resolve } from 'node:path';
import { toHex } from '../core/bytes/hex.ts';
import { SIG_ALG, SIG_ALG_NAMES, SIG_ENTRY_NAMES, SIG_ENTRY } from '../core/image/layout.ts';
import { describeFormatError, parseImageHead } from '../core/image/parse.ts';
import { HASH_BLOCK_DEFAULT, HEAD_MAX, IMAGE_MAX } from '../core/image/layout.ts';
import { blockPlanOf } from '../core/image/hash-blocks.ts';
import { sha256WebCrypto } from '../core/crypto/sha256.ts';
import { certificatePem, generateRsaKey, makeCertificate, privateKeyPem, type CertRole } from '../core/crypto/keygen.ts';
import { parsePem, toPem, looksLikePem } from '../core/crypto/pem.ts';
import { importSigningKey } from '../core/crypto/private-key.ts';
import { createCms } from '../core/crypto/cms.ts';
import { ecdsaRawToDer, signBytes } from '../core/crypto/signature.ts';
import { parseCertificate, type Certificate } from '../core/crypto/x509.ts';
import { normalizeVersion } from '../core/image/version.ts';
import { equalBytes } from '../core/bytes/hex.ts';
import { parseIsoTime } from '../core/bytes/iso-time.ts';
import { formatJsonError, parseStrictJson } from '../core/bytes/strict-json.ts';
import { hashBlockSizeProblem, signImage, type SignFormat } from '../core/sign/sign-image.ts';
import { manifestToJson, reportToJson, reportToText } from '../core/verify/format-report.ts';
import { verifyDetached, DETACHED_MAX, SIGNATURE_FILE_MAX } from '../core/verify/verify-detached.ts';
import { verifyImage, type DeviceIdentity } from '../core/verify/verify-image.ts';
import { bool, list, need, parseArgs, str, UsageError } from './args.ts';
import { IoError, TEXT_FILE_MAX, tooLargeForText, type Io } from './io.ts';
import { dfuDevices, formatDevice, openNodeUsb } from './usb.ts';
import { flagSpec } from './help.ts';
import { nodeBlockHasher } from './block-pool.ts';
import { certificatePathProblem } from '../core/crypto/x509.ts';
import { algorithmsText, keyAlgorithmBit } from '../core/verify/next-keys.ts';
import { FAMILY_ALGORITHMS } from '../core/verify/algorithms.ts';
import { decryptKeyPem } from './passphrase.ts';
import { loadTrustFiles } from './trust-files.ts';
import { productionMode } from './production-flag.ts';
import { cmdSignElsewhere, productionSignCheck, readDraft, readPayload } from './sign-elsewhere.ts';
import { loadTrustSetup } from './trust-setup.ts';

export async function loadCerts(io: Io, paths: readonly string[]): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const p of paths) {
    const size = (await io.openBlob(p)).size;
    if (size > TEXT_FILE_MAX) throw tooLargeForText(p, size);
    const bytes = await io.readBytes(p);
    const ders = looksLikePem(bytes) ? parsePem(new TextDecoder().decode(bytes)).blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der) : [bytes];
    if (ders.length === 0) throw new IoError(`${p}: no CERTIFICATE in it`);
    for (const der of ders) {
      const c = await parseCertificate(der);
      if (!c.ok) throw new IoError(`${p}: ${c.reason}`);
      out.push(c.value);
    }
  }
  return out;
}

const MISSING_TRUST = '--trust ROOT.pem (or --bundle BUNDLE.json) is required: verification needs at least one vendor root or public key';

async function loadDevice(io: Io, path: string): Promise<DeviceIdentity> {
  const j = await readJsonFile(io, path);
  const o = (typeof j === 'object' && j !== null ? j : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof o.psid !== 'string' || o.psid.length === 0) problems.push('"psid" must be a non-empty string');
  if (o.deviceId !== undefined && (typeof o.deviceId !== 'number' || !Number.isInteger(o.deviceId))) problems.push('"deviceId" must be an integer');
  const v = typeof o.version === 'string' ? normalizeVersion(o.version) : undefined;
  if (o.version !== undefined && !v?.ok) problems.push(`"version" must be "major.minor.subminor"${v && !v.ok && /leading zeros/.test(v.reason) ? ` (${v.reason})` : ''}`);
  else if (v?.ok) o.version = v.version;
  if (o.securityVersion !== undefined && (typeof o.securityVersion !== 'number' || !Number.isInteger(o.securityVersion) || o.securityVersion < 0)) problems.push('"securityVersion" must be a non-negative integer');
  if (o.forbiddenVersions !== undefined && (!Array.isArray(o.forbiddenVersions) || !o.forbiddenVersions.every((x) => typeof x === 'string' && normalizeVersion(x).ok))) problems.push('"forbiddenVersions" must be a list of versions');
  else if (Array.isArray(o.forbiddenVersions)) o.forbiddenVersions = o.forbiddenVersions.map((x: string) => (normalizeVersion(x) as { version: string }).version);
  if (problems.length) throw new IoError(`${path}: ${problems.join('; ')}`);
  return o as unknown as DeviceIdentity;
}

/** A JSON file a person wrote (manifest, device file): strict, so a duplicated key or a syntax error names its line and column. */
export async function readJsonFile(io: Io, path: string): Promise<unknown> {
  const r = parseStrictJson(await io.readText(path));
  if (!r.ok) throw new IoError(`${formatJsonError(path, r.error)} (not valid JSON)`);
  return r.value;
}

/** `--now`: a validation time other than the clock's, an override the report and the audit log name as such. */
export function parseNow(p: ReturnType<typeof parseArgs>): Date | undefined {
  const s = str(p, 'now');
  if (s === undefined) return undefined;
  const r = parseIsoTime(s);
  if (!r.ok) throw new UsageError(`--now expects an ISO-8601 time such as 2026-11-22T12:00:00Z: ${r.reason}`);
  return new Date(r.seconds * 1000);
}

function one(p: ReturnType<typeof parseArgs>, what: string): string {
  if (p.positional.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${p.positional.length}`);
  return p.positional[0]!;
}

export async function cmdDevices(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('devices'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const u = await openNodeUsb();
  if (!u.ok) throw new IoError(u.reason);
  const list = dfuDevices(await u.usb.getDevices());
  if (bool(p, 'json')) io.out(JSON.stringify(list, null, 2));
  else io.out(list.length ? list.map(formatDevice).join('\n') : 'no DFU devices found (is the device plugged in, and may this user open it?)');
  return 0;
}

export async function cmdVerify(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('verify'));
  const file = one(p, 'FILE to verify');
  productionMode(p); // --now with --production: a usage error before anything is read
  const now = parseNow(p);
  const sigPath = str(p, 'sig');
  if (sigPath !== undefined && str(p, 'catalog') !== undefined) throw new UsageError('--catalog does not apply to a detached signature (the catalog lists signed images by their release digest)');
  const setup = await loadTrustSetup(io, p, { now: now ?? new Date(), missingTrust: MISSING_TRUST });
  const trust = setup.trust;
  const production = productionMode(p, setup.bundleProduction);
  let report;
  if (sigPath !== undefined) {
    if (str(p, 'device')) throw new UsageError('--device does not apply to a detached signature (no manifest to match against)');
    const blob = await io.openBlob(file);
    if (blob.size > DETACHED_MAX) throw new IoError(`${file}: ${blob.size} bytes; detached verification stops at ${DETACHED_MAX}`);
    const sigBlob = await io.openBlob(sigPath);
    if (sigBlob.size > SIGNATURE_FILE_MAX) throw new IoError(`${sigPath}: ${sigBlob.size} bytes is too large for a signature file`);
    const data = await io.readBytes(file);
    const sig = await io.readBytes(sigPath);
    const certificates = await loadCerts(io, list(p, 'cert'));
    report = await verifyDetached(data, sig, { trust, certificates, ...(now ? { now } : {}), ...(production ? { production } : {}) });
  } else {
    if (list(p, 'cert').length) throw new UsageError('--cert is for detached signatures (with --sig); an image carries its own certificates');
    const device = str(p, 'device') ? await loadDevice(io, str(p, 'device')!) : undefined;
    const blob = await io.openBlob(file);
    const bar = bool(p, 'quiet') ? undefined : io.progress;
    // format v2: the hash blocks are hashed in parallel threads straight from the file (block-pool.ts)
    const blockHasher = nodeBlockHasher(resolve(io.cwd, file));
    report = await verifyImage(blob, { trust, blockHasher, ...(device ? { device } : {}), ...(now ? { now } : {}), ...(setup.catalog ? { catalog: setup.catalog } : {}), ...(production ? { production } : {}), ...(bar ? { onProgress: (h) => bar({ label: 'Hashing', done: h.done, total: h.total }) } : {}) });
    bar?.({ label: '', end: true });
    await setup.recordSeen();
  }
  io.out(bool(p, 'json') ? JSON.stringify(reportToJson(report), null, 2) : reportToText(report, file));
  return report.verdict === 'accept' ? 0 : 1;
}

export async function cmdInspect(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('inspect'));
  const file = one(p, 'FILE to inspect');
  const blob = await io.openBlob(file);
  if (blob.size > IMAGE_MAX) {
    const reason = `the file is ${blob.size} bytes, larger than the largest possible image (${IMAGE_MAX} bytes)`;
    io.out(bool(p, 'json') ? JSON.stringify({ ok: false, error: { field: 'size', offset: 0, message: reason } }, null, 2) : `${file}: not a valid TrustFlash image: ${reason}`);
    return 1;
  }
  const prefix = new Uint8Array(await blob.slice(0, Math.min(blob.size, HEAD_MAX)).arrayBuffer());
  const r = parseImageHead(prefix, blob.size);
  if (!r.ok) {
    const msg = `${file}: not a valid TrustFlash image: ${describeFormatError(r.error)}`;
    if (bool(p, 'json')) io.out(JSON.stringify({ ok: false, error: r.error }, null, 2));
    else io.out(msg);
    return 1;
  }
  const h = r.value;
  const entries = h.entries.map((e) =>
    e.type === SIG_ENTRY.SIGNATURE
      ? { type: 'signature', algorithm: SIG_ALG_NAMES[e.alg], keyId: toHex(e.keyId), bytes: e.signature.length }
      : { type: SIG_ENTRY_NAMES[e.type], bytes: e.der.length },
  );
  const certs = [];
  for (const e of h.entries) {
    if (e.type !== SIG_ENTRY.CERTIFICATE) continue;
    const c = await parseCertificate(e.der);
    certs.push(c.ok ? { subject: c.value.subject, issuer: c.value.issuer, notBefore: c.value.notBefore.toISOString(), notAfter: c.value.notAfter.toISOString(), keyId: toHex(c.value.keyId) } : { error: c.reason });
  }
  const plan = blockPlanOf(h);
  const hashBlocks = plan ? { size: plan.blockSize, count: plan.count, lastBlockSize: plan.count ? plan.payloadSize - (plan.count - 1) * plan.blockSize : 0 } : undefined;
  const layout = { formatVersion: h.formatVersion, totalSize: h.totalSize, manifest: [h.manifestOffset, h.manifestSize], signatureBlock: [h.sigBlockOffset, h.sigBlockSize], payload: [h.payloadOffset, h.payloadSize], ...(hashBlocks ? { hashBlocks } : {}) };
  const releaseDigest = toHex(await sha256WebCrypto(prefix.subarray(0, h.signedLength)));
  if (bool(p, 'json')) {
    io.out(JSON.stringify({ ok: true, verified: false, layout, releaseDigest, manifest: manifestToJson(h.manifest), signatureBlock: entries, certificates: certs }, null, 2));
    return 0;
  }
  const m = manifestToJson(h.manifest);
  const lines = [`${file}: TrustFlash image, format v${h.formatVersion}, ${h.totalSize} bytes (NOT verified: use \`trustflash verify\`)`];
  lines.push(`  layout: header 0+16, manifest ${h.manifestOffset}+${h.manifestSize}, signatures ${h.sigBlockOffset}+${h.sigBlockSize}, payload ${h.payloadOffset}+${h.payloadSize}`);
  if (hashBlocks) lines.push(`  hash blocks: ${hashBlocks.count} of ${hashBlocks.size} bytes${hashBlocks.count && hashBlocks.lastBlockSize !== hashBlocks.size ? ` (the last one ${hashBlocks.lastBlockSize})` : ''}, each SHA-256 in the signed table`);
  lines.push(`  release digest: ${releaseDigest} (SHA-256 of header and manifest${plan ? ', the table included' : ''}; NOT verified)`);
  for (const [k, v] of Object.entries(m)) lines.push(`  ${k}: ${Array.isArray(v) ? (v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : '(none)') : String(v)}`);
  for (const [i, e] of entries.entries()) lines.push(`  signature block [${i}]: ${Object.entries(e).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const c of certs) lines.push(`  certificate: ${'error' in c ? c.error : `${c.subject} (issuer ${c.issuer}, ${c.notBefore} … ${c.notAfter})`}`);
  io.out(lines.join('\n'));
  return 0;
}

export async function loadKey(io: Io, path: string, passin: string | undefined) {
  const k = await importSigningKey(await decryptKeyPem(await io.readText(path), path, passin, io));
  if (!k.ok) throw new IoError(`${path}: ${k.reason}`);
  return k.value;
}

/** createCms (pkijs) signs with RSA and ECDSA only; say so instead of failing inside pkijs. */
function cmsKeyCheck(p: ReturnType<typeof parseArgs>, key: { alg: number; description: string }): void {
  if (bool(p, 'cms') && key.alg === SIG_ALG.ED25519) throw new UsageError(`--cms signs with RSA or ECDSA P-256 keys, not ${key.description}; drop --cms to make a raw Ed25519 signature`);
}

export async function signerChain(io: Io, p: ReturnType<typeof parseArgs>, spki: Uint8Array): Promise<Certificate[]> {
  const certPath = str(p, 'cert');
  if (!certPath) {
    if (list(p, 'chain').length) throw new UsageError('--chain needs --cert');
    return [];
  }
  const [leaf, ...bundled] = await loadCerts(io, [certPath]);
  if (!equalBytes(leaf!.spki, spki)) throw new IoError(`${certPath}: the certificate is for a different key than --key`);
  return [leaf!, ...bundled, ...(await loadCerts(io, list(p, 'chain')))];
}

/**
 * What `verify` and this NIC family would refuse about the signer, checked before signing: the
 * certificate rules (code-signing EKU, keyUsage, validity now, CA issuers, key policy) and the
 * key algorithm the device verifies. `--other-target` signs anyway, saying so, for targets with
 * other rules.
 */
export function signerChecks(io: Io, p: ReturnType<typeof parseArgs>, key: { spki: Uint8Array; description: string }, chain: readonly Certificate[]): void {
  const problems: string[] = [];
  const cert = certificatePathProblem(chain, { time: new Date() });
  if (cert) problems.push(`${cert}: verify would refuse this image at the chain check (a signer needs extendedKeyUsage codeSigning and keyUsage digitalSignature, issued by a CA; see README "Your own keys")`);
  if ((keyAlgorithmBit(key.spki) & FAMILY_ALGORITHMS) === 0) problems.push(`the key is ${key.description}, but this NIC family verifies ${algorithmsText(FAMILY_ALGORITHMS)} only: the device would refuse the image (MCC 0x07); sign with an RSA-2048 key`);
  if (problems.length === 0) return;
  if (!bool(p, 'other-target')) throw new IoError(`refusing to sign:\n  ${problems.join('\n  ')}\n  (--other-target signs anyway, for a target with other rules)`);
  for (const w of problems) io.err(`warning (--other-target): ${w}`);
}

/** `--format 1|2` and `--block-size BYTES`, checked before anything is read or signed. */
export function signFormat(p: ReturnType<typeof parseArgs>, payloadSize: number): SignFormat {
  const f = str(p, 'format') ?? '2';
  if (f !== '1' && f !== '2') throw new UsageError(`--format expects 1 or 2, got ${JSON.stringify(f)}`);
  const bs = str(p, 'block-size');
  if (f === '1') {
    if (bs !== undefined) throw new UsageError('--block-size applies to format 2 only (format 1 has no hash blocks)');
    return { format: 1 };
  }
  if (bs === undefined) {
    const problem = hashBlockSizeProblem(HASH_BLOCK_DEFAULT, payloadSize);
    if (problem) throw new UsageError(`${problem.replace('"hashBlockSize"', 'the default hash-block size')} (--block-size)`);
    return { format: 2 };
  }
  const n = /^[1-9][0-9]{0,9}$/.test(bs) ? Number(bs) : NaN;
  const problem = hashBlockSizeProblem(n, payloadSize);
  if (problem) throw new UsageError(`--block-size ${bs}: ${problem.replace(/^"hashBlockSize" (\d+ )?/, '')}`);
  return { format: 2, hashBlockSize: n };
}

export async function cmdSign(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('sign'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const finalImage = bool(p, 'final-image');
  const production = productionMode(p);
  if (production && finalImage) throw new UsageError('--final-image cannot be used with --production: production mode refuses a deliberate last image');
  if (str(p, 'prepare') !== undefined || str(p, 'attach') !== undefined) return cmdSignElsewhere(p, io, production);
  if (str(p, 'pubkey') !== undefined) throw new UsageError('--pubkey goes with --attach (with --key the public key is the key\'s own)');
  const out = str(p, 'o') ?? str(p, 'out');
  if (!out) throw new UsageError('-o OUT is required');
  const key = await loadKey(io, need(p, 'key'), str(p, 'passin'));
  cmsKeyCheck(p, key);
  const chain = await signerChain(io, p, key.spki);
  if (bool(p, 'cms') && chain.length === 0) throw new UsageError('--cms needs --cert (a CMS signature names its signer certificate)');
  signerChecks(io, p, key, chain);
  // the same reading as --prepare and --attach (sign-elsewhere.ts), so the signed head is the same
  const draft = await readDraft(io, p);
  const payload = await readPayload(io, p);
  const how = signFormat(p, payload.length);
  if (production) await productionSignCheck(draft, key.spki, chain);
  const image = await signImage(draft, payload, [{ key, chain, cms: bool(p, 'cms') }], how);
  await io.writeBytes(out, image);
  if (finalImage) io.err(`WARNING: ${out} is a FINAL IMAGE (--final-image): once it runs, the device accepts no further update unless its nextKeys hold a key the device verifies. There is no recovery over USB.`);
  io.out(`${out}: signed ${draft.product} ${draft.version} (${image.length} bytes, ${key.description}${chain.length ? `, signer "${chain[0]!.subject}"` : ', no certificates'}${bool(p, 'cms') ? ', CMS' : ''})`);
  return 0;
}

export async function cmdSignDetached(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('sign-detached'));
  const file = one(p, 'FILE to sign');
  const out = str(p, 'o') ?? str(p, 'out');
  if (!out) throw new UsageError('-o OUT is required');
  const key = await loadKey(io, need(p, 'key'), str(p, 'passin'));
  cmsKeyCheck(p, key);
  const chain = await signerChain(io, p, key.spki);
  const size = (await io.openBlob(file)).size;
  if (size > DETACHED_MAX) throw new IoError(`${file}: ${size} bytes; detached signatures are verified in memory up to ${DETACHED_MAX} bytes (sign a larger payload as an image)`);
  const data = await io.readBytes(file);
  if (bool(p, 'cms')) {
    if (!chain[0]) throw new UsageError('--cms needs --cert');
    await io.writeBytes(out, await createCms({ content: data, privateKey: key.privateKey, signer: chain[0], chain: chain.slice(1) }));
  } else {
    // WebCrypto signs ECDSA as raw r||s; a .sig file is what `openssl dgst -sha256 -sign` writes
    // (and `openssl dgst -verify` reads): DER for ECDSA, the plain signature for RSA and Ed25519.
    const sig = await signBytes(key.alg, key.privateKey, data);
    await io.writeBytes(out, key.alg === SIG_ALG.ECDSA_P256_SHA256 ? ecdsaRawToDer(sig) : sig);
  }
  io.out(`${out}: ${bool(p, 'cms') ? 'CMS SignedData' : 'raw signature'} over ${basename(file)} (${data.length} bytes, ${key.description})`);
  return 0;
}

export async function cmdKeygen(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('keygen'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const dir = need(p, 'out');
  const days = Number(str(p, 'days') ?? 3650);
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new UsageError('--days must be a whole number of days, 1..36500');
  const nb = str(p, 'not-before');
  const nbTime = nb === undefined ? undefined : parseIsoTime(nb);
  if (nbTime && !nbTime.ok) throw new UsageError(`--not-before expects an ISO-8601 date: ${nbTime.reason}`);
  const nbSecs = nbTime?.ok ? nbTime.seconds : undefined;
  const notBefore = nbSecs !== undefined ? new Date(nbSecs * 1000) : new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = new Date(notBefore.getTime() + days * 86400_000);
  const pathLenText = str(p, 'path-len');
  const pathLen = pathLenText === undefined ? undefined : Number(pathLenText);
  if (pathLen !== undefined && (!Number.isInteger(pathLen) || pathLen < 0 || pathLen > 8)) throw new UsageError('--path-len must be 0..8');
  const caKey = str(p, 'ca-key');
  const caCert = str(p, 'ca-cert');
  if (!!caKey !== !!caCert) throw new UsageError('--ca-key and --ca-cert go together');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  if (!bool(p, 'force')) for (const f of [keyPath, certPath]) if (await io.exists(f)) throw new IoError(`${f} already exists (pass --force to replace it)`);
  let issuer;
  if (caKey && caCert) {
    const k = await loadKey(io, caKey, str(p, 'passin'));
    const [c] = await loadCerts(io, [caCert]);
    if (!equalBytes(c!.spki, k.spki)) throw new IoError(`${caCert}: the CA certificate is not for --ca-key`);
    if (!c!.isCA) throw new IoError(`${caCert}: not a CA certificate (basicConstraints cA is not set)`);
    issuer = { certificate: c!, privateKey: k.privateKey };
  }
  const role: CertRole = bool(p, 'ca') ? (issuer ? 'intermediate' : 'root') : issuer ? 'signer' : 'self-signed-signer';
  const kp = await generateRsaKey(2048);
  const cert = await makeCertificate({
    commonName: str(p, 'cn') ?? (role === 'root' ? 'TrustFlash Root CA' : role === 'intermediate' ? 'TrustFlash Intermediate CA' : 'TrustFlash Firmware Signer'),
    ...(str(p, 'org') ? { organization: str(p, 'org')! } : {}),
    role,
    publicKey: kp.publicKey,
    ...(issuer ? { issuer } : { privateKey: kp.privateKey }),
    notBefore,
    notAfter,
    ...(pathLen !== undefined ? { pathLen } : {}),
  });
  await io.writeBytes(keyPath, await privateKeyPem(kp.privateKey), { overwrite: bool(p, 'force') });
  await io.writeBytes(certPath, certificatePem(cert), { overwrite: bool(p, 'force') });
  await io.writeBytes(join(dir, 'pubkey.pem'), toPem('PUBLIC KEY', cert.spki));
  io.out(`${dir}: RSA-2048 key (key.pem, PKCS#8), ${role} certificate "${cert.subject}"${issuer ? ` issued by "${issuer.certificate.subject}"` : ' (self-signed)'}, valid ${notBefore.toISOString()} … ${notAfter.toISOString()}, key id ${toHex(cert.keyId)}`);
  return 0;
}
