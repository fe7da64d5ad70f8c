/**
 * Builds signed images byte by byte for device tests, independently of the host's writer
 * (src/core/image, whose rules may refuse what these tests must send: an SVN of 65, garbage in
 * nextKeys, control characters in the notes, no usable next key). The layout is
 * docs/image-format.md: header (16 bytes), manifest TLVs { tag u16, length u32, value }, signature
 * block "TFSB" with SIGNATURE entries { alg u16, 0 u16, keyId[32], RSASSA-PKCS1-v1_5 / SHA-256 },
 * payload. Signing uses node:crypto with the committed demo keys.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface DemoKey {
  readonly name: string;
  readonly key: KeyObject;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  readonly keyId: Uint8Array;
}

const cache = new Map<string, DemoKey>();

/** A committed demo key pair (src/assets/demo-keys/NAME). */
export function demoKey(name: string): DemoKey {
  let k = cache.get(name);
  if (!k) {
    const key = createPrivateKey(readFileSync(`src/assets/demo-keys/${name}/key.pem`, 'utf8'));
    k = fromKey(name, key);
    cache.set(name, k);
  }
  return k;
}

function fromKey(name: string, key: KeyObject): DemoKey {
  const spki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  return { name, key, spki, keyId: new Uint8Array(createHash('sha256').update(spki).digest()) };
}

/** The SPKI of a freshly generated key of another kind (never used to sign here). */
export function otherSpki(kind: 'rsa-3072' | 'rsa-2048-e3' | 'ec-p256' | 'ed25519'): Uint8Array {
  const pair =
    kind === 'rsa-3072'
      ? generateKeyPairSync('rsa', { modulusLength: 3072 })
      : kind === 'rsa-2048-e3'
        ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 })
        : kind === 'ec-p256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
  return new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }));
}

export interface Fields {
  vendor?: string;
  product?: string;
  psids?: string[];
  deviceIds?: number[];
  version?: [number, number, number];
  svn?: number;
  minSvn?: number;
  releaseDate?: number;
  /** Tag 10: written only when given (S4: optional, ignored). */
  sequence?: number;
  forbidden?: [number, number, number][];
  /** Tag 12 entries, raw (so garbage can be sent). Omitted when undefined. */
  nextKeys?: Uint8Array[];
  secured?: boolean;
  dev?: boolean;
  /** Tag 15, raw bytes. */
  notes?: Uint8Array;
  /** Tag 18, raw value byte (1 = final). */
  finalImage?: number;
  payload?: Uint8Array;
  /** Signers, in entry order; `corrupt` signs and then flips a signature bit. */
  signers?: { key: DemoKey; corrupt?: boolean }[];
}

const enc = new TextEncoder();
const u16 = (v: number) => Uint8Array.of(v & 0xff, v >>> 8);
const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};
const u64 = (v: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const varList = (items: Uint8Array[]) => cat(...items.flatMap((x) => [u16(x.length), x]));
const version = ([a, b, c]: [number, number, number]) => cat(u16(a), u16(b), u16(c));

/** A payload that is not all one byte (so single-byte faults in it are seen). */
export function payloadOf(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** The demo device's defaults: PSID TF_0000000001, device 4129, SVN 2, signed by the demo signer, nextKeys = [signer]. */
export function buildImage(f: Fields = {}): Uint8Array {
  const payload = f.payload ?? payloadOf(8192);
  const signer = demoKey('signer');
  const tlvs: [number, Uint8Array][] = [
    [1, enc.encode(f.vendor ?? 'TrustFlash Demo')],
    [2, enc.encode(f.product ?? 'Emulated ConnectX NIC firmware')],
    [3, varList((f.psids ?? ['TF_0000000001']).map((p) => enc.encode(p)))],
    [4, cat(...(f.deviceIds ?? [4129]).map(u32))],
    [5, version(f.version ?? [28, 41, 1000])],
    [6, u32(f.svn ?? 2)],
  ];
  if (f.minSvn !== undefined) tlvs.push([7, u32(f.minSvn)]);
  tlvs.push([8, u64(f.releaseDate ?? 1_790_000_000)]);
  if (f.sequence !== undefined) tlvs.push([10, u64(f.sequence)]);
  if (f.forbidden?.length) tlvs.push([11, cat(...f.forbidden.map(version))]);
  const nextKeys = 'nextKeys' in f ? f.nextKeys : [signer.spki];
  if (nextKeys !== undefined) tlvs.push([12, varList(nextKeys)]);
  tlvs.push([13, Uint8Array.of(f.secured === false ? 0 : 1)]);
  tlvs.push([14, Uint8Array.of(f.dev ? 1 : 0)]);
  if (f.notes) tlvs.push([15, f.notes]);
  tlvs.push([16, u64(payload.length)]);
  tlvs.push([17, new Uint8Array(createHash('sha256').update(payload).digest())]);
  if (f.finalImage !== undefined) tlvs.push([18, Uint8Array.of(f.finalImage)]);
  const manifest = cat(...tlvs.flatMap(([t, v]) => [u16(t), u32(v.length), v]));
  const header = cat(enc.encode('TFWI'), u16(1), u16(16), u32(manifest.length), u32(0));
  const signed = cat(header, manifest);
  const entries = (f.signers ?? [{ key: signer }]).map(({ key, corrupt }) => {
    const sig = new Uint8Array(sign('sha256', signed, key.key));
    if (corrupt) sig[100]! ^= 0x01;
    const value = cat(u16(1), u16(0), key.keyId, sig);
    return cat(u16(1), u16(0), u32(value.length), value);
  });
  const body = cat(...entries);
  const block = cat(enc.encode('TFSB'), u32(8 + body.length), body);
  return cat(signed, block, payload);
}
