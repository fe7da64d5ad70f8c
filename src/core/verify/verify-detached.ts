/**
 * Detached signatures for generic DFU devices: a raw `.bin`/`.dfu` with `.sig` (raw signature over
 * the whole file, as `openssl dgst -sha256 -sign` writes it) or `.p7s` (CMS SignedData, detached).
 * Such a device does not verify anything itself, so the report says so plainly; only size, key,
 * chain and signature can be checked (there is no manifest to bind device, version or freshness).
 */
import { toHex } from '../bytes/hex.ts';
import { SIG_ALG } from '../image/layout.ts';
import { verifyCms } from '../crypto/cms.ts';
import { isDemoKeyId } from '../crypto/demo-keys.ts';
import { checkKeyPolicy, sigAlgForKey } from '../crypto/keys.ts';
import { sha256WebCrypto } from '../crypto/sha256.ts';
import { ecdsaDerToRaw, verifySignature } from '../crypto/signature.ts';
import type { TrustStore } from '../crypto/trust.ts';
import { validateChain, type Certificate } from '../crypto/x509.ts';
import { revocationSummary } from '../crypto/crl.ts';
import { nowOverride, ReportBuilder, type CheckId, type Report } from './report.ts';
import { overrideRefusal, productionRow, PRODUCTION_RULES } from './production.ts';

/** Generic DFU firmware is small; the whole file is held to verify it (WebCrypto has no prehashed verify). */
export const DETACHED_MAX = 256 * 1024 * 1024;
export const SIGNATURE_FILE_MAX = 64 * 1024;

export interface DetachedOptions {
  readonly trust: TrustStore;
  /** The signer certificate, then any intermediates (from --cert). */
  readonly certificates: readonly Certificate[];
  readonly now?: Date;
  /** Production mode (production.ts): a DEMO signer and an override fail the "Production mode" row. */
  readonly production?: boolean;
}

export const DEVICE_DOES_NOT_VERIFY = 'This device does not verify signatures itself: only this host checked the file. Anyone with access to the device can still load anything.';

const DETACHED_ESSENTIAL: readonly CheckId[] = ['size', 'format', 'key', 'chain', 'signature'];
const NO_MANIFEST = 'not possible: a detached signature carries no manifest (no device binding, version or expiry)';

/** True when the bytes look like DER CMS ContentInfo (SEQUENCE … OID 1.2.840.113549.1.7.2). */
export function looksLikeCms(sig: Uint8Array): boolean {
  const oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
  return sig[0] === 0x30 && sig.subarray(0, 32).some((_, i) => oid.every((b, j) => sig[i + j] === b));
}

export async function verifyDetached(data: Uint8Array, signature: Uint8Array, opts: DetachedOptions): Promise<Report> {
  const b = new ReportBuilder();
  if (opts.now) b.overrides.push(nowOverride(opts.now));
  const now = opts.now ?? new Date();
  const production = opts.production === true;
  b.notices.push(DEVICE_DOES_NOT_VERIFY);
  const finish = () => {
    for (const id of ['nextKeys', 'expiry', 'device', 'secured', 'forbidden', 'devImage', 'securityVersion', 'deviceKey', 'fits', 'pending', 'catalog'] as const) if (!b.has(id)) b.skip(id, NO_MANIFEST);
    return b.finish({ fileSize: data.length, deviceVerifies: false }, production ? [...DETACHED_ESSENTIAL, 'production'] : DETACHED_ESSENTIAL);
  };
  const skipAll = (why: string) => {
    for (const id of DETACHED_ESSENTIAL) if (!b.has(id)) b.skip(id, why);
    if (production && !b.has('production')) b.skip('production', `production mode on (${PRODUCTION_RULES}); ${why}`);
    if (!b.has('payload')) b.skip('payload', why);
  };
  const refused = production ? overrideRefusal(b.overrides) : undefined;
  if (refused) {
    b.fail('production', refused);
    skipAll('not checked: production mode refuses the override');
    return finish();
  }
  const sizeProblem =
    data.length === 0
      ? 'the firmware file is empty'
      : data.length > DETACHED_MAX
        ? `the firmware file is ${data.length} bytes; detached verification holds the file in memory and stops at ${DETACHED_MAX}`
        : signature.length === 0
          ? 'the signature file is empty (an empty signature is never a pass)'
          : signature.length > SIGNATURE_FILE_MAX
            ? `the signature file is ${signature.length} bytes, more than any signature (${SIGNATURE_FILE_MAX})`
            : undefined;
  if (sizeProblem) {
    b.fail('size', sizeProblem);
    skipAll('not checked: size out of range');
    return finish();
  }
  b.pass('size', `firmware ${data.length} bytes, signature ${signature.length} bytes`);

  if (looksLikeCms(signature)) {
    const crls = opts.trust.crls ?? [];
    const r = await verifyCms(signature, { content: data, anchors: opts.trust.anchors, extraCerts: opts.certificates, chain: { time: now, crls } });
    if (!r.ok) {
      const at: CheckId = r.kind === 'malformed' || r.kind === 'content' ? 'format' : r.kind === 'chain' || r.kind === 'policy' ? 'chain' : 'signature';
      if (at !== 'format') b.pass('format', 'CMS SignedData (detached)');
      if (at === 'signature') {
        // cms.ts validates the signer's chain before it checks the signature, so both really passed
        b.pass('key', 'signer certificate found');
        b.pass('chain', `the signer's certificate chains to a trusted root, valid at ${now.toISOString()} for code signing`);
      }
      b.fail(at, r.reason);
      skipAll(`not checked: ${r.kind}`);
      return finish();
    }
    b.pass('format', `CMS SignedData with ${r.signers.length} signer${r.signers.length === 1 ? '' : 's'}`);
    b.pass('key', r.signers.map((s) => `"${s.certificate.subject}"`).join(', '));
    const notes = r.signers.flatMap((s) => s.chain.revocation ?? []);
    const involved = [...opts.trust.anchors, ...r.signers.flatMap((s) => s.chain.path)];
    b.pass('chain', `${r.signers.map((s) => `"${s.certificate.subject}" → "${s.chain.anchor.subject}"`).join('; ')}; ${revocationSummary(crls, notes, involved)}`);
    b.pass('signature', `the CMS signature${r.signers.length === 1 ? '' : 's'} over all ${data.length} bytes verif${r.signers.length === 1 ? 'ies' : 'y'}`);
    for (const s of r.signers) b.signers.push({ keyId: toHex(s.certificate.keyId), via: 'cms', subject: s.certificate.subject, anchor: s.chain.anchor.subject, demo: isDemoKeyId(s.certificate.keyId) || isDemoKeyId(s.chain.anchor.keyId) });
  } else {
    const [leaf, ...rest] = opts.certificates;
    if (!leaf) {
      b.fail('format', 'a raw signature needs the signer certificate (--cert SIGNER.pem) to know which key made it');
      skipAll('not checked: no signer certificate');
      return finish();
    }
    const policy = checkKeyPolicy(leaf.key);
    const alg = sigAlgForKey(leaf.key);
    let sig = signature;
    // openssl writes DER; WebCrypto-style tools write 64-byte r||s. DER is tried first, so a DER
    // signature that happens to be 64 bytes long is still read as DER.
    if (alg === SIG_ALG.ECDSA_P256_SHA256 && (signature.length !== 64 || ecdsaDerToRaw(signature))) {
      const raw = ecdsaDerToRaw(signature);
      if (!raw) {
        b.fail('format', 'the ECDSA signature file is neither DER nor 64-byte r||s');
        skipAll('not checked: malformed signature');
        return finish();
      }
      sig = raw;
    }
    b.pass('format', `raw signature (${signature.length} bytes)`);
    if (!policy.ok || alg === undefined) {
      b.fail('key', `signer key: ${policy.ok ? 'no signature algorithm for it' : policy.reason}`);
      skipAll('not checked: signer key refused');
      return finish();
    }
    b.pass('key', `"${leaf.subject}" (key ${toHex(leaf.keyId).slice(0, 16)}…)`);
    const crls = opts.trust.crls ?? [];
    const chain = await validateChain(leaf, rest, opts.trust.anchors, { time: now, crls });
    if (!chain.ok) {
      b.fail('chain', chain.reason);
      skipAll('not checked: the signer is not trusted');
      return finish();
    }
    b.pass('chain', `"${leaf.subject}" → "${chain.anchor.subject}", valid at ${now.toISOString()} for code signing; ${revocationSummary(crls, chain.revocation ?? [], [...opts.trust.anchors, ...chain.path])}`);
    const v = await verifySignature(alg, leaf.spki, sig, data);
    if (!v.ok) {
      b.fail('signature', `${v.reason}: the file was changed after signing, or the signature is for another file`);
      skipAll('not checked');
      return finish();
    }
    b.pass('signature', `the signature over all ${data.length} bytes verifies`);
    b.signers.push({ keyId: toHex(leaf.keyId), via: 'certificate', subject: leaf.subject, anchor: chain.anchor.subject, demo: isDemoKeyId(leaf.keyId) || isDemoKeyId(chain.anchor.keyId) });
  }
  if (production) await productionRow(b, { signers: b.signers });
  b.pass('payload', `whole file covered by the signature (SHA-256 ${toHex(await sha256WebCrypto(data))})`);
  if (!production && b.signers.some((s) => s.demo)) b.notices.push('Signed with a DEMO key whose private half is public: this proves nothing outside a demo.');
  return finish();
}
