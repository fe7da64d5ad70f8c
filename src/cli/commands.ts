/** The `trustflash` commands. Each returns an exit code: 0 success/accepted, 1 rejected, 2 usage or I/O. */
import { basename, dirname, join, resolve } from 'node:path';
import { toHex } from '../core/bytes/hex.ts';
import { SIG_ALG, SIG_ALG_NAMES, SIG_ENTRY_NAMES, SIG_ENTRY } from '../core/image/layout.ts';
import { describeFormatError, parseImageHead } from '../core/image/parse.ts';
import { HEAD_MAX, IMAGE_MAX } from '../core/image/layout.ts';
import { certificatePem, generateRsaKey, makeCertificate, privateKeyPem, type CertRole } from '../core/crypto/keygen.ts';
import { parsePem, toPem, looksLikePem } from '../core/crypto/pem.ts';
import { importSigningKey } from '../core/crypto/private-key.ts';
import { createCms } from '../core/crypto/cms.ts';
import { ecdsaRawToDer, signBytes } from '../core/crypto/signature.ts';
import { loadTrustStore } from '../core/crypto/trust.ts';
import { parseCertificate, type Certificate } from '../core/crypto/x509.ts';
import { parseVersion } from '../core/image/version.ts';
import { equalBytes } from '../core/bytes/hex.ts';
import { manifestFromJson, isoToSeconds } from '../core/sign/manifest-json.ts';
import { signImage } from '../core/sign/sign-image.ts';
import { manifestToJson, reportToJson, reportToText } from '../core/verify/format-report.ts';
import { verifyDetached, DETACHED_MAX, SIGNATURE_FILE_MAX } from '../core/verify/verify-detached.ts';
import { verifyImage, type DeviceIdentity } from '../core/verify/verify-image.ts';
import { bool, list, need, parseArgs, str, UsageError } from './args.ts';
import { IoError, TEXT_FILE_MAX, tooLargeForText, type Io } from './io.ts';
import { dfuDevices, formatDevice, openNodeUsb } from './usb.ts';

export const USAGE = `trustflash — sign, inspect and verify secure firmware images

Usage:
  trustflash keygen --out DIR [--cn NAME] [--org ORG] [--ca] [--ca-key K.pem --ca-cert C.pem]
                    [--days N] [--not-before ISO] [--path-len N] [--force]
  trustflash sign --key K.pem [--cert C.pem [--chain I.pem ...]] [--cms] [--final-image] --manifest M.json --payload FW.bin -o OUT
  trustflash sign-detached FW.bin --key K.pem [--cert C.pem [--chain I.pem ...]] [--cms] -o OUT.sig|OUT.p7s
  trustflash inspect FILE [--json]
  trustflash devices [--json]
  trustflash emulator init --state S [--image FACTORY.tfw] [--serial X] [--psid P] [--bank-size MiB] [--force]
  trustflash emulator reboot --state S
  trustflash emulator gadget --state S [--udc UDC] [--name N] [--generic] [--fault KIND]... [--verbose] [--ready FILE]
  trustflash reset (--emulated --state S | --usb VID:PID[:SERIAL]) [--json]
  trustflash query (--emulated --state S | --usb VID:PID[:SERIAL]) [--json] [--full]
  trustflash update FILE --trust ROOT.pem (--emulated --state S [--fault KIND]... [--timing T] | --usb VID:PID[:SERIAL])
                    [--json] [--log AUDIT.jsonl] [--now ISO] [--block-size N]
  trustflash audit verify AUDIT.jsonl [--json]
      faults: power-loss:STATE|block=N|flash-op=N, flash-error[:erase], disconnect:block=N, slow,
              locked-by-other, handle-timeout
  trustflash verify FILE --trust ROOT.pem [--trust ...] [--device DEVICE.json] [--now ISO-8601] [--json]
  trustflash verify FW.bin --sig FW.sig|FW.p7s --cert SIGNER.pem [--cert ...] --trust ROOT.pem [--now ISO] [--json]

Exit status: 0 accepted / updated / done, 1 rejected (by the host or the device), 2 usage, I/O or transport error.`;

async function loadCerts(io: Io, paths: readonly string[]): Promise<Certificate[]> {
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

async function loadTrust(io: Io, paths: readonly string[]) {
  if (paths.length === 0) throw new UsageError('--trust ROOT.pem is required: verification needs at least one vendor root or public key');
  const sources = await Promise.all(paths.map(async (p) => ({ name: p, text: await io.readText(p) })));
  const { store, errors } = await loadTrustStore(sources);
  if (errors.length) throw new IoError(`trust store: ${errors.join('; ')}`);
  return store;
}

async function loadDevice(io: Io, path: string): Promise<DeviceIdentity> {
  let j: unknown;
  try {
    j = JSON.parse(await io.readText(path));
  } catch (e) {
    if (e instanceof IoError) throw e;
    throw new IoError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const o = (typeof j === 'object' && j !== null ? j : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof o.psid !== 'string' || o.psid.length === 0) problems.push('"psid" must be a non-empty string');
  if (o.deviceId !== undefined && (typeof o.deviceId !== 'number' || !Number.isInteger(o.deviceId))) problems.push('"deviceId" must be an integer');
  if (o.version !== undefined && (typeof o.version !== 'string' || !parseVersion(o.version))) problems.push('"version" must be "major.minor.subminor"');
  if (o.securityVersion !== undefined && (typeof o.securityVersion !== 'number' || !Number.isInteger(o.securityVersion) || o.securityVersion < 0)) problems.push('"securityVersion" must be a non-negative integer');
  if (o.forbiddenVersions !== undefined && (!Array.isArray(o.forbiddenVersions) || !o.forbiddenVersions.every((v) => typeof v === 'string' && parseVersion(v)))) problems.push('"forbiddenVersions" must be a list of versions');
  if (problems.length) throw new IoError(`${path}: ${problems.join('; ')}`);
  return o as unknown as DeviceIdentity;
}

function parseNow(p: ReturnType<typeof parseArgs>): Date | undefined {
  const s = str(p, 'now');
  if (s === undefined) return undefined;
  const secs = isoToSeconds(s);
  if (secs === undefined) throw new UsageError(`--now expects an ISO-8601 time such as 2026-11-22T12:00:00Z, got ${JSON.stringify(s)}`);
  return new Date(secs * 1000);
}

function one(p: ReturnType<typeof parseArgs>, what: string): string {
  if (p.positional.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${p.positional.length}`);
  return p.positional[0]!;
}

export async function cmdDevices(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, { json: 'boolean' });
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const u = await openNodeUsb();
  if (!u.ok) throw new IoError(u.reason);
  const list = dfuDevices(await u.usb.getDevices());
  if (bool(p, 'json')) io.out(JSON.stringify(list, null, 2));
  else io.out(list.length ? list.map(formatDevice).join('\n') : 'no DFU devices found (is the device plugged in, and may this user open it?)');
  return 0;
}

export async function cmdVerify(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, { trust: 'list', device: 'string', now: 'string', json: 'boolean', sig: 'string', cert: 'list' });
  const file = one(p, 'FILE to verify');
  const trust = await loadTrust(io, list(p, 'trust'));
  const now = parseNow(p);
  const sigPath = str(p, 'sig');
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
    report = await verifyDetached(data, sig, { trust, certificates, ...(now ? { now } : {}) });
  } else {
    if (list(p, 'cert').length) throw new UsageError('--cert is for detached signatures (with --sig); an image carries its own certificates');
    const device = str(p, 'device') ? await loadDevice(io, str(p, 'device')!) : undefined;
    const blob = await io.openBlob(file);
    report = await verifyImage(blob, { trust, ...(device ? { device } : {}), ...(now ? { now } : {}) });
  }
  io.out(bool(p, 'json') ? JSON.stringify(reportToJson(report), null, 2) : reportToText(report, file));
  return report.verdict === 'accept' ? 0 : 1;
}

export async function cmdInspect(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, { json: 'boolean' });
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
  const layout = { formatVersion: h.formatVersion, totalSize: h.totalSize, manifest: [h.manifestOffset, h.manifestSize], signatureBlock: [h.sigBlockOffset, h.sigBlockSize], payload: [h.payloadOffset, h.payloadSize] };
  if (bool(p, 'json')) {
    io.out(JSON.stringify({ ok: true, verified: false, layout, manifest: manifestToJson(h.manifest), signatureBlock: entries, certificates: certs }, null, 2));
    return 0;
  }
  const m = manifestToJson(h.manifest);
  const lines = [`${file}: TrustFlash image, format v${h.formatVersion}, ${h.totalSize} bytes (NOT verified: use \`trustflash verify\`)`];
  lines.push(`  layout: header 0+16, manifest ${h.manifestOffset}+${h.manifestSize}, signatures ${h.sigBlockOffset}+${h.sigBlockSize}, payload ${h.payloadOffset}+${h.payloadSize}`);
  for (const [k, v] of Object.entries(m)) lines.push(`  ${k}: ${Array.isArray(v) ? (v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : '(none)') : String(v)}`);
  for (const [i, e] of entries.entries()) lines.push(`  signature block [${i}]: ${Object.entries(e).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const c of certs) lines.push(`  certificate: ${'error' in c ? c.error : `${c.subject} (issuer ${c.issuer}, ${c.notBefore} … ${c.notAfter})`}`);
  io.out(lines.join('\n'));
  return 0;
}

async function loadKey(io: Io, path: string) {
  const k = await importSigningKey(await io.readText(path));
  if (!k.ok) throw new IoError(`${path}: ${k.reason}`);
  return k.value;
}

/** createCms (pkijs) signs with RSA and ECDSA only; say so instead of failing inside pkijs. */
function cmsKeyCheck(p: ReturnType<typeof parseArgs>, key: { alg: number; description: string }): void {
  if (bool(p, 'cms') && key.alg === SIG_ALG.ED25519) throw new UsageError(`--cms signs with RSA or ECDSA P-256 keys, not ${key.description}; drop --cms to make a raw Ed25519 signature`);
}

async function signerChain(io: Io, p: ReturnType<typeof parseArgs>, spki: Uint8Array): Promise<Certificate[]> {
  const certPath = str(p, 'cert');
  if (!certPath) {
    if (list(p, 'chain').length) throw new UsageError('--chain needs --cert');
    return [];
  }
  const [leaf, ...bundled] = await loadCerts(io, [certPath]);
  if (!equalBytes(leaf!.spki, spki)) throw new IoError(`${certPath}: the certificate is for a different key than --key`);
  return [leaf!, ...bundled, ...(await loadCerts(io, list(p, 'chain')))];
}

export async function cmdSign(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, { key: 'string', cert: 'string', chain: 'list', manifest: 'string', payload: 'string', o: 'string', out: 'string', cms: 'boolean', 'final-image': 'boolean' });
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const finalImage = bool(p, 'final-image');
  const out = str(p, 'o') ?? str(p, 'out');
  if (!out) throw new UsageError('-o OUT is required');
  const key = await loadKey(io, need(p, 'key'));
  cmsKeyCheck(p, key);
  const chain = await signerChain(io, p, key.spki);
  if (bool(p, 'cms') && chain.length === 0) throw new UsageError('--cms needs --cert (a CMS signature names its signer certificate)');
  const manifestPath = need(p, 'manifest');
  let json: unknown;
  try {
    json = JSON.parse(await io.readText(manifestPath));
  } catch (e) {
    if (e instanceof IoError) throw e;
    throw new IoError(`${manifestPath}: not valid JSON (${(e as Error).message})`);
  }
  const base = dirname(resolve(io.cwd, manifestPath));
  const draft = await manifestFromJson(json, (rel) => io.readText(resolve(base, rel)), { finalImage });
  if (!draft.ok) throw new IoError(`${manifestPath}:\n  ${draft.errors.join('\n  ')}`);
  const payloadPath = need(p, 'payload');
  const payloadBlob = await io.openBlob(payloadPath);
  if (payloadBlob.size > 2 ** 31) throw new IoError(`${payloadPath}: ${payloadBlob.size} bytes exceeds the 2 GiB payload cap`);
  const payload = await io.readBytes(payloadPath);
  const image = await signImage(draft.value, payload, [{ key, chain, cms: bool(p, 'cms') }]);
  await io.writeBytes(out, image);
  if (finalImage) io.err(`WARNING: ${out} is a FINAL IMAGE (--final-image): once it runs, the device accepts no further update unless its nextKeys hold a key the device verifies. There is no recovery over USB.`);
  io.out(`${out}: signed ${draft.value.product} ${draft.value.version} (${image.length} bytes, ${key.description}${chain.length ? `, signer "${chain[0]!.subject}"` : ', no certificates'}${bool(p, 'cms') ? ', CMS' : ''})`);
  return 0;
}

export async function cmdSignDetached(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, { key: 'string', cert: 'string', chain: 'list', o: 'string', out: 'string', cms: 'boolean' });
  const file = one(p, 'FILE to sign');
  const out = str(p, 'o') ?? str(p, 'out');
  if (!out) throw new UsageError('-o OUT is required');
  const key = await loadKey(io, need(p, 'key'));
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
  const p = parseArgs(argv, { out: 'string', cn: 'string', org: 'string', ca: 'boolean', 'ca-key': 'string', 'ca-cert': 'string', days: 'string', 'not-before': 'string', 'path-len': 'string', force: 'boolean' });
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const dir = need(p, 'out');
  const days = Number(str(p, 'days') ?? 3650);
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new UsageError('--days must be a whole number of days, 1..36500');
  const nb = str(p, 'not-before');
  const nbSecs = nb === undefined ? undefined : isoToSeconds(nb);
  if (nb !== undefined && nbSecs === undefined) throw new UsageError('--not-before expects an ISO-8601 date');
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
    const k = await loadKey(io, caKey);
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
