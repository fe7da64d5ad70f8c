/**
 * The firmware's own RSASSA-PKCS1-v1_5 / SHA-256 signing (wasm/crypto/rsa.ts rsa2048SignSha256) and
 * the receipt layout it fills (docs/protocol.md §4.11): the signature verifies with WebCrypto and
 * with openssl, equals WebCrypto's own signature with the same key (PKCS#1 v1.5 is deterministic),
 * and every body field is what the NIC holds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReceipt } from '../../../src/core/receipt/receipt.ts';
import { encodeAttestationCopy } from '../../../src/emulator/attestation.ts';
import { ATTEST_A, ATTEST_B, SECTOR } from '../../../src/emulator/flash.ts';
import { toHex } from '../../../src/core/bytes/hex.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { I, lock, queryTags, sample, update, version } from '../device/nic-helpers.ts';
import { demoKey, keyPem } from '../helpers/demo.ts';
import { mustOpenssl, openssl, tempDir } from '../cli/helpers.ts';
import { attestedNic, nonce, receiptOf } from './helpers.ts';
import { createHash } from 'node:crypto';
import { parseImageHead } from '../../../src/core/image/parse.ts';
import { HEAD_MAX } from '../../../src/core/image/layout.ts';
import type { EmulatedNic } from '../../../src/emulator/index.ts';

/** The release digest as the host defines it (SHA-256 of header ‖ manifest), of image bytes. */
function releaseDigest(bytes: Uint8Array): string {
  const h = parseImageHead(bytes.subarray(0, HEAD_MAX), bytes.length);
  if (!h.ok) throw new Error('the image head does not parse');
  return createHash('sha256').update(bytes.subarray(0, h.value.signedLength)).digest('hex');
}

/** The release digest of what lies in a bank of the NIC's flash, read by the host's own parser. */
function bankReleaseDigest(nic: EmulatedNic, bank: number): string {
  const at = nic.flash.bankAddr(bank as 0 | 1);
  // header (16 bytes, the manifest's size at offset 8) ‖ manifest (image-format.md §2)
  const header = nic.flash.read(at, 16)!;
  const signedLength = 16 + new DataView(header.buffer, header.byteOffset).getUint32(8, true);
  return createHash('sha256').update(nic.flash.read(at, signedLength)!).digest('hex');
}

const tmp = tempDir('tf-receipt-sign-');
afterAll(() => tmp.cleanup());

function b64url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  const v = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const out = new Uint8Array(256);
  out.set(v, 256 - v.length);
  return out;
}

describe('the firmware signs with its own code', () => {
  it('with a known key, its signature is byte for byte the one WebCrypto makes (RFC 8017 §8.2.1 is deterministic)', async () => {
    const nic = await attestedNic();
    // put the demo signer's key in the NIC's attestation copies (the certificate is not read by the firmware's signer)
    const key = await demoKey('signer');
    const jwk = await crypto.subtle.exportKey('jwk', key.privateKey);
    const cert = parsePem(keyPem('signer', 'cert.pem')).blocks[0]!.der;
    const copy = await encodeAttestationCopy(b64url(jwk.n!), b64url(jwk.d!), cert);
    for (const a of [ATTEST_A, ATTEST_B]) {
      nic.flash.erase(a, SECTOR);
      nic.flash.write(a, copy);
    }
    await nic.reset();
    for (const fill of [0x00, 0x5a, 0xff]) {
      const r = parseReceipt(receiptOf(nic, nonce(fill)));
      if (!r.ok) throw new Error(r.error.message);
      const expected = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key.privateKey, r.value.body as Uint8Array<ArrayBuffer>));
      expect(toHex(r.value.signature)).toBe(toHex(expected));
      expect(toHex(r.value.certificate)).toBe(toHex(cert));
    }
  });

  it('its signature over a fresh key verifies with WebCrypto and with openssl (dgst -verify and pkeyutl -verify)', async () => {
    const nic = await attestedNic();
    const r = parseReceipt(receiptOf(nic, nonce()));
    if (!r.ok) throw new Error(r.error.message);
    const { body, signature, certificate } = r.value;
    const spki = (await crypto.subtle.importKey('spki', new Uint8Array(parsePem((await certPublicKeyPem(certificate))).blocks[0]!.der), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']));
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', spki, signature as Uint8Array<ArrayBuffer>, body as Uint8Array<ArrayBuffer>)).toBe(true);
    writeFileSync(join(tmp.dir, 'body.bin'), body);
    writeFileSync(join(tmp.dir, 'sig.bin'), signature);
    writeFileSync(join(tmp.dir, 'pub.pem'), await certPublicKeyPem(certificate));
    const dgst = await mustOpenssl(tmp.dir, 'dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.bin', 'body.bin');
    expect(dgst.stdout).toContain('Verified OK');
    await mustOpenssl(tmp.dir, 'dgst', '-sha256', '-binary', '-out', 'body.sha256', 'body.bin');
    const pk = await mustOpenssl(tmp.dir, 'pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-pkeyopt', 'digest:sha256', '-in', 'body.sha256', '-sigfile', 'sig.bin');
    expect(pk.stdout).toContain('Signature Verified Successfully');
    // and a changed body does not verify (the check can fail)
    body[100]! ^= 1;
    writeFileSync(join(tmp.dir, 'body.bin'), body);
    expect((await openssl(tmp.dir, 'dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.bin', 'body.bin')).code).not.toBe(0);
  });

  it('a wrong private exponent (a key damaged before its checksum was made, or a fault in the multiplication) releases no signature: the self-check refuses it', async () => {
    const nic = await attestedNic();
    const key = await demoKey('signer');
    const jwk = await crypto.subtle.exportKey('jwk', key.privateKey);
    const d = b64url(jwk.d!);
    d[255]! ^= 0x02; // still < n, but not the inverse of 65537
    const copy = await encodeAttestationCopy(b64url(jwk.n!), d, parsePem(keyPem('signer', 'cert.pem')).blocks[0]!.der);
    for (const a of [ATTEST_A, ATTEST_B]) {
      nic.flash.erase(a, SECTOR);
      nic.flash.write(a, copy);
    }
    await nic.reset();
    expect(nic.firmware.hasAttestationKey).toBe(true);
    expect(nic.firmware.receipt(nonce(7))).toEqual({ ok: false, reason: 4 });
    // d ≥ n is refused before any arithmetic
    const big = await encodeAttestationCopy(b64url(jwk.n!), new Uint8Array(256).fill(0xff), parsePem(keyPem('signer', 'cert.pem')).blocks[0]!.der);
    for (const a of [ATTEST_A, ATTEST_B]) {
      nic.flash.erase(a, SECTOR);
      nic.flash.write(a, big);
    }
    await nic.reset();
    expect(nic.firmware.receipt(nonce(7))).toEqual({ ok: false, reason: 4 });
  });

  it('two NICs get two keys (the factory makes one per device)', async () => {
    const [a, b] = await Promise.all([attestedNic(), attestedNic()]);
    const ra = parseReceipt(receiptOf(a, nonce(1)));
    const rb = parseReceipt(receiptOf(b, nonce(1)));
    if (!ra.ok || !rb.ok) throw new Error('no parse');
    expect(toHex(ra.value.certificate)).not.toBe(toHex(rb.value.certificate));
    expect(toHex(ra.value.signature)).not.toBe(toHex(rb.value.signature));
  });
});

/** The certificate's public key as PEM, by openssl (an independent reading of the DER). */
async function certPublicKeyPem(der: Uint8Array): Promise<string> {
  writeFileSync(join(tmp.dir, 'cert.der'), der);
  return (await mustOpenssl(tmp.dir, 'x509', '-inform', 'DER', '-in', 'cert.der', '-pubkey', '-noout')).stdout;
}

describe('the receipt layout, field by field', () => {
  it('carries what the NIC holds: identity, versions and digests of both banks, fuses, the last update, the nonce', async () => {
    const nic = await attestedNic({ identity: { serial: 'SN-RECEIPT-42' } });
    const n = nonce();
    // before any update: nothing pending, no update since power-on
    let raw = receiptOf(nic, n);
    let r = parseReceipt(raw);
    if (!r.ok) throw new Error(r.error.message);
    const tags = queryTags(nic);
    const digests = tags.get(17)!;
    const banks = tags.get(16)!;
    expect(String.fromCharCode(...raw.subarray(0, 4))).toBe('TFRC');
    expect(new DataView(raw.buffer).getUint16(4, true)).toBe(1);
    expect(new DataView(raw.buffer).getUint16(6, true)).toBe(176);
    expect(toHex(r.value.nonce)).toBe(toHex(n));
    expect(r.value.serial).toBe('SN-RECEIPT-42');
    expect(r.value.psid).toBe('TF_0000000001');
    expect(r.value.pending).toBe(false);
    expect(r.value.bootStatus).toBe(nic.firmware.bootStatus());
    expect(r.value.runningVersion).toBe(version(tags.get(1)));
    // the release digest (header ‖ manifest), as the host's report and the release catalog name a release;
    // not the boot record's digest, which for format v2 also covers the signature block
    expect(r.value.runningDigest).toBe(bankReleaseDigest(nic, banks[0]!));
    expect(r.value.runningDigest).not.toBe(toHex(digests.subarray(banks[0]! * 32, banks[0]! * 32 + 32)));
    expect(r.value.pendingVersion).toBeUndefined();
    expect(r.value.pendingDigest).toBeUndefined();
    expect(r.value.fusedSvn).toBe(new DataView(tags.get(11)!.buffer, tags.get(11)!.byteOffset).getUint32(0, true));
    expect(r.value.lastUpdate).toBe(0xff);
    expect(r.value.mccState).toBe(0);
    expect(raw.length).toBe(176 + 2 + 256 + 2 + r.value.certificate.length);

    // after an update: the pending image's version and digest, the update's result
    expect(await update(nic, sample('good'))).toBe(0);
    raw = receiptOf(nic, n);
    r = parseReceipt(raw);
    if (!r.ok) throw new Error(r.error.message);
    const t2 = queryTags(nic);
    const b2 = t2.get(16)!;
    expect(r.value.pending).toBe(true);
    expect(r.value.pendingVersion).toBe(version(t2.get(2)));
    expect(r.value.pendingDigest).toBe(releaseDigest(sample('good')));
    expect(r.value.pendingDigest).toBe(bankReleaseDigest(nic, b2[1]!));
    expect(r.value.lastUpdate).toBe(0);

    // a refused update is the last update's result: its MCC error code; the MCC state is read as it is
    const h = lock(nic);
    nic.firmware.mcc(I.UPDATE, h, 100);
    nic.firmware.writeBlock(h, 0, new Uint8Array(100).fill(0x41));
    nic.firmware.mcc(I.VERIFY, h, 0);
    r = parseReceipt(receiptOf(nic, n));
    if (!r.ok) throw new Error(r.error.message);
    const refusedWith = nic.firmware.status().error;
    expect(refusedWith).not.toBe(0);
    expect(r.value.lastUpdate).toBe(refusedWith);
    expect(r.value.mccState).toBe(nic.firmware.status().state);
  });

  it('refuses a nonce of another length', async () => {
    const nic = await attestedNic();
    for (const len of [0, 16, 31, 33, 64]) {
      const r = nic.firmware.receipt(new Uint8Array(len));
      expect(r).toEqual({ ok: false, reason: 2 });
    }
  });
});
