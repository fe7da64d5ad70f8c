/**
 * Signed images a host and the device must decide the same way (issue #10, hardening spec S1–S5),
 * each with the MCC code the device gives on a factory-fresh demo NIC (docs/protocol.md §6). The
 * device tests hold the firmware to this list (hardening.test.ts, "the variant list"); an
 * image-level agreement test on the host side can run its own verifier over the same bytes.
 * Every image is signed by the demo signer over header ‖ manifest, so only the named rule differs.
 */
import { buildImage, demoKey, otherSpki, type Fields } from './image-builder.ts';

export interface ImageVariant {
  readonly name: string;
  /** The hardening rule it exercises. */
  readonly rule: 'S1' | 'S2' | 'S3' | 'S4' | 'S5';
  readonly fields: Fields;
  /** MCC error code on a factory-fresh demo NIC (0 = accepted). */
  readonly device: number;
}

const text = (t: string) => new TextEncoder().encode(t);

export function imageVariants(): ImageVariant[] {
  const signer = demoKey('signer');
  const next = demoKey('next-signer');
  const unknown = demoKey('unknown');
  const spki = signer.spki;
  return [
    { name: 'baseline', rule: 'S4', fields: {}, device: 0 },
    { name: 'svn 64', rule: 'S1', fields: { svn: 64 }, device: 0 },
    { name: 'svn 65', rule: 'S1', fields: { svn: 65 }, device: 0x08 },
    { name: 'svn 2^32-1', rule: 'S1', fields: { svn: 0xffffffff }, device: 0x08 },
    { name: 'minSvn 65', rule: 'S1', fields: { svn: 65, minSvn: 65 }, device: 0x08 },
    { name: 'svn 1 (below the fuses)', rule: 'S1', fields: { svn: 1 }, device: 0x19 },
    { name: 'nextKeys: trailing byte', rule: 'S2', fields: { nextKeys: [spki, Uint8Array.of(...spki, 0)] }, device: 0x08 },
    { name: 'nextKeys: random bytes', rule: 'S2', fields: { nextKeys: [Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff)] }, device: 0x08 },
    { name: 'nextKeys: empty list', rule: 'S2', fields: { nextKeys: [] }, device: 0x08 },
    { name: 'nextKeys: absent', rule: 'S2', fields: { nextKeys: undefined }, device: 0x07 },
    { name: 'nextKeys: only RSA-3072', rule: 'S2', fields: { nextKeys: [otherSpki('rsa-3072')] }, device: 0x07 },
    { name: 'nextKeys: only RSA-2048 e=3', rule: 'S2', fields: { nextKeys: [otherSpki('rsa-2048-e3')] }, device: 0x07 },
    { name: 'nextKeys: only EC P-256', rule: 'S2', fields: { nextKeys: [otherSpki('ec-p256')] }, device: 0x07 },
    { name: 'nextKeys: only Ed25519', rule: 'S2', fields: { nextKeys: [otherSpki('ed25519')] }, device: 0x07 },
    { name: 'nextKeys: EC and RSA-2048', rule: 'S2', fields: { nextKeys: [otherSpki('ec-p256'), spki] }, device: 0 },
    { name: 'finalImage, nextKeys absent', rule: 'S2', fields: { nextKeys: undefined, finalImage: 1 }, device: 0 },
    { name: 'finalImage, only EC', rule: 'S2', fields: { nextKeys: [otherSpki('ec-p256')], finalImage: 1 }, device: 0 },
    { name: 'finalImage = 0', rule: 'S2', fields: { finalImage: 0 }, device: 0x08 },
    { name: 'finalImage = 2', rule: 'S2', fields: { finalImage: 2 }, device: 0x08 },
    { name: 'signer + next signer', rule: 'S3', fields: { signers: [{ key: signer }, { key: next }] }, device: 0 },
    { name: 'signer + unknown key', rule: 'S3', fields: { signers: [{ key: signer }, { key: unknown }] }, device: 0 },
    { name: 'unknown key (bad signature) + signer', rule: 'S3', fields: { signers: [{ key: unknown, corrupt: true }, { key: signer }] }, device: 0 },
    { name: 'signer good + next signer bad', rule: 'S3', fields: { signers: [{ key: signer }, { key: next, corrupt: true }] }, device: 0x05 },
    { name: 'signer bad + next signer good', rule: 'S3', fields: { signers: [{ key: signer, corrupt: true }, { key: next }] }, device: 0x05 },
    { name: 'only an unknown key', rule: 'S3', fields: { signers: [{ key: unknown }] }, device: 0x04 },
    { name: 'sequence present', rule: 'S4', fields: { sequence: 7 }, device: 0 },
    { name: 'notes: TAB, CR, LF, non-ASCII', rule: 'S5', fields: { notes: text('Fixes\tlink flap.\r\nÜber ✓ 🚀') }, device: 0 },
    { name: 'notes: ESC', rule: 'S5', fields: { notes: text('a\u001b[2Jb') }, device: 0x08 },
    { name: 'notes: DEL', rule: 'S5', fields: { notes: text('a\u007fb') }, device: 0x08 },
    { name: 'notes: C1 U+0085', rule: 'S5', fields: { notes: text('a\u0085b') }, device: 0x08 },
    { name: 'notes: RLO U+202E', rule: 'S5', fields: { notes: text('a\u202eb') }, device: 0x08 },
    { name: 'notes: LRI U+2066', rule: 'S5', fields: { notes: text('a\u2066b') }, device: 0x08 },
    { name: 'notes: overlong', rule: 'S5', fields: { notes: Uint8Array.of(0x61, 0xc0, 0xaf) }, device: 0x08 },
    { name: 'notes: surrogate', rule: 'S5', fields: { notes: Uint8Array.of(0x61, 0xed, 0xa0, 0x80) }, device: 0x08 },
    { name: 'notes: truncated', rule: 'S5', fields: { notes: Uint8Array.of(0x61, 0xe2, 0x82) }, device: 0x08 },
  ];
}

export function variantImage(v: ImageVariant): Uint8Array {
  return buildImage(v.fields);
}
