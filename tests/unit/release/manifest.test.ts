/**
 * The web app's signed release manifest (threat T12, src/core/release/manifest.ts): its one
 * encoding, the signature by the pinned release key (and openssl's, both ways), and the file
 * checks the service worker and the build make — each refusal with the file it names.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importSigningKey, type SigningKey } from '../../../src/core/crypto/private-key.ts';
import { signBytes } from '../../../src/core/crypto/signature.ts';
import { toHex } from '../../../src/core/bytes/hex.ts';
import { keyIdOf } from '../../../src/core/crypto/keys.ts';
import { isDemoKeyId } from '../../../src/core/crypto/demo-keys.ts';
import {
  badReleasePath,
  buildReleaseManifest,
  checkReleaseFile,
  checkReleaseTree,
  encodeReleaseManifest,
  parseReleaseManifest,
  releaseDigest,
  releaseKeyAlg,
  verifyReleaseManifest,
  type ReleaseManifest,
} from '../../../src/core/release/manifest.ts';
import { parseReleaseMessage } from '../../../src/core/release/messages.ts';
import { ROOT } from '../cli/helpers.ts';

const enc = new TextEncoder();
const APP = { name: 'TrustFlash', version: '0.1.0', commit: '0123456789abcdef0123456789abcdef01234567' };
const FILES = new Map<string, Uint8Array>([
  ['index.html', enc.encode('<!doctype html><title>t</title>')],
  ['assets/index-abc.js', enc.encode('console.log(1)')],
  ['samples/good.tfw', new Uint8Array(300).map((_, i) => i & 0xff)],
  ['sw.js', enc.encode('self.x=1')],
]);
const KEY_PEM = join(ROOT, 'src/assets/demo-keys/release/key.pem');
const PUB_PEM = join(ROOT, 'src/assets/demo-keys/release/pubkey.pem');

let key: SigningKey;
let rogue: SigningKey;
let manifest: ReleaseManifest;
let bytes: Uint8Array;
let signature: Uint8Array;
let dir: string;

async function sign(m: ReleaseManifest | Uint8Array, k = key): Promise<{ bytes: Uint8Array; signature: Uint8Array }> {
  const b = m instanceof Uint8Array ? m : encodeReleaseManifest(m);
  return { bytes: b, signature: await signBytes(k.alg, k.privateKey, b) };
}

beforeAll(async () => {
  const k = await importSigningKey(readFileSync(KEY_PEM, 'utf8'));
  if (!k.ok) throw new Error(k.reason);
  key = k.value;
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const r = await importSigningKey(pem);
  if (!r.ok) throw new Error(r.reason);
  rogue = r.value;
  const built = await buildReleaseManifest(APP, key.spki, FILES);
  if (!built.ok) throw new Error(built.reason);
  manifest = built.value;
  ({ bytes, signature } = await sign(manifest));
  dir = mkdtempSync(join(tmpdir(), 'release-manifest-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('release manifest: encoding', () => {
  it('lists every file sorted by path, with size and SHA-256, in one canonical encoding', async () => {
    expect(manifest.files.map((f) => f.path)).toEqual(['assets/index-abc.js', 'index.html', 'samples/good.tfw', 'sw.js']);
    expect(manifest.files[2]).toEqual({ path: 'samples/good.tfw', size: 300, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest.keyId).toBe(toHex(await keyIdOf(key.spki)));
    const text = new TextDecoder().decode(bytes);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).not.toMatch(/\s(?!$)/);
    expect(parseReleaseManifest(bytes)).toEqual({ ok: true, value: manifest });
    // the same input gives the same bytes and the same signature (the build is reproducible)
    const again = await buildReleaseManifest(APP, key.spki, new Map([...FILES].reverse()));
    expect(again.ok && encodeReleaseManifest(again.value)).toEqual(bytes);
    expect((await sign(manifest)).signature).toEqual(signature);
    expect(await releaseDigest(bytes)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses every other encoding and every schema slip, with a reason', () => {
    const text = new TextDecoder().decode(bytes);
    const variants: [string, string][] = [
      [JSON.stringify(JSON.parse(text), null, 2) + '\n', 'canonical encoding'],
      [text.trimEnd(), 'canonical encoding'],
      [text.replace('"app":', '"app" :'), 'canonical encoding'],
      [text.replace('"format":"trustflash-release-manifest/1"', '"format":"trustflash-release-manifest/2"'), 'this app reads'],
      [text.replace(/,"keyId":"[0-9a-f]+"/, ''), 'exactly format, app, keyId and files'],
      [text.replace('"keyId":"', '"keyId":"A'), 'keyId'],
      [text.replace('"path":"index.html"', '"path":"../index.html"'), '".." segment'],
      [text.replace('"path":"index.html"', '"path":"/index.html"'), 'relative'],
      [text.replace('"path":"sw.js"', '"path":"index.html"'), 'sorted by path, each listed once'],
      [text.replace('"size":300', '"size":-1'), 'whole number'],
      [text.replace('"size":300', '"size":300.5'), 'whole number'],
      [text.replace(/"sha256":"([0-9a-f]{64})","size":300/, '"sha256":"$1","size":300,"x":1'), 'exactly path, size and sha256'],
      ['{"format":1', 'not UTF-8 JSON'],
    ];
    for (const [v, why] of variants) {
      const r = parseReleaseManifest(enc.encode(v));
      expect(r.ok, v.slice(0, 80)).toBe(false);
      if (!r.ok) expect(r.reason).toContain(why);
    }
    expect(parseReleaseManifest(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, reason: expect.stringContaining('not UTF-8') });
    expect(parseReleaseManifest(new Uint8Array(1024 * 1024 + 1))).toMatchObject({ ok: false, reason: expect.stringContaining('at most') });
  });

  it('names the bad paths', () => {
    expect(badReleasePath('assets/a.js')).toBeUndefined();
    for (const p of ['', '/a', 'a\\b', 'a//b', './a', 'a/../b', 'a\u0000b']) expect(badReleasePath(p), p).toBeDefined();
  });
});

describe('release manifest: the pinned key', () => {
  it('verifies with the pinned key and gives the release digest', async () => {
    const r = await verifyReleaseManifest(bytes, signature, key.spki);
    expect(r).toEqual({ ok: true, value: { manifest, digest: await releaseDigest(bytes) } });
  });

  it('refuses a manifest signed by another key, even one that names that key', async () => {
    const other = await sign({ ...manifest, keyId: toHex(await keyIdOf(rogue.spki)) }, rogue);
    const r = await verifyReleaseManifest(other.bytes, other.signature, key.spki);
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('does not verify with the pinned release key') });
  });

  it('refuses a manifest that names another key, though the pinned key signed it', async () => {
    const other = await sign({ ...manifest, keyId: toHex(await keyIdOf(rogue.spki)) });
    const r = await verifyReleaseManifest(other.bytes, other.signature, key.spki);
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('not the pinned key') });
  });

  it('refuses an entry edited after signing, in any byte', async () => {
    for (let i = 0; i < bytes.length; i += 7) {
      const edited = bytes.slice();
      edited[i]! ^= 0x01;
      expect((await verifyReleaseManifest(edited, signature, key.spki)).ok, `byte ${i}`).toBe(false);
    }
    const sig = signature.slice();
    sig[10]! ^= 0x80;
    expect(await verifyReleaseManifest(bytes, sig, key.spki)).toMatchObject({ ok: false, reason: expect.stringContaining('does not verify') });
    expect(await verifyReleaseManifest(bytes, signature.subarray(1), key.spki)).toMatchObject({ ok: false });
  });

  it('refuses ECDSA as a release key (its signatures are randomised: the build would not reproduce)', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    expect(releaseKeyAlg(new Uint8Array(ec))).toMatchObject({ ok: false, reason: expect.stringContaining('deterministic') });
    expect(releaseKeyAlg(key.spki).ok).toBe(true);
  });

  it('the committed release key is a demo key', async () => {
    expect(isDemoKeyId(await keyIdOf(key.spki))).toBe(true);
  });
});

describe('release manifest: files', () => {
  it('accepts the files as signed; refuses a changed, resized, unlisted, missing or extra file, naming it', async () => {
    expect(await checkReleaseFile(manifest, 'sw.js', FILES.get('sw.js')!)).toMatchObject({ ok: true });
    expect(await checkReleaseFile(manifest, 'sw.js', enc.encode('self.y=1'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^file sw\.js does not match the signed release manifest \(SHA-256/) });
    expect(await checkReleaseFile(manifest, 'sw.js', enc.encode('self.x=12'))).toMatchObject({ ok: false, reason: 'file sw.js does not match the signed release manifest (9 bytes, signed 8)' });
    expect(await checkReleaseFile(manifest, 'other.js', enc.encode(''))).toMatchObject({ ok: false, reason: 'file other.js is not listed in the signed release manifest' });
    expect(await checkReleaseTree(manifest, FILES)).toEqual({ ok: true, value: 4 });
    const missing = new Map(FILES);
    missing.delete('index.html');
    expect(await checkReleaseTree(manifest, missing)).toMatchObject({ ok: false, reason: 'file index.html is listed in the signed release manifest but missing' });
    const extra = new Map(FILES).set('assets/evil.js', enc.encode('x'));
    expect(await checkReleaseTree(manifest, extra)).toMatchObject({ ok: false, reason: 'file assets/evil.js is not listed in the signed release manifest' });
  });

  it('a manifest that leaves a file out verifies, but the file it left out is refused', async () => {
    const fewer = { ...manifest, files: manifest.files.filter((f) => f.path !== 'samples/good.tfw') };
    const s = await sign(fewer);
    const v = await verifyReleaseManifest(s.bytes, s.signature, key.spki);
    expect(v.ok).toBe(true);
    if (v.ok) expect(await checkReleaseFile(v.value.manifest, 'samples/good.tfw', FILES.get('samples/good.tfw')!)).toMatchObject({ ok: false, reason: expect.stringContaining('not listed') });
  });
});

describe('release manifest: openssl interop', () => {
  const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

  it('openssl dgst -verify accepts our signature', () => {
    writeFileSync(join(dir, 'm.json'), bytes);
    writeFileSync(join(dir, 'm.sig'), signature);
    const r = openssl('dgst', '-sha256', '-verify', PUB_PEM, '-signature', join(dir, 'm.sig'), join(dir, 'm.json'));
    expect(r.stdout.trim()).toBe('Verified OK');
    expect(r.status).toBe(0);
  });

  it('a signature made by openssl dgst -sign verifies here', async () => {
    writeFileSync(join(dir, 'm2.json'), bytes);
    const r = openssl('dgst', '-sha256', '-sign', KEY_PEM, '-out', join(dir, 'm2.sig'), join(dir, 'm2.json'));
    expect(r.status).toBe(0);
    const sig = new Uint8Array(readFileSync(join(dir, 'm2.sig')));
    expect(await verifyReleaseManifest(bytes, sig, key.spki)).toMatchObject({ ok: true });
  });
});

describe('release messages', () => {
  it('reads only well-formed messages from the channel', () => {
    expect(parseReleaseMessage({ kind: 'refused', version: '1', commit: 'c', reason: 'why' })).toEqual({ kind: 'refused', version: '1', commit: 'c', reason: 'why' });
    expect(parseReleaseMessage({ kind: 'verified', version: '1', commit: 'c', digest: 'd' })).toEqual({ kind: 'verified', version: '1', commit: 'c', digest: 'd' });
    expect(parseReleaseMessage({ kind: 'unverified', version: '1', commit: 'c', path: 'a.js', reason: 'why' })).toEqual({ kind: 'unverified', version: '1', commit: 'c', path: 'a.js', reason: 'why' });
    for (const bad of [null, 'x', {}, { kind: 'refused', version: '1', commit: 'c' }, { kind: 'other', version: '1', commit: 'c', reason: 'r' }, { kind: 'refused', version: 1, commit: 'c', reason: 'r' }, { kind: 'unverified', version: '1', commit: 'c', reason: 'r' }, { kind: 'unverified', version: '1', commit: 'c', path: 2, reason: 'r' }]) {
      expect(parseReleaseMessage(bad)).toBeUndefined();
    }
  });
});
