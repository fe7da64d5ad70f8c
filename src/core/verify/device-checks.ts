/**
 * The pre-flight rows that weigh an authenticated image against the device and the clock (steps
 * 6–9 of verify-image.ts): whether the device can verify a later update (nextKeys), expiry, the
 * device's forbidden list, its identity, the secured and development flags, the security-version
 * floor, the keys the device holds, its bank size and a pending image. They run only once the
 * manifest is authenticated; a row whose input the device did not give is skipped and says so.
 */
import { toHex, equalBytes } from '../bytes/hex.ts';
import { compareVersions } from '../image/version.ts';
import { SIG_ALG, SIG_ENTRY, type Manifest, type SigEntry } from '../image/layout.ts';
import type { ImageHead } from '../image/parse.ts';
import { verifySignature } from '../crypto/signature.ts';
import { findTrustedKey, type TrustStore } from '../crypto/trust.ts';
import type { Certificate } from '../crypto/x509.ts';
import type { ReportBuilder } from './report.ts';
import { algorithmsText, checkNextKeys, FINAL_IMAGE_NOTICE, keyAlgorithmBit } from './next-keys.ts';
import { FAMILY_ALGORITHMS, VERIFIABLE_ALG } from './algorithms.ts';

/** Appended to the rows only the host can decide (issue #10, S7). */
export const HOST_ONLY_CLOCK = 'checked by this host only (the device has no clock)';

export type RawSignature = SigEntry & { type: typeof SIG_ENTRY.SIGNATURE };

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const short = (id: Uint8Array) => toHex(id).slice(0, 16);

/**
 * What the host knows about the target device: from its QUERY answer (the update session), or
 * DEVICE.json (`trustflash verify --device`). Every field but the PSID is optional; a check whose
 * input the device did not give is skipped and says so.
 */
export interface DeviceIdentity {
  readonly psid: string;
  readonly deviceId?: number;
  readonly version?: string;
  /**
   * The security-version floor as one number (DEVICE.json). The session gives the three parts
   * below instead; the floor is the largest of all given (issue #10, S1).
   */
  readonly securityVersion?: number;
  /** QUERY tag 11: the SVN burnt into the fuses. */
  readonly fusedSvn?: number;
  /** QUERY tag 12: the running image's SVN. */
  readonly runningSvn?: number;
  /** QUERY tag 13: the running image's minimum SVN for the next image. */
  readonly runningMinSvn?: number;
  readonly forbiddenVersions?: readonly string[];
  /** QUERY tag 14: SHA-256 (lowercase hex) of each key the running image embeds. */
  readonly keyIds?: readonly string[];
  /** QUERY tag 22: the largest image the device takes (its bank). */
  readonly maxImageSize?: number;
  /**
   * QUERY tags 2 / 16: the version already pending (activated, waiting for a reset), true when
   * only the bank state says so, false when nothing is pending; absent when not known.
   */
  readonly pending?: string | boolean;
  /** QUERY tag 10 bit 2: a development device (accepts development images). */
  readonly devDevice?: boolean;
  /** QUERY tag 25: the signature algorithms the device verifies (absent: an older device, the family rule). */
  readonly verifiableAlgorithms?: number;
}

export interface DeviceCheckInput {
  readonly m: Manifest;
  readonly head: ImageHead;
  /** The image's raw signature entries, with their index in the signature block. */
  readonly raw: readonly { e: RawSignature; index: number }[];
  /** Indexes of the signatures that verified (step 5). */
  readonly verifiedIds: ReadonlySet<number>;
  readonly certs: readonly Certificate[];
  readonly trust: TrustStore;
  /** The signed bytes: header ‖ manifest. */
  readonly signed: Uint8Array;
  readonly now: Date;
  readonly device?: DeviceIdentity;
}

export async function deviceChecks(b: ReportBuilder, c: DeviceCheckInput): Promise<void> {
  const d = c.device;
  const { m, head, raw, verifiedIds, certs, trust, signed, now } = c;
  const noDevice = 'no device given: connect a device or pass its identity to check this';

  // 6. After this image, can the device verify another update? (issue #10, S2)
  const mask = d?.verifiableAlgorithms;
  const nk = checkNextKeys(m.nextKeys, { ...(mask !== undefined ? { mask, from: 'device' as const } : {}), finalImage: m.finalImage === true });
  if (nk.ok) b.pass('nextKeys', nk.reason);
  else b.fail('nextKeys', nk.reason);
  if (m.finalImage && nk.ok && nk.usable.length === 0) b.notices.push(FINAL_IMAGE_NOTICE);
  else if (m.finalImage) b.notices.push('The image is marked as a final image (finalImage), yet its nextKeys still hold a key the device can verify further updates with.');

  // 7. Freshness: the host's clock only.
  const t = Math.floor(now.getTime() / 1000);
  if (m.expires !== undefined && m.expires < t) b.fail('expiry', `the image expired on ${iso(m.expires)}; ask the vendor for a current release; ${HOST_ONLY_CLOCK}`);
  else if (m.releaseDate > t + 86400) b.fail('expiry', `the release date ${iso(m.releaseDate)} is in the future; check this computer's clock; ${HOST_ONLY_CLOCK}`);
  else b.pass('expiry', `released ${iso(m.releaseDate)}${m.expires !== undefined ? `, valid until ${iso(m.expires)}` : ', no expiry'}; ${HOST_ONLY_CLOCK}`);

  // 8. Policy against the device: forbidden versions (the device's list), identity, secured flag,
  // development image, security-version floor.
  if (!d) b.skip('forbidden', noDevice);
  else if ((d.forbiddenVersions ?? []).includes(m.version)) b.fail('forbidden', `version ${m.version} is on this device's forbidden list; choose another release`);
  else b.pass('forbidden', `version ${m.version} is not on the device's forbidden list (${(d.forbiddenVersions ?? []).length} entries)`);
  if (!d) b.skip('device', noDevice);
  else if (!m.psids.includes(d.psid)) b.fail('device', `the image is for PSID ${m.psids.join(', ')}; this device is ${d.psid || '(no PSID reported)'}. Get the image made for this board.`);
  else if (d.deviceId !== undefined && m.deviceIds.length > 0 && !m.deviceIds.includes(d.deviceId)) b.fail('device', `the image is for device id ${m.deviceIds.join(', ')}; this device is ${d.deviceId}. Get the image made for this board.`);
  else b.pass('device', `PSID ${d.psid}${d.deviceId !== undefined ? `, device id ${d.deviceId}` : ''} is listed in the manifest`);
  if (m.secured) b.pass('secured', 'the image is marked secured');
  else b.fail('secured', 'the image is not a secured image; a device running secure firmware refuses it');
  if (!m.dev) b.pass('devImage', 'a production image');
  else if (!d || d.devDevice === undefined) b.skip('devImage', d ? 'a development image, and the device did not say whether it is a development device' : `a development image; ${noDevice}`);
  else if (!d.devDevice) b.fail('devImage', 'a development image, and this is a production device: it refuses development images (MCC 0x32). Use the production release.');
  else b.pass('devImage', 'a development image, and this is a development device');
  securityVersionCheck(b, m, d, noDevice);

  // 9. What the device checks with what it holds: its keys, its bank, its pending image.
  await deviceKeyCheck(b, raw, verifiedIds, certs, trust, signed, d, noDevice);
  if (!d) b.skip('fits', noDevice);
  else if (d.maxImageSize === undefined) b.skip('fits', 'the device did not report its bank size');
  else if (head.totalSize > d.maxImageSize) b.fail('fits', `the image is ${head.totalSize} bytes; the device's bank holds ${d.maxImageSize}. Get the image made for this board.`);
  else b.pass('fits', `${head.totalSize} bytes fit the device's ${d.maxImageSize}-byte bank`);
  if (!d) b.skip('pending', noDevice);
  else if (d.pending === undefined) b.skip('pending', 'the device did not say whether an image is pending');
  else if (d.pending !== false) b.fail('pending', `${d.pending === true ? 'an image' : `version ${d.pending}`} is already pending on the device (activated, waiting for a reset): reset the device to run it, or undo it, then update`);
  else b.pass('pending', 'no image is waiting for a reset on the device');
}

/** The floor is the largest of the fused SVN, the running image's SVN and its minimum (issue #10, S1). */
function securityVersionCheck(b: ReportBuilder, m: Manifest, d: DeviceIdentity | undefined, noDevice: string): void {
  if (!d) return b.skip('securityVersion', noDevice);
  const all: [number | undefined, string][] = [
    [d.securityVersion, 'security version'],
    [d.fusedSvn, 'fused security version'],
    [d.runningSvn, "running image's security version"],
    [d.runningMinSvn, "running image's minimum security version"],
  ];
  const parts = all.filter((p): p is [number, string] => p[0] !== undefined);
  if (parts.length === 0) return b.skip('securityVersion', 'the device did not report a security version');
  const floor = Math.max(...parts.map((p) => p[0]));
  const why = parts.filter((p) => p[0] === floor).map((p) => p[1]).join(' and ');
  if (m.securityVersion < floor) {
    return void b.fail('securityVersion', `image security version ${m.securityVersion} is below ${floor}, the device's ${why}: a downgrade to a version with known vulnerabilities is refused`);
  }
  const vs = d.version ? ` (version ${d.version} → ${m.version}${compareVersions(m.version, d.version) < 0 ? ', an older release at the same security level' : ''})` : '';
  b.pass('securityVersion', `image security version ${m.securityVersion} ≥ device's ${floor} (${why})${vs}`);
}

/**
 * The device verifies only RSA-2048 PKCS#1 v1.5 / SHA-256 signatures by keys its running image
 * embeds (QUERY tag 14): every such signature must verify and at least one must exist (S3). The
 * key id is the SHA-256 of the key, so any copy of the key this host has — a trusted key or a
 * certificate carried by the image, trusted or not — is that very key, and the host checks the
 * signature with it as the device will.
 */
async function deviceKeyCheck(
  b: ReportBuilder,
  raw: readonly { e: RawSignature; index: number }[],
  verified: ReadonlySet<number>,
  certs: readonly Certificate[],
  trust: TrustStore,
  signed: Uint8Array,
  d: DeviceIdentity | undefined,
  noDevice: string,
): Promise<void> {
  if (!d) return b.skip('deviceKey', noDevice);
  if (d.keyIds === undefined) return b.skip('deviceKey', "the device's keys were not given (an update session reads them from the device)");
  if (d.keyIds.length === 0) return void b.fail('deviceKey', 'the device reports no embedded keys (QUERY tag 14): it can verify no image. Its firmware needs service.');
  const mask = d.verifiableAlgorithms ?? FAMILY_ALGORITHMS;
  if ((mask & VERIFIABLE_ALG.RSA2048_PKCS1_SHA256) === 0) return void b.fail('deviceKey', `the device verifies ${algorithmsText(mask)}; this host knows no image signature it could check`);
  const held = new Set(d.keyIds.map((k) => k.toLowerCase()));
  const checked: string[] = [];
  for (const { e, index } of raw) {
    // the device looks only at RSA-2048 PKCS#1 v1.5 signatures (256 bytes) by keys it holds
    if (!held.has(toHex(e.keyId)) || e.alg !== SIG_ALG.RSA_PKCS1_SHA256 || e.signature.length !== 256) continue;
    const spki = certs.find((c) => equalBytes(c.keyId, e.keyId))?.spki ?? findTrustedKey(trust, e.keyId)?.spki;
    if (!spki) {
      return void b.fail('deviceKey', `signature ${index + 1} is by key ${short(e.keyId)}…, which the device holds, but this host has no copy of that key to check the signature as the device will: add the key's public key or certificate to the trust store`);
    }
    if (keyAlgorithmBit(spki) !== VERIFIABLE_ALG.RSA2048_PKCS1_SHA256) continue; // a held key of another kind: the device cannot use it
    const ok = verified.has(index) || (await verifySignature(e.alg, spki, e.signature, signed)).ok;
    if (!ok) return void b.fail('deviceKey', `signature ${index + 1} by key ${short(e.keyId)}…, which the device holds, does not verify: the device refuses the image (MCC 0x05)`);
    checked.push(`signature ${index + 1} (key ${short(e.keyId)}…)`);
  }
  if (checked.length === 0) {
    const ids = d.keyIds.map((k) => `${k.slice(0, 16)}…`).join(', ');
    return void b.fail('deviceKey', `no RSA-2048 signature in the image is by a key the device holds (${ids}): the device refuses it (MCC 0x04 or 0x07). Get the image signed with a key the running firmware embeds.`);
  }
  b.pass('deviceKey', `${checked.join(', ')} by ${checked.length === 1 ? 'a key' : 'keys'} the device holds verif${checked.length === 1 ? 'ies' : 'y'}`);
}
