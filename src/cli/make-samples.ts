/**
 * `npm run samples`: writes public/samples/ from the committed demo key set, reproducibly (RSA
 * PKCS#1 v1.5 signatures are deterministic; payloads come from a seeded generator; every date is
 * fixed). index.json lists each sample with what it demonstrates and the outcome it must have —
 * the app shows it, and tests hold the verifier to it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseImage } from '../core/image/parse.ts';
import { writeImage } from '../core/image/write.ts';
import { importSigningKey, type SigningKey } from '../core/crypto/private-key.ts';
import { parseCertificate, type Certificate } from '../core/crypto/x509.ts';
import { parsePem } from '../core/crypto/pem.ts';
import { createCms } from '../core/crypto/cms.ts';
import { signBytes } from '../core/crypto/signature.ts';
import { signImage, type ManifestDraft, type SignFormat, type Signer } from '../core/sign/sign-image.ts';
import type { CheckId } from '../core/verify/report.ts';

/** The committed demo key set, relative to the project root (the working directory of npm scripts). */
const KEYS = resolve(process.cwd(), 'src/assets/demo-keys');
const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 1000;

/** The emulated NIC's identity (docs/protocol.md); samples are made for it. */
export const DEMO_DEVICE = {
  psid: 'TF_0000000001',
  deviceId: 4129,
  version: '28.39.1002',
  securityVersion: 2,
  forbiddenVersions: ['28.38.1000'],
} as const;

export interface SampleEntry {
  readonly file: string;
  readonly title: string;
  readonly description: string;
  /** What the host verifier must say with device.json and demo-root.pem at a date from 2026-10-14 (the good image's release date, less a day of clock skew) to 2046-01-01 (the demo certificates' end). */
  readonly expect: { readonly verdict: 'accept' | 'reject'; readonly failedCheck?: CheckId };
  readonly kind: 'image' | 'detached';
  /** For detached samples: the signature and signer certificate files. */
  readonly signature?: string;
  readonly certificate?: string;
  readonly size?: number;
}

/** Fast deterministic bytes (xorshift32 seeded by the text), with a readable banner at the start. */
export function demoPayload(seedText: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let s = 0x811c9dc5;
  for (const c of seedText) s = Math.imul(s ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const view = new DataView(out.buffer);
  for (let i = 0; i + 4 <= size; i += 4) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    view.setUint32(i, s, true);
  }
  const banner = new TextEncoder().encode(`TRUSTFLASH DEMO FIRMWARE ${seedText}\n`);
  out.set(banner.subarray(0, Math.min(banner.length, size)));
  return out;
}

async function loadKeyPairFrom(name: string, keys = KEYS): Promise<{ key: SigningKey; cert: Certificate; pem: string }> {
  const key = await importSigningKey(await readFile(join(keys, name, 'key.pem'), 'utf8'));
  if (!key.ok) throw new Error(`${name}: ${key.reason}`);
  const pem = await readFile(join(keys, name, 'cert.pem'), 'utf8');
  const cert = await parseCertificate(parsePem(pem).blocks[0]!.der);
  if (!cert.ok) throw new Error(`${name}: ${cert.reason}`);
  return { key: key.value, cert: cert.value, pem };
}

export async function makeSamples(outDir: string, opts: { big?: boolean; keysDir?: string } = {}): Promise<SampleEntry[]> {
  await mkdir(outDir, { recursive: true });
  const loadKeyPair = (name: string) => loadKeyPairFrom(name, opts.keysDir);
  const signer = await loadKeyPair('signer');
  const next = await loadKeyPair('next-signer');
  const root = await loadKeyPair('root');
  const rogueRoot = await loadKeyPair('rogue-root');
  const rogue = await loadKeyPair('rogue-signer');
  const unknown = await loadKeyPair('unknown');

  const base: ManifestDraft = {
    vendor: 'TrustFlash Demo',
    product: 'Emulated ConnectX NIC firmware',
    psids: [DEMO_DEVICE.psid],
    deviceIds: [DEMO_DEVICE.deviceId],
    version: '28.40.1000',
    securityVersion: 2,
    releaseDate: day('2026-10-15'),
    forbiddenVersions: ['28.38.1000'],
    nextKeys: [signer.key.spki, next.key.spki],
    secured: true,
    dev: false,
    releaseNotes: 'Demo release 28.40.1000.\n- Fixes a (fictional) RDMA counter overflow.\n- Security version unchanged (2).',
  };
  const demoSigner: Signer = { key: signer.key, chain: [signer.cert] };
  const size = 64 * 1024;
  const entries: SampleEntry[] = [];
  const put = async (file: string, bytes: Uint8Array | string) => writeFile(join(outDir, file), bytes);
  // Format v2 in 16 KiB hash blocks, so a 64 KiB demo image has four blocks to watch the device
  // check one by one (the big image uses the 1 MiB default); factory.tfw is the one v1 sample.
  const SAMPLE_BLOCKS: SignFormat = { format: 2, hashBlockSize: 16 * 1024 };
  const image = async (file: string, title: string, description: string, expect: SampleEntry['expect'], draft: ManifestDraft, signers: Signer[], payloadSize = size, how: SignFormat = SAMPLE_BLOCKS) => {
    const bytes = await signImage(draft, demoPayload(`${draft.version} ${file}`, payloadSize), signers, how);
    await put(file, bytes);
    entries.push({ file, title, description, expect, kind: 'image', size: bytes.length });
    return bytes;
  };

  await image('factory.tfw', 'Factory image 28.39.1002 (format v1)', "The image the emulated NIC is manufactured with, in image format v1 (one SHA-256 over the whole payload), made before format v2. It embeds the demo signer's key, which the NIC checks the next update with.", { verdict: 'accept' }, { ...base, version: '28.39.1002', releaseDate: day('2026-07-01'), releaseNotes: 'Factory image.' }, [demoSigner], size, { format: 1 });
  const good = await image('good.tfw', 'Signed update 28.40.1000', 'Signed by the vendor for this device, newer, same security version: the device accepts it.', { verdict: 'accept' }, base, [demoSigner]);

  const parsed = parseImage(good);
  if (!parsed.ok) throw new Error('good sample does not parse');
  const g = parsed.value;
  const unsigned = writeImage({ signed: g.signed, entries: [], payload: g.payload });
  await put('unsigned.tfw', unsigned);
  entries.push({ file: 'unsigned.tfw', title: 'Unsigned image', description: 'Same firmware with the signatures stripped. Nothing vouches for it, so it is refused before a byte is sent.', expect: { verdict: 'reject', failedCheck: 'key' }, kind: 'image', size: unsigned.length });

  // the flipped bit is in hash block 2 (payload bytes 32768..49151): blocks 0 and 1 check out, block 2 does not
  const tp = good.slice();
  tp[g.payloadOffset + 2 * 16384 + 4096]! ^= 0x01;
  await put('tampered-payload.tfw', tp);
  entries.push({ file: 'tampered-payload.tfw', title: 'Tampered payload', description: 'One bit of the firmware flipped after signing, in hash block 2. That block no longer matches its signed digest: the device refuses it as it arrives.', expect: { verdict: 'reject', failedCheck: 'payload' }, kind: 'image', size: tp.length });

  // Change the version in the signed manifest (tag 5) from 28.40.1000 to 28.99.1000, keep the old signature.
  const tm = good.slice();
  const vAt = findVersionField(tm, g.manifestOffset, g.manifestSize);
  tm[vAt + 2] = 99;
  await put('tampered-manifest.tfw', tm);
  entries.push({ file: 'tampered-manifest.tfw', title: 'Tampered manifest', description: 'The version in the manifest was edited after signing (28.40 → 28.99). The signature no longer verifies.', expect: { verdict: 'reject', failedCheck: 'signature' }, kind: 'image', size: tm.length });

  await image('wrong-psid.tfw', 'Wrong device (PSID)', 'Validly signed, but for another board (PSID MT_0000000999). Flashing it could brick this NIC.', { verdict: 'reject', failedCheck: 'device' }, { ...base, psids: ['MT_0000000999'] }, [demoSigner]);
  await image('forbidden-version.tfw', 'Forbidden version 28.38.1000', 'Validly signed, but 28.38.1000 is on the forbidden list the device runs with (a release withdrawn for a flaw).', { verdict: 'reject', failedCheck: 'forbidden' }, { ...base, version: '28.38.1000' }, [demoSigner]);
  await image('downgrade.tfw', 'Downgrade below security version', 'An old, validly signed release with security version 1. The device is at 2: rolling back would reopen fixed vulnerabilities.', { verdict: 'reject', failedCheck: 'securityVersion' }, { ...base, version: '28.35.1000', securityVersion: 1, releaseDate: day('2026-02-01') }, [demoSigner]);
  await image('expired.tfw', 'Expired image', 'Signed with an expiry of 2026-06-30. Expiry is checked by this host alone: the device has no clock, so it would install this image if a host sent it.', { verdict: 'reject', failedCheck: 'expiry' }, { ...base, releaseDate: day('2026-03-01'), expires: day('2026-06-30') }, [demoSigner]);
  await image('unknown-key.tfw', 'Signed by an unknown key', 'Signed, but by a key no trust root vouches for (no certificate, not embedded in the device).', { verdict: 'reject', failedCheck: 'key' }, base, [{ key: unknown.key }]);
  await image('untrusted-chain.tfw', 'Untrusted certificate chain', 'Signed with a certificate chain that ends at a root this host does not trust.', { verdict: 'reject', failedCheck: 'chain' }, base, [{ key: rogue.key, chain: [rogue.cert, rogueRoot.cert] }]);
  await image('not-secured.tfw', 'Not a secured image', 'Signed, but built without the secured flag; secure firmware refuses non-secured images.', { verdict: 'reject', failedCheck: 'secured' }, { ...base, secured: false }, [demoSigner]);
  await image('cms-signed.tfw', 'CMS and raw signatures', 'Signed twice: a CMS SignedData (openssl cms compatible) that the host checks against the vendor PKI, and the raw RSA-2048 signature the device itself checks.', { verdict: 'accept' }, base, [demoSigner, { key: signer.key, chain: [signer.cert], cms: true, signingTime: new Date('2026-10-15T00:00:00Z') }]);
  if (opts.big !== false) {
    await image('big-32mib.tfw', 'Large image (32 MiB)', 'A 32 MiB signed image in 32 hash blocks of 1 MiB, to watch the blocks being checked.', { verdict: 'accept' }, { ...base, releaseNotes: 'Large demo image.' }, [demoSigner], 32 * 1024 * 1024, { format: 2 });
  }

  // Detached mode for generic DFU devices.
  const bin = demoPayload('generic DFU 1.0.0', 16 * 1024);
  await put('generic.bin', bin);
  await put('generic.sig', await signBytes(signer.key.alg, signer.key.privateKey, bin));
  await put('generic.p7s', await createCms({ content: bin, privateKey: signer.key.privateKey, signer: signer.cert, signingTime: new Date('2026-10-15T00:00:00Z') }));
  await put('demo-signer.pem', signer.pem);
  entries.push({ file: 'generic.bin', title: 'Generic DFU firmware + .sig', description: 'Raw firmware with a detached signature for a device that cannot verify anything itself: only this host checks it.', expect: { verdict: 'accept' }, kind: 'detached', signature: 'generic.sig', certificate: 'demo-signer.pem', size: bin.length });
  entries.push({ file: 'generic.bin', title: 'Generic DFU firmware + .p7s (CMS)', description: 'The same firmware with a detached CMS signature.', expect: { verdict: 'accept' }, kind: 'detached', signature: 'generic.p7s', certificate: 'demo-signer.pem', size: bin.length });

  await put('demo-root.pem', root.pem);
  await put('device.json', JSON.stringify(DEMO_DEVICE, null, 2) + '\n');
  await put('index.json', JSON.stringify({ trust: 'demo-root.pem', device: 'device.json', samples: entries }, null, 2) + '\n');
  return entries;
}

/** Offset of the version value (3 × u16) inside the manifest: walks the TLVs to tag 5. */
function findVersionField(bytes: Uint8Array, at: number, size: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  for (let p = at; p < at + size; ) {
    const tag = v.getUint16(p, true);
    const len = v.getUint32(p + 2, true);
    if (tag === 5) return p + 6;
    p += 6 + len;
  }
  throw new Error('version field not found');
}

const out = process.argv[2] ?? 'public/samples';
if (process.argv[1]?.endsWith('make-samples.js')) {
  makeSamples(resolve(out), { big: !process.argv.includes('--no-big') }).then(
    (e) => console.log(`samples: ${e.length} written to ${out}`),
    (err: unknown) => {
      console.error(`samples: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
