/**
 * Lock-out by `nextKeys` (issue #10, S2). The running image's `nextKeys` are the only keys a NIC
 * checks the next update with, so an image whose list holds no key the device can verify with
 * would install, boot and then refuse every later update, with no recovery over USB. This module
 * says which `nextKeys` a device can use, given the signature algorithms it verifies: its QUERY
 * tag 25 bitmask, or this NIC family's rule (bit 0) when no device is asked.
 */
import { parseSpki } from '../crypto/keys.ts';
import { FAMILY_ALGORITHMS, VERIFIABLE_ALG } from './algorithms.ts';
import type { Failed } from '../bytes/result.ts';

/** The tag-25 bit a key would need, or 0 when no algorithm this host knows of a device uses it. */
export function keyAlgorithmBit(spki: Uint8Array): number {
  const k = parseSpki(spki);
  if (k.ok && k.value.kind === 'rsa' && k.value.bits === 2048 && k.value.exponent === 65537n) return VERIFIABLE_ALG.RSA2048_PKCS1_SHA256;
  return 0;
}

export function algorithmsText(mask: number): string {
  const names = [(mask & VERIFIABLE_ALG.RSA2048_PKCS1_SHA256) !== 0 ? 'RSA-2048 (e = 65537) PKCS#1 v1.5 / SHA-256' : undefined].filter((x): x is string => !!x);
  return names.length ? names.join(', ') : 'no algorithm this host knows';
}

export type NextKeysVerdict =
  | { readonly ok: true; readonly usable: readonly number[]; readonly reason: string }
  | Failed;

/**
 * Can the device verify an update after this image? `mask`: the device's tag-25 bits (default:
 * the family rule). `finalImage`: the image says, signed, that it is meant to be the last one.
 */
export function checkNextKeys(nextKeys: readonly Uint8Array[], opts: { mask?: number; finalImage?: boolean; from?: 'device' | 'family' } = {}): NextKeysVerdict {
  const mask = opts.mask ?? FAMILY_ALGORITHMS;
  const usable = nextKeys.flatMap((k, i) => ((keyAlgorithmBit(k) & mask) !== 0 ? [i] : []));
  const whose = opts.from === 'device' ? 'the device verifies' : "this NIC family verifies";
  if (usable.length > 0) {
    return { ok: true, usable, reason: `nextKeys holds ${usable.length} key${usable.length === 1 ? '' : 's'} ${whose} (${algorithmsText(mask)}): ${usable.map((i) => `nextKeys[${i}]`).join(', ')}` };
  }
  const held = nextKeys.length === 0 ? 'nextKeys is empty' : `nextKeys holds no key ${whose} (${algorithmsText(mask)})`;
  if (opts.finalImage) return { ok: true, usable: [], reason: `FINAL IMAGE (signed finalImage flag): ${held}, so the device accepts no further update after it` };
  return { ok: false, reason: `after this image the device could verify no further update: ${held}. Add an RSA-2048 public key (e = 65537) to nextKeys, or sign a deliberate last image with --final-image` };
}

/** The loud notice every report about a final image carries. */
export const FINAL_IMAGE_NOTICE = 'FINAL IMAGE: after it the device accepts no further update.';
