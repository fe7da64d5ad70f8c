/**
 * Image variants for the pre-flight prediction test and the image-level agreement test (issue #10):
 * every sample, plus mutations of a good manifest, each with the NIC it is tried on. Images are
 * signed here byte by byte (encodeSignedPart + signBytes + writeImage), not through signImage,
 * so that variants the format refuses (SVN 65, a garbage nextKeys entry, bidi release notes) can
 * exist at all. Nothing here decides what the host or the device should say: the tests ask both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { keyIdOf } from '../../../src/core/crypto/keys.ts';
import { signBytes } from '../../../src/core/crypto/signature.ts';
import { createCms } from '../../../src/core/crypto/cms.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { sha256Chunked } from '../../../src/core/crypto/sha256.ts';
import { SIG_ENTRY, type Manifest, type SigEntry } from '../../../src/core/image/layout.ts';
import { encodeSignedPart, writeImage } from '../../../src/core/image/write.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { MCC_INSTRUCTION, MCC_STATE } from '../../../src/core/update/mcc-codes.ts';
import { DATA_HEADER_SIZE } from '../../../src/core/update/protocol.ts';
import { demoPayload } from '../../../src/cli/make-samples.ts';
import type { EmulatedNicOptions } from '../../../src/emulator/index.ts';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';
import { demoCert, demoKey } from '../helpers/demo.ts';
import { newDevice, sample } from '../emulator/host.ts';

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 1000;
const der = (name: string) => parsePem(readFileSync(join(process.cwd(), 'src/assets/demo-keys', name, 'pubkey.pem'), 'utf8')).blocks[0]!.der;

/** The manifest of good.tfw (src/cli/make-samples.ts `base`), with the payload fields. */
export async function goodManifest(payload: Uint8Array, over: Partial<Manifest> = {}): Promise<Manifest> {
  return {
    vendor: 'TrustFlash Demo',
    product: 'Emulated ConnectX NIC firmware',
    psids: ['TF_0000000001'],
    deviceIds: [4129],
    version: '28.40.1000',
    securityVersion: 2,
    releaseDate: day('2026-10-15'),
    forbiddenVersions: ['28.38.1000'],
    nextKeys: [der('signer'), der('next-signer')],
    secured: true,
    dev: false,
    releaseNotes: 'Variant of the demo release 28.40.1000.',
    payloadSize: payload.length,
    payloadSha256: await sha256Chunked(payload),
    ...over,
  };
}

export interface SignAs {
  readonly key: string;
  /** Carry the key's certificate. */
  readonly cert?: boolean;
  /** Flip a byte of this signature after signing. */
  readonly corrupt?: boolean;
  /** A CMS SignedData entry instead of a raw signature (certificate inside the CMS). */
  readonly cms?: boolean;
}

/** Signs `signed` (header ‖ manifest, possibly patched) with each signer; `edit` may change the entries. */
export async function assemble(signed: Uint8Array, payload: Uint8Array, signers: readonly SignAs[], edit?: (entries: SigEntry[]) => Promise<SigEntry[]> | SigEntry[]): Promise<Uint8Array> {
  const sigs: SigEntry[] = [];
  const certs: SigEntry[] = [];
  for (const s of signers) {
    const key = await demoKey(s.key);
    if (s.cms) {
      sigs.push({ type: SIG_ENTRY.CMS, der: await createCms({ content: signed, privateKey: key.privateKey, signer: await demoCert(s.key), signingTime: new Date('2026-10-15T00:00:00Z') }) });
      continue;
    }
    const signature = await signBytes(key.alg, key.privateKey, signed);
    if (s.corrupt) signature[10]! ^= 0x01;
    sigs.push({ type: SIG_ENTRY.SIGNATURE, alg: key.alg, keyId: await keyIdOf(key.spki), signature });
    if (s.cert) certs.push({ type: SIG_ENTRY.CERTIFICATE, der: (await demoCert(s.key)).der });
  }
  const entries = edit ? await edit([...sigs, ...certs]) : [...sigs, ...certs];
  return writeImage({ signed, entries, payload });
}

/** Replaces the first occurrence of `marker` (ASCII) in `bytes` with `replacement` (same length). */
export function patch(bytes: Uint8Array, marker: string, replacement: readonly number[]): Uint8Array {
  const m = new TextEncoder().encode(marker);
  if (m.length !== replacement.length) throw new Error('patch: lengths differ');
  const out = bytes.slice();
  for (let i = 0; i + m.length <= out.length; i++) {
    if (m.every((b, j) => out[i + j] === b)) {
      out.set(replacement, i);
      return out;
    }
  }
  throw new Error(`patch: ${marker} not found`);
}

async function spkiOf(alg: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm): Promise<Uint8Array> {
  const k = (await crypto.subtle.generateKey(alg as RsaHashedKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
  return new Uint8Array(await crypto.subtle.exportKey('spki', k.publicKey));
}

/** The NIC a variant is tried on. */
export interface NicSetup {
  readonly options?: Partial<EmulatedNicOptions>;
  /** Brings the NIC into the variant's state after manufacture (e.g. an image already pending). */
  readonly prepare?: (dev: EmulatedUSBDevice) => Promise<void>;
}

/** Which agreement item of issue #10 a variant belongs to, if any. */
export type AgreementItem = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export interface Variant {
  readonly name: string;
  readonly image: Uint8Array;
  readonly nic: NicSetup;
  readonly item?: AgreementItem;
  /**
   * Decided by a rule of issue #10 (S1–S5) that the device firmware gets in the device branch:
   * until both branches are merged, the device may still decide otherwise.
   */
  readonly deviceBranch?: boolean;
  /** For deviceBranch variants: what the hardening rules say the device must do with it. */
  readonly spec?: 'accept' | 'refuse';
}

/** Drives a NIC without any host pre-flight: QUERY, LOCK, UPDATE_COMPONENT, DATA, VERIFY, ACTIVATE, RELEASE. */
export async function deviceVerdict(dev: EmulatedUSBDevice, image: Uint8Array): Promise<{ accepted: boolean; code: number; step: string }> {
  const host = new DfuHost(dev);
  await host.open();
  try {
    return await drive(host, image);
  } finally {
    await host.close();
  }
}

async function drive(host: DfuHost, image: Uint8Array): Promise<{ accepted: boolean; code: number; step: string }> {
  const nic = new NicClient(host);
  await nic.query();
  let s = await nic.control(MCC_INSTRUCTION.QUERY, 0, 0);
  const handle = s.handle;
  s = await nic.control(MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, handle, 0);
  if (s.result !== 0 || s.state !== MCC_STATE.LOCKED) throw new Error(`LOCK refused: result ${s.result}`);
  const refused = async (step: string, code: number) => {
    await nic.control(MCC_INSTRUCTION.CANCEL, handle, 0);
    await nic.control(MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, handle, 0);
    return { accepted: false, code, step };
  };
  s = await nic.control(MCC_INSTRUCTION.UPDATE_COMPONENT, handle, image.length);
  for (let i = 0; s.state === MCC_STATE.INITIALIZE && s.error === 0 && i < 10_000; i++) {
    await new Promise((r) => setTimeout(r, 1));
    s = await nic.status();
  }
  if (s.error) return refused('update-component', s.error);
  const size = Math.min(4096 - DATA_HEADER_SIZE, host.functional.transferSize - DATA_HEADER_SIZE);
  for (let at = 0; at < image.length; at += size) {
    await nic.data(handle, at, image.subarray(at, at + size), `block at ${at}`);
    s = await nic.status();
    if (s.error) return refused('download', s.error);
    if (s.result !== 0) throw new Error(`DATA at ${at}: register status ${s.result}`);
  }
  s = await nic.control(MCC_INSTRUCTION.VERIFY_COMPONENT, handle, 0);
  if (s.error) return refused('verify', s.error);
  s = await nic.control(MCC_INSTRUCTION.ACTIVATE, handle, 0);
  if (s.error) return refused('activate', s.error);
  await nic.control(MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, handle, 0);
  return { accepted: true, code: 0, step: 'done' };
}

/** A NIC manufactured for `setup`, prepared, and opened fresh for the caller. */
export async function nicFor(setup: NicSetup): Promise<EmulatedUSBDevice> {
  const dev = await newDevice(setup.options ?? {});
  if (setup.prepare) await setup.prepare(dev);
  return dev;
}

const DEFAULT_NIC: NicSetup = {};

/** Every variant, built once per test file. */
export async function buildVariants(): Promise<Variant[]> {
  const payload = demoPayload('28.40.1000 variant', 16 * 1024);
  const signer: SignAs = { key: 'signer', cert: true };
  const make = async (over: Partial<Manifest>, signers: readonly SignAs[] = [signer], edit?: Parameters<typeof assemble>[3], body = payload) =>
    assemble(encodeSignedPart(await goodManifest(body, over)), body, signers, edit);
  const out: Variant[] = [];
  const add = (v: Variant) => out.push(v);

  // every sample image the project ships (big-32mib aside), on the NIC the samples are made for
  const index = JSON.parse(new TextDecoder().decode(await sample('index.json'))) as { samples: { file: string; kind: string }[] };
  for (const s of index.samples) if (s.kind === 'image' && s.file !== 'big-32mib.tfw') add({ name: `sample ${s.file}`, image: await sample(s.file), nic: DEFAULT_NIC, ...(s.file === 'expired.tfw' ? { item: 5 as const } : {}) });

  add({ name: 'good variant', image: await make({}), nic: DEFAULT_NIC });

  // S1: security versions
  add({ name: 'S1 securityVersion 65 (above the fuse count)', image: await make({ securityVersion: 65 }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S1 minSecurityVersion 65', image: await make({ securityVersion: 64, minSecurityVersion: 65 }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S1 securityVersion 64 (the cap) installs', image: await make({ securityVersion: 64 }), nic: DEFAULT_NIC });
  const svn3 = await make({ version: '28.39.2000', securityVersion: 3, minSecurityVersion: 3, releaseDate: day('2026-07-01') });
  const runningSvn3: NicSetup = { options: { factoryImage: svn3 } };
  add({ name: 'S1 SVN 2 below the fused and running SVN 3 (and the running minimum 3)', image: await make({}), nic: runningSvn3 });
  add({ name: 'S1 SVN 3 equal to the floor installs', image: await make({ securityVersion: 3 }), nic: runningSvn3 });
  const svn2min2 = await make({ version: '28.39.2000', securityVersion: 2, minSecurityVersion: 2, releaseDate: day('2026-07-01') });
  add({ name: 'S1 SVN 1 below the running minimum 2', image: await make({ securityVersion: 1 }), nic: { options: { factoryImage: svn2min2 } } });

  // S2: nextKeys
  const rsa3072 = await spkiOf({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });
  const p256 = await spkiOf({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams);
  const ed25519 = await spkiOf({ name: 'Ed25519' });
  add({ name: 'S2 nextKeys absent (lock-out)', image: await make({ nextKeys: [] }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S2 nextKeys only RSA-3072 (lock-out)', image: await make({ nextKeys: [rsa3072] }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S2 nextKeys only P-256 and Ed25519 (lock-out)', image: await make({ nextKeys: [p256, ed25519] }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S2 nextKeys RSA-3072 then the signer key installs', image: await make({ nextKeys: [rsa3072, der('signer')] }), nic: DEFAULT_NIC });
  add({ name: 'S2 garbage nextKeys entry', image: await make({ nextKeys: [der('signer'), new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05])] }), nic: DEFAULT_NIC, item: 4, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S2 nextKeys entry with trailing bytes', image: await make({ nextKeys: [der('signer'), Uint8Array.from([...der('next-signer'), 0])] }), nic: DEFAULT_NIC, item: 4, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S2 finalImage with no nextKeys installs', image: await make({ nextKeys: [], finalImage: true }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'accept' });
  add({ name: 'S2 finalImage with only an Ed25519 key installs', image: await make({ nextKeys: [ed25519], finalImage: true }), nic: DEFAULT_NIC, deviceBranch: true, spec: 'accept' });
  {
    const signed = patch(encodeSignedPart(await goodManifest(payload, { finalImage: true })), '\x12\x00\x01\x00\x00\x00\x01', [0x12, 0, 1, 0, 0, 0, 0]);
    add({ name: 'S2 finalImage byte 0 (one encoding: 1)', image: await assemble(signed, payload, [signer]), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  }

  // S3: signatures
  add({ name: 'S3 an extra signature by an unknown key', image: await make({}, [signer, { key: 'unknown' }]), nic: DEFAULT_NIC, item: 1 });
  add({ name: 'S3 an unknown signature first, then the held one', image: await make({}, [{ key: 'unknown' }, signer]), nic: DEFAULT_NIC, item: 1 });
  add({ name: 'S3 dual-signed rotation image (signer and next-signer)', image: await make({}, [signer, { key: 'next-signer', cert: true }]), nic: DEFAULT_NIC, item: 1 });
  add({ name: 'S3 a held key signature that fails, after a good one', image: await make({}, [signer, { key: 'signer', corrupt: true }], (e) => e.filter((x, i, all) => x.type !== SIG_ENTRY.CERTIFICATE || all.findIndex((y) => y.type === SIG_ENTRY.CERTIFICATE) === i)), nic: DEFAULT_NIC, deviceBranch: true, spec: 'refuse' });
  add({ name: 'S3 signed only by the next signer (held since the factory image)', image: await make({}, [{ key: 'next-signer', cert: true }]), nic: DEFAULT_NIC });
  {
    // a rotation done: the running image holds only the next signer's key
    const rotated: NicSetup = { options: { factoryImage: await make({ version: '28.39.3000', releaseDate: day('2026-07-01'), nextKeys: [der('next-signer')] }) } };
    add({ name: 'S3 after a rotation the old key is refused', image: await make({}), nic: rotated });
    add({ name: 'S3 after a rotation the new key is accepted', image: await make({}, [{ key: 'next-signer', cert: true }]), nic: rotated });
  }
  add({ name: 'S3 CMS only (the device verifies raw RSA signatures)', image: await make({}, [{ key: 'signer', cms: true }]), nic: DEFAULT_NIC });

  // S5 / item 3: release notes
  for (const [label, text] of [['a C1 control (U+0085)', 'notes \u0085 here'], ['a bidi override (U+202E)', 'notes \u202e here'], ['a bidi isolate (U+2066)', 'notes \u2066 here'], ['an ESC (C0)', 'notes \u001b[31m here']] as const) {
    add({ name: `S5 release notes with ${label}`, image: await make({ releaseNotes: text }), nic: DEFAULT_NIC, item: 3, deviceBranch: true, spec: 'refuse' });
  }
  {
    const signed = patch(encodeSignedPart(await goodManifest(payload, { releaseNotes: 'notes ZZZ here' })), 'ZZZ', [0xc3, 0x28, 0xff]);
    add({ name: 'S5 release notes with invalid UTF-8', image: await assemble(signed, payload, [signer]), nic: DEFAULT_NIC, item: 3, deviceBranch: true, spec: 'refuse' });
  }
  add({ name: 'S5 release notes with TAB, LF, CR and non-ASCII install', image: await make({ releaseNotes: 'a\tb\r\nç ✓ 日本' }), nic: DEFAULT_NIC });

  // item 2: certificate entries (the host is the authority)
  add({ name: 'certificate entry repeated', image: await make({}, [signer], (e) => [...e, e.find((x) => x.type === SIG_ENTRY.CERTIFICATE)!]), nic: DEFAULT_NIC, item: 2 });
  add({ name: 'certificate entry corrupt', image: await make({}, [signer], (e) => e.map((x) => (x.type === SIG_ENTRY.CERTIFICATE ? { ...x, der: Uint8Array.from(x.der, (b, i) => (i === 5 ? b ^ 0xff : b)) } : x))), nic: DEFAULT_NIC, item: 2 });
  add({ name: 'certificate entry missing', image: await make({}, [{ key: 'signer' }]), nic: DEFAULT_NIC, item: 2 });
  add({ name: 'certificate entry unused', image: await make({}, [signer], async (e) => [...e, { type: SIG_ENTRY.CERTIFICATE, der: (await demoCert('rogue-root')).der }]), nic: DEFAULT_NIC, item: 2 });

  // item 5: dates (the host is the authority)
  add({ name: 'released a year ahead', image: await make({ releaseDate: day('2027-11-22') }), nic: DEFAULT_NIC, item: 5 });
  add({ name: 'expired last month', image: await make({ expires: day('2026-10-22') }), nic: DEFAULT_NIC, item: 5 });

  // item 6: development images
  add({ name: 'dev image on a production NIC', image: await make({ dev: true }), nic: DEFAULT_NIC, item: 6 });
  add({ name: 'dev image on a development NIC', image: await make({ dev: true }), nic: { options: { identity: { devDevice: true } } }, item: 6 });

  // item 7: the bank (1 MiB in these tests)
  const big = demoPayload('28.40.1000 oversize', 1024 * 1024);
  add({ name: 'image larger than the bank', image: await make({}, [signer], undefined, big), nic: DEFAULT_NIC, item: 7 });
  add({ name: 'image fitting a 256 KiB bank', image: await make({}, [signer], undefined, demoPayload('fits', 256 * 1024 - 3000)), nic: { options: { bankSize: 256 * 1024 } }, item: 7 });

  // identity, policy
  add({ name: 'wrong device id', image: await make({ deviceIds: [4130] }), nic: DEFAULT_NIC });
  add({ name: 'no device ids (any device of the PSID)', image: await make({ deviceIds: [] }), nic: DEFAULT_NIC });
  add({ name: 'PSID listed second', image: await make({ psids: ['MT_0000000999', 'TF_0000000001'] }), nic: DEFAULT_NIC });
  add({ name: 'forbidden by the running image', image: await make({ version: '28.38.1000' }), nic: DEFAULT_NIC });
  add({ name: 'not secured', image: await make({ secured: false }), nic: DEFAULT_NIC });
  add({ name: 'an older release at the same SVN installs', image: await make({ version: '28.39.1000' }), nic: DEFAULT_NIC });
  {
    const good = await sample('good.tfw');
    add({ name: 'an image already pending', image: await make({ version: '28.41.1000' }), nic: { prepare: async (dev) => void (await deviceVerdict(dev, good)) } });
  }
  {
    const t = await make({});
    const tampered = t.slice();
    tampered[tampered.length - 100]! ^= 0x01;
    add({ name: 'a tampered payload byte', image: tampered, nic: DEFAULT_NIC });
  }
  return out;
}
