/**
 * The external CMS / PKCS#7 SignedData corpus (tests/vectors/cms-pkcs7: Mbed TLS, OpenSSL and
 * pyca/cryptography files; see SOURCES.md) through verifyCms. Every row of EXPECTED.tsv is run,
 * and the table below must cover exactly those rows.
 *
 * How the rows are set up:
 * - The corpus signer certificates are self-signed and carry no codeSigning EKU, so each is given as
 *   its own trust anchor with `ekuMustBePresent: false` and a check time inside its validity:
 *   2024-01-01 for mbedtls ("PKCS7 Cert 1/2/3", 2023-05-08..2033-05-08), 2019-06-01 for openssl
 *   (anchor smroot-2013.crt, 2013-07-17..2023-07-15), 2025-06-01 for pyca (2025-01-05..2026-01-05).
 * - Certificates that the TSV says are "not embedded" are supplied as `extraCerts` (a --cert option).
 * - MALFORMED rows have no content or signer in the TSV; they get the content and all three mbedtls
 *   certificates anyway, so a file that slipped past the parser would still have to verify in full.
 *
 * Our policy is SHA-256 only: SHA-512, SHA-1, MD5 and RIPEMD-160 signers are "REJECT by policy"
 * (kind 'policy') even where the signature itself is good.
 *
 * Rows where our verdict differs from OpenSSL's or Mbed TLS's (each is also noted at its row):
 * - pkcs7_data_cert_signed_sha512.der: both accept; we refuse by policy (SHA-256 only).
 * - pkcs7_data_cert_signed_sha1.der: OpenSSL accepts; we (and Mbed TLS) refuse by policy.
 * - pkcs7_data_cert_signed_v2.der (SignedData.version patched 1 → 2): Mbed TLS refuses
 *   (INVALID_VERSION); we accept, as OpenSSL does — cms.ts allows versions 1..5 and the version is
 *   not covered by the signature. RFC 5652 §5.1 never assigns version 2 to SignedData, so a stricter
 *   cms.ts could refuse it; this test pins today's behaviour.
 * - pkcs7_data_cert_signeddata_sha256.der (bare SignedData, no ContentInfo): Mbed TLS parses it;
 *   we refuse it as malformed, as OpenSSL does (a CMS file is a ContentInfo).
 * - pkcs7_data_multiple_certs_signed.der and pkcs7_data_with_signature.der (attached content):
 *   Mbed TLS reports FEATURE_UNAVAILABLE; we verify them, as OpenSSL does.
 * - pkcs7_data_rsa_expired.der: both libraries' signature checks pass; we refuse because signer
 *   validity is enforced at the check time (2024-01-01; the same file verifies at 2013-06-01).
 * - "wrong key" rows (cert 2 given for data signed by cert 1): Mbed TLS forces cert 2 and reports
 *   RSA_VERIFY_FAILED. We pick the signer certificate by issuer and serial number, so the outcome
 *   is 'chain': the embedded cert 1 verifies but is not trusted (cert 2 is the only anchor), or no
 *   certificate matches the signer at all when cert 1 is not embedded.
 * - pyca/signed-opaque: the signer is an S/MIME certificate (EKU clientAuth + emailProtection), so
 *   this row requires emailProtection instead of codeSigning; under the default code-signing EKU it
 *   is refused (checked separately below).
 * - openssl/*.cms: refused for their broken signed attributes, as OpenSSL does. (Their EE
 *   certificate is signed with sha1WithRSAEncryption, which our chain policy would also refuse, but
 *   the attribute checks come first, and the reasons below prove they are what fired.)
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { equalBytes } from '../../../src/core/bytes/hex.ts';
import { verifyCms, type CmsFailureKind, type CmsResult, type CmsVerifyOptions } from '../../../src/core/crypto/cms.ts';
import { base64Decode, parsePem } from '../../../src/core/crypto/pem.ts';
import { parseCertificate, type Certificate, type ChainOptions } from '../../../src/core/crypto/x509.ts';

const DIR = new URL('../../vectors/cms-pkcs7/', import.meta.url);
const read = (path: string) => new Uint8Array(readFileSync(new URL(path, DIR)));
const text = (path: string) => readFileSync(new URL(path, DIR), 'latin1');
const pemDer = (path: string) => {
  const { blocks } = parsePem(text(path));
  if (blocks.length !== 1) throw new Error(`${path}: expected one PEM block, got ${blocks.length}`);
  return blocks[0]!.der;
};

/** The base64 body of an S/MIME message (headers, blank line, base64). */
function smimeBody(path: string): Uint8Array {
  const msg = text(path).replace(/\r\n/g, '\n');
  const der = base64Decode(msg.slice(msg.indexOf('\n\n') + 2));
  if (!der) throw new Error(`${path}: body is not base64`);
  return der;
}

/** One row of EXPECTED.tsv: file, content_for_detached, signer_cert(s), expected, basis. */
interface TsvRow {
  readonly key: string;
  readonly expected: string;
}
function readExpected(): TsvRow[] {
  return text('EXPECTED.tsv')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [file, content, signer, expected] = l.split('\t');
      if (!file || !content || !signer || !expected) throw new Error(`EXPECTED.tsv: short row ${l}`);
      return { key: `${file} | ${content.split(' ')[0]} | ${signer.split(' ')[0]}`, expected };
    });
}

type CertName = 'c1' | 'c2' | 'c3' | 'expired' | 'smroot' | 'pyca';
const CERT_FILES: Record<CertName, string> = {
  c1: 'mbedtls/pkcs7-rsa-sha256-1.crt',
  c2: 'mbedtls/pkcs7-rsa-sha256-2.crt',
  c3: 'mbedtls/pkcs7-rsa-sha256-3.crt',
  expired: 'mbedtls/pkcs7-rsa-expired.crt',
  smroot: 'openssl/smroot-2013.crt',
  pyca: 'pyca/verify_cert.pem',
};

type Expect = { ok: true; signers: number } | { ok: false; kind: CmsFailureKind; reason: RegExp };

interface Case {
  /** `${file} | ${first word of content column} | ${first word of signer column}` from EXPECTED.tsv. */
  readonly row: string;
  readonly der: () => Uint8Array;
  readonly content?: string;
  readonly anchors: readonly CertName[];
  readonly extra?: readonly CertName[];
  readonly chain: ChainOptions;
  readonly want: Expect;
  readonly why?: string;
}

const MBED_TIME: ChainOptions = { time: new Date('2024-01-01T00:00:00Z'), ekuMustBePresent: false };
const OPENSSL_TIME: ChainOptions = { time: new Date('2019-06-01T00:00:00Z'), ekuMustBePresent: false };
const PYCA_CHAIN: ChainOptions = { time: new Date('2025-06-01T00:00:00Z'), ekuMustBePresent: false, requiredEku: '1.3.6.1.5.5.7.3.4' /* emailProtection */ };

const ok = (signers = 1): Expect => ({ ok: true, signers });
const no = (kind: CmsFailureKind, reason: RegExp): Expect => ({ ok: false, kind, reason });
const mb = (name: string) => () => read(`mbedtls/${name}`);
const DATA = 'mbedtls/pkcs7_data.bin';
const EMPTY = 'mbedtls/pkcs7_zerolendata.bin';

const malformed = (file: string): Case => ({
  row: `mbedtls/${file} | - | -`,
  der: mb(file),
  content: DATA,
  anchors: ['c1', 'c2', 'c3'],
  extra: ['c1', 'c2', 'c3'],
  chain: MBED_TIME,
  want: no('malformed', /not a single DER-encoded structure|does not parse as SignedData/),
});

const CASES: readonly Case[] = [
  // --- mbedtls: no signed attributes; the RSA signature is over the content digest ---
  { row: 'mbedtls/pkcs7_data_cert_signed_sha256.der | pkcs7_data.bin | pkcs7-rsa-sha256-1.der', der: mb('pkcs7_data_cert_signed_sha256.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: ok() },
  {
    row: 'mbedtls/pkcs7_data_cert_signed_sha256.der | pkcs7_data_1.bin | pkcs7-rsa-sha256-1.der',
    der: mb('pkcs7_data_cert_signed_sha256.der'),
    content: 'mbedtls/pkcs7_data_1.bin',
    anchors: ['c1'],
    chain: MBED_TIME,
    want: no('signature', /signature does not match/),
  },
  {
    row: 'mbedtls/pkcs7_data_cert_signed_sha256.der | pkcs7_data.bin | pkcs7-rsa-sha256-2.der',
    der: mb('pkcs7_data_cert_signed_sha256.der'),
    content: DATA,
    anchors: ['c2'],
    extra: ['c2'],
    chain: MBED_TIME,
    want: no('chain', /does not chain to a trusted root/),
    why: 'signer found by issuer+serial is the embedded cert 1, which is not an anchor (Mbed TLS: RSA_VERIFY_FAILED with cert 2)',
  },
  { row: 'mbedtls/pkcs7_data_cert_signed_sha512.der | pkcs7_data.bin | pkcs7-rsa-sha256-1.der', der: mb('pkcs7_data_cert_signed_sha512.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: no('policy', /SHA-512; the policy requires SHA-256/), why: 'REJECT by policy (SHA-256 only); OpenSSL and Mbed TLS accept' },
  { row: 'mbedtls/pkcs7_data_cert_signed_sha1.der | pkcs7_data.bin | pkcs7-rsa-sha256-1.der', der: mb('pkcs7_data_cert_signed_sha1.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: no('policy', /SHA-1; the policy requires SHA-256/), why: 'REJECT by policy; OpenSSL accepts' },
  { row: 'mbedtls/pkcs7_data_cert_signed_md5.der | pkcs7_data.bin | pkcs7-rsa-sha256-1.der', der: mb('pkcs7_data_cert_signed_md5.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: no('policy', /MD5; the policy requires SHA-256/) },
  { row: 'mbedtls/pkcs7_data_cert_signed_ripemd160.der | pkcs7_data.bin | pkcs7-rsa-sha256-1.der', der: mb('pkcs7_data_cert_signed_ripemd160.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: no('policy', /RIPEMD-160; the policy requires SHA-256/) },
  { row: 'mbedtls/pkcs7_zerolendata_detached.der | pkcs7_zerolendata.bin | pkcs7-rsa-sha256-1.der', der: mb('pkcs7_zerolendata_detached.der'), content: EMPTY, anchors: ['c1'], extra: ['c1'], chain: MBED_TIME, want: ok() },
  {
    row: 'mbedtls/pkcs7_zerolendata_detached.der | pkcs7_zerolendata.bin | pkcs7-rsa-sha256-2.der',
    der: mb('pkcs7_zerolendata_detached.der'),
    content: EMPTY,
    anchors: ['c2'],
    extra: ['c2'],
    chain: MBED_TIME,
    want: no('chain', /neither in the CMS nor supplied/),
    why: 'cert 2 does not match the signer identifier (issuer+serial of cert 1); Mbed TLS: RSA_VERIFY_FAILED',
  },
  { row: 'mbedtls/pkcs7_data_without_cert_signed.der | pkcs7_data.bin | pkcs7-rsa-sha256-1', der: mb('pkcs7_data_without_cert_signed.der'), content: DATA, anchors: ['c1'], extra: ['c1'], chain: MBED_TIME, want: ok() },
  { row: 'mbedtls/pkcs7_data_multiple_signed.der | pkcs7_data.bin | certs', der: mb('pkcs7_data_multiple_signed.der'), content: DATA, anchors: ['c1', 'c2'], extra: ['c1', 'c2'], chain: MBED_TIME, want: ok(2) },
  { row: 'mbedtls/pkcs7_data_3_signed.der | pkcs7_data.bin | certs', der: mb('pkcs7_data_3_signed.der'), content: DATA, anchors: ['c1', 'c2', 'c3'], extra: ['c1', 'c2', 'c3'], chain: MBED_TIME, want: ok(3) },
  { row: 'mbedtls/pkcs7_data_multiple_certs_signed.der | pkcs7_data.bin | certs', der: mb('pkcs7_data_multiple_certs_signed.der'), content: DATA, anchors: ['c1', 'c2'], chain: MBED_TIME, want: ok(2), why: 'as OpenSSL; Mbed TLS: FEATURE_UNAVAILABLE' },
  {
    row: 'mbedtls/pkcs7_data_rsa_expired.der | pkcs7_data.bin | pkcs7-rsa-expired.crt',
    der: mb('pkcs7_data_rsa_expired.der'),
    content: DATA,
    anchors: ['expired'],
    chain: MBED_TIME,
    want: no('chain', /expired on 2013-12-17/),
    why: 'signature is good, but the signer certificate expired 2013-12-17 and validity is enforced at 2024-01-01',
  },
  { row: 'mbedtls/pkcs7_data_with_signature.der | (attached, | pkcs7-rsa-sha256-1', der: mb('pkcs7_data_with_signature.der'), anchors: ['c1'], extra: ['c1'], chain: MBED_TIME, want: ok(), why: 'attached content, cert not embedded; as OpenSSL; Mbed TLS: FEATURE_UNAVAILABLE' },
  {
    row: 'mbedtls/pkcs7_data_cert_signeddata_sha256.der | pkcs7_data.bin | -',
    der: mb('pkcs7_data_cert_signeddata_sha256.der'),
    content: DATA,
    anchors: ['c1'],
    chain: MBED_TIME,
    want: no('malformed', /does not parse as SignedData/),
    why: 'bare SignedData without the ContentInfo wrapper: refused like OpenSSL (Mbed TLS parses it)',
  },
  {
    row: 'mbedtls/pkcs7_data_cert_signed_v2.der | pkcs7_data.bin | cert',
    der: mb('pkcs7_data_cert_signed_v2.der'),
    content: DATA,
    anchors: ['c1'],
    chain: MBED_TIME,
    want: ok(),
    why: 'SignedData.version patched to 2 (unsigned field): accepted like OpenSSL; Mbed TLS refuses (INVALID_VERSION)',
  },
  { row: 'mbedtls/pkcs7_data_no_signers.der | - | -', der: mb('pkcs7_data_no_signers.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: no('signature', /no signers/) },
  { row: 'mbedtls/pkcs7_data_cert_encrypted.der | - | -', der: mb('pkcs7_data_cert_encrypted.der'), content: DATA, anchors: ['c1'], chain: MBED_TIME, want: no('policy', /EnvelopedData, not SignedData/) },
  malformed('pkcs7_data_signed_badcert.der'),
  malformed('pkcs7_data_signed_badsigner.der'),
  malformed('pkcs7_data_signed_badsigner1_badsize.der'),
  malformed('pkcs7_data_signed_badsigner2_badsize.der'),
  malformed('pkcs7_data_signed_badsigner1_badtag.der'),
  malformed('pkcs7_data_signed_badsigner2_badtag.der'),
  malformed('pkcs7_data_signed_badsigner1_fuzzbad.der'),
  malformed('pkcs7_data_signed_badsigner2_fuzzbad.der'),
  malformed('pkcs7_signerInfo_issuer_invalid_size.der'),
  malformed('pkcs7_signerInfo_serial_invalid_size.der'),
  malformed('pkcs7_signerInfo_2_invalid_tag.der'),
  malformed('pkcs7_signerInfo_1_serial_invalid_tag_after_long_name.der'),
  // --- openssl: signed attributes, each file broken in them; attached content ---
  { row: 'openssl/no_md_attr.cms | (attached) | embedded', der: () => read('openssl/no_md_attr.cms'), anchors: ['smroot'], chain: OPENSSL_TIME, want: no('malformed', /exactly one messageDigest/) },
  { row: 'openssl/no_ct_attr.cms | (attached) | embedded', der: () => read('openssl/no_ct_attr.cms'), anchors: ['smroot'], chain: OPENSSL_TIME, want: no('malformed', /exactly one contentType/) },
  { row: 'openssl/ct_multiple_attr.cms | (attached) | embedded', der: () => read('openssl/ct_multiple_attr.cms'), anchors: ['smroot'], chain: OPENSSL_TIME, want: no('malformed', /exactly one contentType/) },
  { row: 'openssl/bad_signtime_attr.cms | (attached) | embedded', der: () => read('openssl/bad_signtime_attr.cms'), anchors: ['smroot'], chain: OPENSSL_TIME, want: no('malformed', /1\.2\.840\.113549\.1\.9\.5 must be a signed attribute/) },
  // --- pyca: the one positive vector with signed attributes (RSA-2048 / SHA-256, detached) ---
  { row: 'pyca/signed-opaque.msg | signed-opaque.content.bin | verify_cert.pem', der: () => smimeBody('pyca/signed-opaque.msg'), content: 'pyca/signed-opaque.content.bin', anchors: ['pyca'], chain: PYCA_CHAIN, want: ok(), why: 'S/MIME signer: requiredEku emailProtection' },
  { row: 'pyca/signed-opaque.der | same | same', der: () => read('pyca/signed-opaque.der'), content: 'pyca/signed-opaque.content.bin', anchors: ['pyca'], chain: PYCA_CHAIN, want: ok(), why: 'S/MIME signer: requiredEku emailProtection' },
  { row: 'pyca/isrg.pem | - | -', der: () => pemDer('pyca/isrg.pem'), content: 'pyca/signed-opaque.content.bin', anchors: ['pyca'], chain: PYCA_CHAIN, want: no('signature', /no signers/), why: 'certificates-only SignedData proves nothing' },
];

const certs = new Map<CertName, Certificate>();
beforeAll(async () => {
  for (const [name, path] of Object.entries(CERT_FILES) as [CertName, string][]) {
    const r = await parseCertificate(pemDer(path));
    if (!r.ok) throw new Error(`${path}: ${r.reason}`);
    certs.set(name, r.value);
  }
});
const certList = (names: readonly CertName[] = []) => names.map((n) => certs.get(n)!);

function run(c: Case, chain: ChainOptions = c.chain, extra: Partial<CmsVerifyOptions> = {}): Promise<CmsResult> {
  return verifyCms(c.der(), { content: c.content === undefined ? undefined : read(c.content), anchors: certList(c.anchors), extraCerts: certList(c.extra), chain, ...extra });
}

const byRow = (row: string) => {
  const c = CASES.find((x) => x.row === row);
  if (!c) throw new Error(`no case for ${row}`);
  return c;
};

describe('CMS corpus (EXPECTED.tsv)', () => {
  it('the table covers every row of EXPECTED.tsv exactly once', () => {
    const rows = readExpected();
    expect(rows.length).toBe(38);
    expect(CASES.map((c) => c.row).sort()).toEqual(rows.map((r) => r.key).sort());
  });

  it.each(CASES.map((c) => [`${c.row} → ${c.want.ok ? 'ok' : `${c.want.kind}`}${c.why ? ` (${c.why})` : ''}`, c] as const))('%s', async (_name, c) => {
    const r = await run(c);
    if (c.want.ok) {
      expect(r.ok ? r.signers.length : r).toBe(c.want.signers);
    } else {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect({ kind: r.kind, reason: r.reason }).toEqual({ kind: c.want.kind, reason: expect.stringMatching(c.want.reason) });
    }
  });
});

describe('CMS corpus: controls for the rows above', () => {
  it('the expired signer verifies at 2013-06-01, inside its validity (so only validity rejected it)', async () => {
    const c = byRow('mbedtls/pkcs7_data_rsa_expired.der | pkcs7_data.bin | pkcs7-rsa-expired.crt');
    const r = await run(c, { ...MBED_TIME, time: new Date('2013-06-01T00:00:00Z') });
    expect(r.ok).toBe(true);
  });

  it('without the externally supplied certificate, a -nocerts CMS has no signer certificate', async () => {
    const c = byRow('mbedtls/pkcs7_data_without_cert_signed.der | pkcs7_data.bin | pkcs7-rsa-sha256-1');
    const r = await verifyCms(c.der(), { content: read(DATA), anchors: certList(['c1']), chain: MBED_TIME });
    expect(r).toMatchObject({ ok: false, kind: 'chain', reason: expect.stringMatching(/neither in the CMS nor supplied/) });
  });

  it('attached content is returned, and refused when the caller requires detached', async () => {
    const c = byRow('mbedtls/pkcs7_data_with_signature.der | (attached, | pkcs7-rsa-sha256-1');
    const r = await run(c);
    expect(r.ok && equalBytes(r.attachedContent!, read(DATA))).toBe(true);
    expect(await run(c, c.chain, { requireDetached: true })).toMatchObject({ ok: false, kind: 'policy' });
    expect(await run(c, c.chain, { content: read('mbedtls/pkcs7_data_1.bin') })).toMatchObject({ ok: false, kind: 'content' });
  });

  it('pyca: the .msg body decodes to signed-opaque.der, the wrong content fails, and codeSigning EKU is required by default', async () => {
    const c = byRow('pyca/signed-opaque.der | same | same');
    expect(equalBytes(smimeBody('pyca/signed-opaque.msg'), c.der())).toBe(true);
    expect(await verifyCms(c.der(), { content: read(DATA), anchors: certList(['pyca']), chain: PYCA_CHAIN })).toMatchObject({ ok: false, kind: 'signature', reason: expect.stringMatching(/messageDigest does not match/) });
    const { requiredEku: _, ...codeSigning } = PYCA_CHAIN;
    const r = await run(c, codeSigning);
    expect(r).toMatchObject({ ok: false, kind: 'chain', reason: expect.stringMatching(/not allowed for code signing/) });
  });

  it('the mbedtls signers are found and trusted only through the anchors given (cert 3 alone trusts nothing here)', async () => {
    const c = byRow('mbedtls/pkcs7_data_cert_signed_sha256.der | pkcs7_data.bin | pkcs7-rsa-sha256-1.der');
    expect(await verifyCms(c.der(), { content: read(DATA), anchors: certList(['c3']), chain: MBED_TIME })).toMatchObject({ ok: false, kind: 'chain' });
  });
});
