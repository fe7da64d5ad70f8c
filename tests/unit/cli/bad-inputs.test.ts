/**
 * Hostile and accidental inputs through the built `trustflash` executable: every one ends in exit
 * 1 (the input is rejected) or 2 (usage / I/O), a message that names the problem, and never a
 * stack trace. The same inputs through the API (verifyImage / verifyDetached) never throw.
 */
import { openAsBlob } from 'node:fs';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { loadTrustStore, type TrustStore } from '../../../src/core/crypto/trust.ts';
import { parseCertificate, type Certificate } from '../../../src/core/crypto/x509.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import type { BlobLike } from '../../../src/core/crypto/sha256.ts';
import type { Report } from '../../../src/core/verify/report.ts';
import { run } from '../../../src/cli/main.ts';
import { nodeIo, type Io } from '../../../src/cli/io.ts';
import { verifyDetached } from '../../../src/core/verify/verify-detached.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { DEMO_KEYS, NOW, ensureBinary, releaseBinary, hasStackTrace, manifestJson, tempDir, tf, tfBin, type Result } from './helpers.ts';

const GiB = 1024 ** 3;
const ROOT_PEM = join(DEMO_KEYS, 'root/cert.pem');
const SIGNER_PEM = join(DEMO_KEYS, 'signer/cert.pem');

let dir = '';
let cleanup: () => Promise<void> = async () => {};
const p = (f: string) => join(dir, f);

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A real 1×1 greyscale PNG: signature, IHDR, IDAT, IEND with correct CRCs. */
function tinyPng(): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, 1);
  v.setUint32(4, 1);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, filter 0, no interlace
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(deflateSync(Uint8Array.of(0, 0x80)))), chunk('IEND', new Uint8Array(0))];
  const png = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) png.set(x, (at += x.length) - x.length);
  return png;
}

function header(manifestSize: number, opts: { magic?: string; formatVersion?: number; headerSize?: number; flags?: number; extra?: number } = {}): Uint8Array {
  const b = new Uint8Array(16 + (opts.extra ?? 48));
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(opts.magic ?? 'TFWI'), 0);
  v.setUint16(4, opts.formatVersion ?? 1, true);
  v.setUint16(6, opts.headerSize ?? 16, true);
  v.setUint32(8, manifestSize, true);
  v.setUint32(12, opts.flags ?? 0, true);
  return b;
}

let good: Uint8Array = new Uint8Array(0);
let trust: TrustStore;
let signerCert: Certificate;

/** Offset of TLV `tag` inside the manifest of `img`. */
function tlv(img: Uint8Array, tag: number): number {
  const parsed = parseImage(img);
  if (!parsed.ok) throw new Error('base image does not parse');
  const v = new DataView(img.buffer, img.byteOffset);
  for (let at = parsed.value.manifestOffset; at < parsed.value.signedLength; ) {
    if (v.getUint16(at, true) === tag) return at;
    at += 6 + v.getUint32(at + 2, true);
  }
  throw new Error(`tag ${tag} not found`);
}

function patched(fn: (b: Uint8Array, v: DataView, img: ReturnType<typeof parseImage> & { ok: true }) => void): Uint8Array {
  const b = good.slice();
  const parsed = parseImage(b);
  if (!parsed.ok) throw new Error('base image does not parse');
  fn(b, new DataView(b.buffer), parsed);
  return b;
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('bad'));
  await ensureBinary();
  await writeFile(p('fw.bin'), new Uint8Array(4096).fill(0x5a));
  await writeFile(p('manifest.json'), manifestJson());
  const s = await tf(dir, 'sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--cert', SIGNER_PEM, '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'good.tfw');
  if (s.code !== 0) throw new Error(s.stderr);
  good = new Uint8Array(await readFile(p('good.tfw')));
  await tf(dir, 'sign-detached', 'fw.bin', '--key', join(DEMO_KEYS, 'signer/key.pem'), '-o', 'fw.sig');

  const files: Record<string, Uint8Array | string> = {
    'empty.tfw': new Uint8Array(0),
    'one-byte.tfw': Uint8Array.of(0x54),
    'fifteen.tfw': new TextEncoder().encode('TFWI\x01\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00'),
    'wrong-magic.tfw': Uint8Array.of(0x4d, 0x5a, 0x90, 0x00, ...new TextEncoder().encode(' this is a Windows executable, honest '.padEnd(60, '.'))),
    'manifest-ffffffff.tfw': header(0xffffffff),
    'manifest-zero.tfw': header(0),
    'format-v3.tfw': header(100, { formatVersion: 3 }),
    'header-flags.tfw': header(100, { flags: 0x80000000 }),
    'image.png': tinyPng(),
    'text.tfw': 'hello, I am a text file\n'.repeat(10),
    'truncated.tfw': good.subarray(0, good.length - 1),
    'trailing.tfw': Uint8Array.of(...good, 0),
    'sigblock-ffffffff.tfw': patched((_b, v, img) => v.setUint32(img.value.sigBlockOffset + 4, 0xffffffff, true)),
    'tlv-length-huge.tfw': patched((b, v) => v.setUint32(tlv(b, 1) + 2, 0xfffffff0, true)),
    'payload-size-2^40.tfw': patched((b, v) => v.setBigUint64(tlv(b, 16) + 6, 1n << 40n, true)),
    'entry-length-huge.tfw': patched((_b, v, img) => v.setUint32(img.value.sigBlockOffset + 8 + 4, 0x7fffffff, true)),
    'garbage-trust.pem': 'this is not a certificate\n',
    'binary-trust.pem': new Uint8Array(512).map((_, i) => (i * 131 + 17) & 0xff),
    'garbage.sig': 'not a signature at all',
    'random.sig': new Uint8Array(256).map((_, i) => (i * 97 + 5) & 0xff),
    'fake-cms.p7s': Uint8Array.of(0x30, 0x82, 0x10, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80),
    'empty.sig': new Uint8Array(0),
    'garbage-device.json': new Uint8Array([0xff, 0xfe, 0x00, 0x7b]),
  };
  for (const [name, bytes] of Object.entries(files)) await writeFile(p(name), bytes);
  await mkdir(p('a-directory.tfw'));
  await writeFile(p('sparse-3gib.tfw'), '');
  await truncate(p('sparse-3gib.tfw'), 3 * GiB);

  const { store } = await loadTrustStore([{ name: 'root', text: await readFile(ROOT_PEM, 'utf8') }]);
  trust = store;
  const c = await parseCertificate(parsePem(await readFile(SIGNER_PEM, 'utf8')).blocks[0]!.der);
  if (!c.ok) throw new Error(c.reason);
  signerCert = c.value;
});

afterAll(async () => {
  releaseBinary();
  await cleanup();
});

interface Case {
  readonly name: string;
  readonly argv: () => string[];
  readonly code: 1 | 2;
  /** What the message must say (stdout's REJECTED line for 1, stderr for 2). */
  readonly says: RegExp;
  /** For API checks of image inputs: the check that fails. */
  readonly failedCheck?: string;
  readonly file?: string;
}

const img = (file: string, code: 1 | 2, says: RegExp, failedCheck?: string): Case => ({
  name: file,
  file,
  argv: () => ['verify', p(file), '--trust', ROOT_PEM, '--now', NOW],
  code,
  says,
  ...(failedCheck ? { failedCheck } : {}),
});

const IMAGE_CASES: Case[] = [
  img('empty.tfw', 1, /File size: the file is empty/, 'size'),
  img('one-byte.tfw', 1, /File size: the file is 1 byte; a signed image starts with a 16-byte header/, 'size'),
  img('fifteen.tfw', 1, /File size: the file is 15 bytes/, 'size'),
  img('wrong-magic.tfw', 1, /Image format: header\.magic \(offset 0\): is "MZ\.\.", expected "TFWI" \(not a TrustFlash image\)/, 'format'),
  img('manifest-ffffffff.tfw', 1, /Image format: header\.manifestSize \(offset 8\): 4294967295 is outside 1\.\.65536/, 'format'),
  img('manifest-zero.tfw', 1, /header\.manifestSize \(offset 8\): 0 is outside/, 'format'),
  img('format-v3.tfw', 1, /header\.formatVersion \(offset 4\): is 3, this reader understands 1 and 2/, 'format'),
  img('header-flags.tfw', 1, /header\.flags \(offset 12\): is 0x80000000, reserved bits must be zero/, 'format'),
  img('image.png', 1, /header\.magic \(offset 0\): is "\.PNG", expected "TFWI"/, 'format'),
  img('text.tfw', 1, /header\.magic \(offset 0\): is "hell", expected "TFWI"/, 'format'),
  img('truncated.tfw', 1, /payload \(offset \d+\): manifest declares 4096 bytes but only 4095 follow \(truncated\)/, 'format'),
  img('trailing.tfw', 1, /payload \(offset \d+\): 1 trailing bytes after the payload are covered by no signature/, 'format'),
  img('sigblock-ffffffff.tfw', 1, /signatures\.blockSize \(offset \d+\): 4294967295 is outside 8\.\.1048576/, 'format'),
  img('tlv-length-huge.tfw', 1, /manifest\.vendor/, 'format'),
  img('payload-size-2^40.tfw', 1, /manifest\.payloadSize \(offset \d+\): 1099511627776 exceeds the 2147483648-byte cap/, 'format'),
  img('entry-length-huge.tfw', 1, /signatures\.entry\[0\]/, 'format'),
  img('sparse-3gib.tfw', 1, /File size: the file is 3221225472 bytes, larger than the largest possible image/, 'size'),
  img('a-directory.tfw', 2, /cannot use .*a-directory\.tfw: it is a directory/),
  img('no-such-file.tfw', 2, /cannot use .*no-such-file\.tfw: no such file/),
];

const TOO_BIG_TEXT = /cannot use .*sparse-3gib\.tfw: 3221225472 bytes is too large for a key, certificate, manifest or device file/;

const OTHER_CASES: Case[] = [
  { name: 'garbage trust file', argv: () => ['verify', p('good.tfw'), '--trust', p('garbage-trust.pem')], code: 2, says: /trust store: .*garbage-trust\.pem: no CERTIFICATE or PUBLIC KEY block found/ },
  { name: 'binary trust file', argv: () => ['verify', p('good.tfw'), '--trust', p('binary-trust.pem')], code: 2, says: /trust store: .*binary-trust\.pem: no CERTIFICATE or PUBLIC KEY block found/ },
  { name: 'trust file is a directory', argv: () => ['verify', p('good.tfw'), '--trust', dir], code: 2, says: /it is a directory/ },
  { name: 'trust file is a 3 GiB sparse file', argv: () => ['verify', p('good.tfw'), '--trust', p('sparse-3gib.tfw')], code: 2, says: TOO_BIG_TEXT },
  { name: 'device file is a 3 GiB sparse file', argv: () => ['verify', p('good.tfw'), '--trust', ROOT_PEM, '--device', p('sparse-3gib.tfw')], code: 2, says: TOO_BIG_TEXT },
  { name: '--cert is a 3 GiB sparse file', argv: () => ['verify', p('fw.bin'), '--sig', p('fw.sig'), '--cert', p('sparse-3gib.tfw'), '--trust', ROOT_PEM], code: 2, says: TOO_BIG_TEXT },
  { name: '--key is a 3 GiB sparse file', argv: () => ['sign-detached', p('fw.bin'), '--key', p('sparse-3gib.tfw'), '-o', p('out.sig')], code: 2, says: TOO_BIG_TEXT },
  { name: '--manifest is a 3 GiB sparse file', argv: () => ['sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--manifest', p('sparse-3gib.tfw'), '--payload', p('fw.bin'), '-o', p('out.tfw')], code: 2, says: TOO_BIG_TEXT },
  { name: 'sign-detached of a 3 GiB sparse file', argv: () => ['sign-detached', p('sparse-3gib.tfw'), '--key', join(DEMO_KEYS, 'signer/key.pem'), '-o', p('out.sig')], code: 2, says: /sparse-3gib\.tfw: 3221225472 bytes; detached signatures are verified in memory up to 268435456 bytes/ },
  { name: 'garbage device file', argv: () => ['verify', p('good.tfw'), '--trust', ROOT_PEM, '--device', p('garbage-device.json')], code: 2, says: /garbage-device\.json:1:1: .*\(not valid JSON\)/ },
  { name: 'text garbage signature file', argv: () => ['verify', p('fw.bin'), '--sig', p('garbage.sig'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM, '--now', NOW], code: 1, says: /REJECTED: Signature: RSA signature is 22 bytes; a 2048-bit key makes 256/ },
  { name: 'random 256-byte signature file', argv: () => ['verify', p('fw.bin'), '--sig', p('random.sig'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM, '--now', NOW], code: 1, says: /REJECTED: Signature: signature does not match the signed bytes/ },
  { name: 'truncated CMS signature file', argv: () => ['verify', p('fw.bin'), '--sig', p('fake-cms.p7s'), '--trust', ROOT_PEM, '--now', NOW], code: 1, says: /REJECTED: Image format: / },
  { name: 'empty signature file', argv: () => ['verify', p('fw.bin'), '--sig', p('empty.sig'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM, '--now', NOW], code: 1, says: /REJECTED: File size: the signature file is empty/ },
  { name: 'a PNG as the signature file', argv: () => ['verify', p('fw.bin'), '--sig', p('image.png'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM, '--now', NOW], code: 1, says: /REJECTED: Signature: RSA signature is \d+ bytes/ },
  { name: 'signature file is a directory', argv: () => ['verify', p('fw.bin'), '--sig', dir, '--cert', SIGNER_PEM, '--trust', ROOT_PEM], code: 2, says: /it is a directory/ },
  { name: 'signature file missing', argv: () => ['verify', p('fw.bin'), '--sig', p('nope.sig'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM], code: 2, says: /nope\.sig: no such file/ },
  { name: '3 GiB sparse signature file', argv: () => ['verify', p('fw.bin'), '--sig', p('sparse-3gib.tfw'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM], code: 2, says: /sparse-3gib\.tfw: 3221225472 bytes is too large for a signature file/ },
  { name: '3 GiB sparse firmware with a detached signature', argv: () => ['verify', p('sparse-3gib.tfw'), '--sig', p('fw.sig'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM], code: 2, says: /sparse-3gib\.tfw: 3221225472 bytes; detached verification stops at 268435456/ },
  { name: 'empty firmware with a detached signature', argv: () => ['verify', p('empty.tfw'), '--sig', p('fw.sig'), '--cert', SIGNER_PEM, '--trust', ROOT_PEM], code: 1, says: /REJECTED: File size: the firmware file is empty/ },
  { name: 'garbage --cert', argv: () => ['verify', p('fw.bin'), '--sig', p('fw.sig'), '--cert', p('garbage.sig'), '--trust', ROOT_PEM], code: 2, says: /garbage\.sig: certificate is not a single DER-encoded structure/ },
  { name: 'garbage key for sign', argv: () => ['sign-detached', p('fw.bin'), '--key', p('garbage-trust.pem'), '-o', p('out.sig')], code: 2, says: /garbage-trust\.pem: no PRIVATE KEY block found/ },
  { name: 'sign with a directory as the payload', argv: () => ['sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--manifest', p('manifest.json'), '--payload', dir, '-o', p('out.tfw')], code: 2, says: /it is a directory/ },
  { name: '3 GiB sparse payload for sign', argv: () => ['sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--manifest', p('manifest.json'), '--payload', p('sparse-3gib.tfw'), '-o', p('out.tfw')], code: 2, says: /sparse-3gib\.tfw: 3221225472 bytes exceeds the 2 GiB payload cap/ },
  { name: 'inspect a 3 GiB sparse file', argv: () => ['inspect', p('sparse-3gib.tfw')], code: 1, says: /not a valid TrustFlash image: the file is 3221225472 bytes, larger than the largest possible image/ },
  { name: 'inspect a PNG', argv: () => ['inspect', p('image.png')], code: 1, says: /image\.png: not a valid TrustFlash image: header\.magic \(offset 0\): is "\.PNG"/ },
  { name: 'inspect an empty file', argv: () => ['inspect', p('empty.tfw')], code: 1, says: /empty\.tfw: not a valid TrustFlash image: header \(offset 0\): file is 0 bytes, shorter than the 16-byte header/ },
  { name: 'inspect huge manifest length', argv: () => ['inspect', p('manifest-ffffffff.tfw')], code: 1, says: /header\.manifestSize \(offset 8\): 4294967295 is outside 1\.\.65536/ },
  { name: 'inspect a directory', argv: () => ['inspect', p('a-directory.tfw')], code: 2, says: /it is a directory/ },
];

function checkOutcome(r: Result, c: Case): void {
  const all = `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  expect(hasStackTrace(r), all).toBe(false);
  expect(r.stdout + r.stderr, all).not.toMatch(/internal error|TypeError|RangeError|Error:/);
  expect(r.code, all).toBe(c.code);
  if (c.code === 2) {
    expect(r.stdout, all).toBe('');
    expect(r.stderr, all).toMatch(c.says);
    // one line, plus "(see trustflash --help)" for usage errors
    expect(r.stderr.trimEnd().split('\n').length, all).toBeLessThanOrEqual(2);
  } else if (c.argv()[0] === 'inspect') {
    expect(r.stdout.trimEnd().split('\n'), all).toHaveLength(1);
    expect(r.stdout, all).toMatch(c.says);
  } else {
    expect(r.stderr, all).toBe('');
    const last = r.stdout.trimEnd().split('\n').at(-1)!;
    expect(last, all).toMatch(/^REJECTED: /);
    expect(last, all).toMatch(c.says);
  }
}

describe.concurrent('the built executable', () => {
  for (const c of [...IMAGE_CASES, ...OTHER_CASES]) {
    it(`${c.name} → exit ${c.code}`, async () => {
      const t0 = performance.now();
      const r = await tfBin(dir, ...c.argv());
      const ms = performance.now() - t0;
      checkOutcome(r, c);
      // Generous: this includes starting node on a possibly busy machine. That nothing is read is
      // asserted exactly in-process below.
      if (c.name.includes('3gib') || c.name.includes('3 GiB')) expect(ms, 'a 3 GiB file must be refused on its size, unread').toBeLessThan(15_000);
    });
  }

  it('--json output for a rejected bad input is still a parseable report', async () => {
    const r = await tfBin(dir, 'verify', p('manifest-ffffffff.tfw'), '--trust', ROOT_PEM, '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.verdict).toBe('reject');
    expect(j.failedCheck).toBe('format');
    expect(j.manifest).toBeUndefined();
  });

  it('TRUSTFLASH_DEBUG is not needed to get a clean message, and no input path needs it', async () => {
    const r = await tfBin(dir, 'verify', p('a-directory.tfw'), '--trust', ROOT_PEM);
    expect(r.stderr).toBe(`trustflash verify: cannot use ${p('a-directory.tfw')}: it is a directory\n`);
  });
});

/** run() in-process with nodeIo, counting the bytes actually read from each file. */
async function tfCounting(argv: string[]): Promise<{ r: Result; read: Map<string, number> }> {
  const read = new Map<string, number>();
  const add = (path: string, n: number) => read.set(resolve(dir, path), (read.get(resolve(dir, path)) ?? 0) + n);
  const base = nodeIo(dir);
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    ...base,
    out: (t) => void out.push(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void err.push(t.endsWith('\n') ? t : `${t}\n`),
    async readBytes(path) {
      const b = await base.readBytes(path);
      add(path, b.length);
      return b;
    },
    async readText(path) {
      const t = await base.readText(path);
      add(path, t.length);
      return t;
    },
    async openBlob(path) {
      const blob = await base.openBlob(path);
      const wrap = (b: BlobLike): BlobLike => ({
        size: b.size,
        slice: (start, end) => {
          const part = b.slice(start, end);
          return {
            arrayBuffer: async () => {
              const ab = await part.arrayBuffer();
              add(path, ab.byteLength);
              return ab;
            },
          };
        },
      });
      return wrap(blob);
    },
  };
  const code = await run(argv, io);
  return { r: { code, stdout: out.join(''), stderr: err.join('') }, read };
}

describe('the same inputs in-process (run) agree with the executable', () => {
  for (const c of [...IMAGE_CASES, ...OTHER_CASES]) {
    it(c.name, async () => {
      const t0 = performance.now();
      const { r, read } = await tfCounting(c.argv());
      checkOutcome(r, c);
      if (c.name.includes('3gib') || c.name.includes('3 GiB')) {
        expect(read.get(p('sparse-3gib.tfw')) ?? 0, 'bytes read from the 3 GiB file').toBe(0);
        expect(performance.now() - t0).toBeLessThan(2000);
      } else if (c.failedCheck === 'format') {
        // the counter does see reads (so the 0 above means something)
        expect(read.get(p(c.file!)) ?? 0).toBeGreaterThan(0);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------

function expectCleanReject(r: Report, failedCheck: string | undefined, label: string): void {
  expect(r.verdict, label).toBe('reject');
  if (failedCheck) expect(r.failed?.id, `${label}: ${r.failed?.reason}`).toBe(failedCheck);
  for (const c of r.checks) expect(c.reason, label).not.toMatch(/internal error/);
}

describe('API: verifyImage and verifyDetached never throw on these inputs', () => {
  for (const c of IMAGE_CASES.filter((x) => x.failedCheck)) {
    it(`verifyImage(${c.file}) as bytes and as a Blob`, async () => {
      const now = new Date(NOW);
      const blob = await openAsBlob(p(c.file!));
      const fromBlob = await verifyImage(blob, { trust, now });
      expectCleanReject(fromBlob, c.failedCheck, `${c.file} (Blob)`);
      if (blob.size < 64 * 1024 * 1024) {
        const fromBytes = await verifyImage(new Uint8Array(await readFile(p(c.file!))), { trust, now });
        expectCleanReject(fromBytes, c.failedCheck, `${c.file} (bytes)`);
        expect(fromBytes.checks.map((x) => [x.id, x.status])).toEqual(fromBlob.checks.map((x) => [x.id, x.status]));
      }
    });
  }

  it('a Blob over a directory, and a Blob whose file shrank after opening, are read errors, not exceptions', async () => {
    const d = await verifyImage(await openAsBlob(p('a-directory.tfw')), { trust });
    expectCleanReject(d, 'format', 'directory blob');
    expect(d.failed!.reason).toMatch(/could not be read/);
    await writeFile(p('shrinks.tfw'), good);
    const blob = await openAsBlob(p('shrinks.tfw'));
    await truncate(p('shrinks.tfw'), 10);
    const s = await verifyImage(blob, { trust });
    expectCleanReject(s, undefined, 'shrunk blob');
  });

  it('a BlobLike whose reads throw or return short buffers', async () => {
    const throwing: BlobLike = { size: good.length, slice: () => ({ arrayBuffer: () => Promise.reject(new Error('device unplugged')) }) };
    expectCleanReject(await verifyImage(throwing, { trust }), 'format', 'throwing blob');
    const short: BlobLike = { size: good.length, slice: () => ({ arrayBuffer: async () => new ArrayBuffer(3) }) };
    expectCleanReject(await verifyImage(short, { trust }), undefined, 'short blob');
    const lying: BlobLike = { size: 5 * GiB, slice: () => ({ arrayBuffer: () => Promise.reject(new Error('must not be read')) }) };
    const r = await verifyImage(lying, { trust });
    expectCleanReject(r, 'size', 'huge blob');
  });

  it('verifyDetached with garbage signatures and certificates', async () => {
    const fw = new Uint8Array(await readFile(p('fw.bin')));
    const sigs = ['garbage.sig', 'random.sig', 'fake-cms.p7s', 'empty.sig', 'image.png', 'binary-trust.pem'];
    for (const s of sigs) {
      const sig = new Uint8Array(await readFile(p(s)));
      for (const certificates of [[signerCert], []]) {
        const r = await verifyDetached(fw, sig, { trust, certificates, now: new Date(NOW) });
        expectCleanReject(r, undefined, `${s} with ${certificates.length} cert(s)`);
      }
    }
    expectCleanReject(await verifyDetached(new Uint8Array(0), new Uint8Array(await readFile(p('fw.sig'))), { trust, certificates: [signerCert] }), 'size', 'empty firmware');
  });

  it('mutations of a valid image (byte flips and truncations) are all rejected, none throws', async () => {
    const now = new Date(NOW);
    expect((await verifyImage(good, { trust, now })).verdict).toBe('accept');
    let seed = 0x2545f491;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const parsed = parseImage(good);
    if (!parsed.ok) throw new Error('does not parse');
    // Every region, with extra weight on the head where the parser works hardest.
    const headEnd = parsed.value.payloadOffset;
    for (let i = 0; i < 250; i++) {
      const m = good.slice();
      const at = i % 5 === 0 ? headEnd + rnd(good.length - headEnd) : rnd(headEnd);
      m[at]! ^= 1 << rnd(8);
      const r = await verifyImage(m, { trust, now });
      expectCleanReject(r, undefined, `flip at ${at}`);
    }
    for (let i = 0; i < 40; i++) {
      const len = rnd(good.length);
      expectCleanReject(await verifyImage(good.subarray(0, len), { trust, now }), undefined, `truncated to ${len}`);
    }
  });
});
