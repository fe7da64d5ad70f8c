/**
 * The device and the host agree on every Wycheproof RSASSA-PKCS1-v1_5 2048/SHA-256 vector: the
 * device's own code (wasm/crypto: its SHA-256 over the message, its SPKI reader, its RSA) and the
 * host's (src/core/crypto: WebCrypto behind the key policy) reach the same verdict, test by test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../../src/core/crypto/signature.ts';
import { SIG_ALG } from '../../../src/core/image/layout.ts';
import { fromHex } from '../../../src/core/bytes/hex.ts';

interface Device {
  memory: WebAssembly.Memory;
  scratch(size: number): number;
  sha256(data: number, len: number, out: number): void;
  spkiRsa2048Modulus(spki: number, len: number, out: number): number;
  rsa2048VerifySha256(modulus: number, sig: number, sigLen: number, hash: number): number;
}

let dir: string;
let dev: Device;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tf-agree-'));
  const out = join(dir, 'crypto.wasm');
  execFileSync(process.execPath, ['node_modules/assemblyscript/bin/asc.js', 'wasm/crypto-test-entry.ts', '--outFile', out, '--runtime', 'stub', '-O3'], { stdio: 'pipe' });
  const { instance } = await WebAssembly.instantiate(readFileSync(out), {});
  dev = instance.exports as unknown as Device;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The device's verdict: its SPKI reader, its SHA-256 of the message, its RSA. */
function deviceVerifies(spki: Uint8Array, sig: Uint8Array, msg: Uint8Array): boolean {
  const base = dev.scratch(spki.length + sig.length + msg.length + 256 + 32 + 64);
  const mem = () => new Uint8Array(dev.memory.buffer);
  const pSpki = base;
  const pSig = pSpki + spki.length;
  const pMsg = pSig + sig.length;
  const pMod = pMsg + msg.length;
  const pHash = pMod + 256;
  mem().set(spki, pSpki);
  mem().set(sig, pSig);
  mem().set(msg, pMsg);
  if (!dev.spkiRsa2048Modulus(pSpki, spki.length, pMod)) return false;
  dev.sha256(pMsg, msg.length, pHash);
  return !!dev.rsa2048VerifySha256(pMod, pSig, sig.length, pHash);
}

describe('device and host agree', () => {
  it('on every Wycheproof rsa_signature_2048_sha256 vector', async () => {
    const file = JSON.parse(readFileSync('tests/vectors/wycheproof/rsa_signature_2048_sha256_test.json', 'utf8'));
    const disagreements: string[] = [];
    let count = 0;
    let accepted = 0;
    for (const g of file.testGroups) {
      const spki = fromHex(g.publicKeyDer);
      for (const t of g.tests) {
        const sig = fromHex(t.sig);
        const msg = fromHex(t.msg);
        const host = (await verifySignature(SIG_ALG.RSA_PKCS1_SHA256, spki, sig, msg)).ok;
        const device = deviceVerifies(spki, sig, msg);
        count++;
        if (host) accepted++;
        if (host !== device) disagreements.push(`tcId ${t.tcId} (${t.result}, ${t.comment}): host ${host}, device ${device}`);
      }
    }
    expect(disagreements, disagreements.join('\n')).toEqual([]);
    expect(count).toBe(259);
    // 7 valid e = 65537 signatures verify on both sides; the e = 3 "valid" ones are refused by both policies
    expect(accepted).toBe(7);
  }, 60_000);
});
