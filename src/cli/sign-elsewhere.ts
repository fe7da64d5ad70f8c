/**
 * `trustflash sign --prepare OUT` and `trustflash sign --attach SIG` (issue #14): signing with a key
 * that never leaves an HSM or a cloud KMS. Prepare writes the signed head (header ‖ manifest) and
 * its SHA-256 without any key; attach rebuilds the same head from the same inputs, checks the
 * signature made elsewhere against --cert or --pubkey, and only then writes the image
 * (core/sign/external-signature.ts).
 */
import { dirname, resolve } from 'node:path';
import { toHex } from '../core/bytes/hex.ts';
import { parsePem, looksLikePem } from '../core/crypto/pem.ts';
import { describeKey, keyIdOf, parseSpki } from '../core/crypto/keys.ts';
import { isDemoKeyId } from '../core/crypto/demo-keys.ts';
import { manifestFromJson } from '../core/sign/manifest-json.ts';
import { attachSignature, prepareHead, type ExternalSignature } from '../core/sign/external-signature.ts';
import type { ManifestDraft } from '../core/sign/sign-image.ts';
import { productionProblems, PRODUCTION_REFUSES } from '../core/verify/production.ts';
import { parseCertificate, validateChain, type Certificate } from '../core/crypto/x509.ts';
import demoRootPem from '../assets/demo-keys/root/cert.pem?raw';
import rogueRootPem from '../assets/demo-keys/rogue-root/cert.pem?raw';
import { bool, list, need, str, UsageError, type Parsed } from './args.ts';
import { IoError, type Io } from './io.ts';
import { loadCerts, readJsonFile, signerChecks, signFormat } from './commands.ts';
import { SIGNATURE_FILE_MAX } from '../core/verify/verify-detached.ts';

/** The manifest draft as `sign` reads it: the same function for --key, --prepare and --attach, so the head is the same. */
export async function readDraft(io: Io, p: Parsed): Promise<ManifestDraft> {
  const manifestPath = need(p, 'manifest');
  const json = await readJsonFile(io, manifestPath);
  const base = dirname(resolve(io.cwd, manifestPath));
  const draft = await manifestFromJson(json, (rel) => io.readText(resolve(base, rel)), { finalImage: bool(p, 'final-image') });
  if (!draft.ok) throw new IoError(`${manifestPath}:\n  ${draft.errors.join('\n  ')}`);
  return draft.value;
}

/** The payload, capped as `sign` caps it. */
export async function readPayload(io: Io, p: Parsed): Promise<Uint8Array> {
  const payloadPath = need(p, 'payload');
  const blob = await io.openBlob(payloadPath);
  if (blob.size > 2 ** 31) throw new IoError(`${payloadPath}: ${blob.size} bytes exceeds the 2 GiB payload cap`);
  return io.readBytes(payloadPath);
}

/** In production mode, what `sign` refuses to make (a demo signer, a dev image, demo nextKeys). */
/** The demo roots (src/assets/demo-keys): a signer certificate issued under one is a demo signer, whatever its own key. */
async function demoRoots(): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const pem of [demoRootPem, rogueRootPem]) {
    const c = await parseCertificate(parsePem(pem).blocks[0]!.der);
    if (c.ok) out.push(c.value);
  }
  return out;
}

export async function productionSignCheck(draft: ManifestDraft, spki: Uint8Array | undefined, chain: readonly Certificate[] = []): Promise<void> {
  // a key of its own under a DEMO root is still a demo signer: verify's production row refuses it, so sign does first
  const underDemo = chain.length ? await validateChain(chain[0]!, chain.slice(1), await demoRoots(), { time: new Date(), ekuMustBePresent: false, leafNeedsDigitalSignature: false }) : undefined;
  const signers = spki
    ? [{ keyId: toHex(await keyIdOf(spki)), via: 'trusted key' as const, demo: isDemoKeyId(await keyIdOf(spki)) || !!underDemo?.ok, ...(underDemo?.ok ? { anchor: underDemo.anchor.subject } : {}) }]
    : [];
  const problems = await productionProblems({ signers, manifest: draft });
  if (problems.length) throw new IoError(`refusing to sign, ${PRODUCTION_REFUSES}: ${problems.join('; ')}`);
}

export async function cmdSignElsewhere(p: Parsed, io: Io, production: boolean): Promise<number> {
  const prepare = str(p, 'prepare');
  const attach = str(p, 'attach');
  if (prepare !== undefined && attach !== undefined) throw new UsageError('--prepare and --attach are two steps: run --prepare, sign its output elsewhere, then --attach the signature');
  if (str(p, 'key') !== undefined) throw new UsageError(`--${prepare !== undefined ? 'prepare' : 'attach'} is for a key that is not on this machine; with --key, sign directly`);
  if (str(p, 'passin') !== undefined) throw new UsageError('--passin goes with --key');
  if (prepare !== undefined) return cmdPrepare(p, io, prepare, production);
  return cmdAttach(p, io, attach!, production);
}

async function cmdPrepare(p: Parsed, io: Io, out: string, production: boolean): Promise<number> {
  for (const f of ['o', 'out', 'cert', 'pubkey', 'cms'] as const) if (p.flags[f] !== undefined) throw new UsageError(`--${f} belongs to --attach (--prepare writes only the bytes to sign, to ${out})`);
  if (list(p, 'chain').length) throw new UsageError('--chain belongs to --attach');
  const draft = await readDraft(io, p);
  const payload = await readPayload(io, p);
  const how = signFormat(p, payload.length);
  if (production) await productionSignCheck(draft, undefined);
  const head = await prepareHead(draft, payload, how);
  const digestPath = `${out}.sha256`;
  await io.writeBytes(out, head.signed);
  // the 32 digest bytes themselves, as `openssl pkeyutl -sign -pkeyopt digest:sha256 -in` and KMS digest-sign calls take them
  await io.writeBytes(digestPath, head.digest);
  io.out(`${out}: the ${head.signed.length} bytes to sign (header and manifest of ${draft.product} ${draft.version}); SHA-256 ${toHex(head.digest)} (also in ${digestPath})`);
  return 0;
}

async function readPublicKey(io: Io, path: string): Promise<Uint8Array> {
  const bytes = await io.readBytes(path);
  const der = looksLikePem(bytes) ? parsePem(new TextDecoder().decode(bytes)).blocks.find((b) => b.label === 'PUBLIC KEY')?.der : bytes;
  if (!der) throw new IoError(`${path}: no PUBLIC KEY in it (openssl pkey -in KEY.pem -pubout writes one; for a certificate use --cert)`);
  const k = parseSpki(der);
  if (!k.ok) throw new IoError(`${path}: ${k.reason}`);
  return der;
}

async function cmdAttach(p: Parsed, io: Io, sigPath: string, production: boolean): Promise<number> {
  const out = str(p, 'o') ?? str(p, 'out');
  if (!out) throw new UsageError('-o OUT is required');
  const certPath = str(p, 'cert');
  const pubPath = str(p, 'pubkey');
  if (certPath && pubPath) throw new UsageError('--cert and --pubkey both name the signer: give one');
  if (!certPath && !pubPath) throw new UsageError('--attach needs the signer: --cert C.pem (carried in the image) or --pubkey PUB.pem');
  if (!certPath && list(p, 'chain').length) throw new UsageError('--chain needs --cert');
  const cms = bool(p, 'cms');
  if (cms && !certPath) throw new UsageError('--cms needs --cert (a CMS signature names its signer certificate)');
  let chain: Certificate[] = [];
  let spki: Uint8Array;
  if (certPath) {
    chain = [...(await loadCerts(io, [certPath])), ...(await loadCerts(io, list(p, 'chain')))];
    spki = chain[0]!.spki;
  } else spki = await readPublicKey(io, pubPath!);
  const parsedKey = parseSpki(spki);
  const description = parsedKey.ok ? describeKey(parsedKey.value) : 'an unreadable key';
  signerChecks(io, p, { spki, description }, chain);
  const sigSize = (await io.openBlob(sigPath)).size;
  if (sigSize > SIGNATURE_FILE_MAX) throw new IoError(`${sigPath}: ${sigSize} bytes is too large for a signature file`);
  const signature = await io.readBytes(sigPath);
  const draft = await readDraft(io, p);
  const payload = await readPayload(io, p);
  const how = signFormat(p, payload.length);
  if (production) await productionSignCheck(draft, spki, chain);
  const head = await prepareHead(draft, payload, how);
  const ext: ExternalSignature = cms ? { kind: 'cms', der: signature, chain } : { kind: 'raw', signature, spki, chain };
  const r = await attachSignature(head, payload, ext);
  if (!r.ok) throw new IoError(`${sigPath}: refusing to attach: ${r.reason}; nothing was written`);
  await io.writeBytes(out, r.value);
  if (bool(p, 'final-image')) io.err(`WARNING: ${out} is a FINAL IMAGE (--final-image): once it runs, the device accepts no further update unless its nextKeys hold a key the device verifies. There is no recovery over USB.`);
  io.out(`${out}: signed ${draft.product} ${draft.version} with the signature in ${sigPath} (${r.value.length} bytes, ${description}${chain.length ? `, signer "${chain[0]!.subject}"` : ', no certificates'}${cms ? ', CMS' : ''}; verified over the prepared bytes, SHA-256 ${toHex(head.digest)})`);
  return 0;
}
