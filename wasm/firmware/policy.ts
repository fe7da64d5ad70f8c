// The device's decision on an incoming image head (docs/protocol.md §6), made the moment the head
// has arrived: format, a signature by a key the *running* image embeds, applicability, secured,
// development image, forbidden list, security version, next keys, size. Also the one lookup of an
// embedded key (updates and CS tokens), and the RAM the heads live in.

import * as C from './codes';
import { flash_bank_size } from './hw';
import { equal, le16, le32 } from './mem';
import { ImageInfo, HEAD_MAX, HEADER_SIZE, parseHead, nextSignature, entryEnd, listsPsid, listsDeviceId, forbids, ALG_RSA_PKCS1_SHA256 } from './image';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE, rsa2048VerifySha256, spkiRsa2048Modulus } from './crypto';
import * as dev from './device';
import * as P from './payload';

// RAM: the running image's head and the incoming head (each up to HEAD_MAX, about 1.1 MiB).
export const runningHead = memory.data(HEAD_MAX);
/** The incoming head during a download; at boot, with no flow, the other bank's head (main.ts). */
export const incomingHead = memory.data(HEAD_MAX);
export const running = new ImageInfo();
export const incoming = new ImageInfo();
const ctxScratch = memory.data(SHA256_CTX_SIZE);
const modulus = memory.data(256);
const keyScratch = memory.data(256);
const keyHash = memory.data(32);

/** The security version an incoming image must reach (S1): the highest of the fuses, the running image's SVN and its minimum SVN. */
export function svnFloor(): u32 {
  let floor = dev.fusedSvn();
  if (running.svn > floor) floor = running.svn;
  if (running.hasMinSvn && running.minSvn > floor) floor = running.minSvn;
  return floor;
}

/** The device's policy, in order: format, signature by an embedded key, applicability, secured, dev, forbidden, security version, next keys, size. */
export function checkHead(headLen: u32, componentSize: u32): u32 {
  if (!parseHead(incomingHead, headLen, incoming)) return C.E_REJECTED_BAD_FORMAT;
  // each head byte is hashed once: the release digest for the signatures, the head digest for the record
  P.beginHead(incomingHead, HEADER_SIZE + incoming.manifestSize, headLen);
  const auth = authenticate();
  if (auth != C.E_OK) return auth;
  const psidAt = dev.find(dev.TAG_PSID);
  if (psidAt < 0 || !listsPsid(incoming, dev.info + <usize>psidAt, dev.lengthOf(dev.TAG_PSID)) || !listsDeviceId(incoming, dev.deviceId())) return C.E_REJECTED_NOT_APPLICABLE;
  if (!incoming.secured) return C.E_REJECTED_NOT_A_SECURED_FW;
  if (incoming.dev && (dev.flags() & dev.FLAG_DEV_DEVICE) == 0) return C.E_DEV_IMAGE_ON_PROD_DEVICE;
  if (forbids(running, incoming.version)) return C.E_REJECTED_FORBIDDEN_VERSION;
  // S1: the fuses alone are not the floor: nothing below what runs now, even if the fuses lag behind it
  if (incoming.svn < svnFloor()) return C.E_INVALID_SECURITY_VERSION;
  // S2: after this image runs, its nextKeys are the only keys the device checks updates with; with
  // none it can verify, every later update would be refused (a lock-out no USB host can undo),
  // unless the signer said so on purpose (finalImage)
  if (!incoming.finalImage && !holdsVerifiableKey(incoming)) return C.E_REJECTED_KEY_NOT_APPLICABLE;
  if (incoming.total > <u64>flash_bank_size() || (componentSize != 0 && incoming.total != <u64>componentSize)) return C.E_REJECTED_BAD_FORMAT;
  return C.E_OK;
}

/**
 * The image must carry an RSA-2048 PKCS#1 v1.5 / SHA-256 signature, over header || manifest, by a
 * key the running image embeds (its nextKeys). Every signature by a held key must verify and at
 * least one must (S3): one bad signature by a key the device trusts is an authentication failure
 * even next to a good one. Signatures by keys the device does not hold are ignored, so an image
 * signed by both the old and the next key (a rotation) installs on either side of it.
 */
function authenticate(): u32 {
  if (incoming.signatures == 0 && incoming.cms == 0) return C.E_REJECTED_UNSIGNED;
  const digest = P.releaseDigest; // SHA-256 of header ‖ manifest (payload.ts beginHead)
  let usable: u32 = 0;
  let verifiedCount: u32 = 0;
  let entry = nextSignature(incoming, 0);
  while (entry != 0) {
    const alg = le16(incomingHead + entry + 8);
    const sigLen = le32(incomingHead + entry + 4) - 36;
    if (alg == ALG_RSA_PKCS1_SHA256 && sigLen == 256) {
      usable++;
      if (embeddedKey(incomingHead + entry + 12, modulus)) {
        if (!rsa2048VerifySha256(modulus, incomingHead + entry + 44, sigLen, digest)) return C.E_REJECTED_AUTH_FAILED;
        verifiedCount++;
      }
    }
    entry = nextSignature(incoming, entryEnd(incoming, entry));
  }
  if (usable == 0) return C.E_REJECTED_KEY_NOT_APPLICABLE; // signed, but not in a form this device verifies
  return verifiedCount == 0 ? C.E_REJECTED_UNKNOWN_KEY : C.E_OK;
}

/**
 * The one lookup of an embedded key (firmware updates and CS tokens): the running image's nextKeys
 * entry whose SHA-256(SPKI) is `keyId`, as an RSA-2048 / e = 65537 modulus in `out` (256 bytes).
 * False when no entry has that id, or the entry is a key this device cannot verify with.
 */
export function embeddedKey(keyId: usize, out: usize): bool {
  let at: u32 = 0;
  while (at < running.nextKeysLen) {
    const l = le16(running.buf + running.nextKeys + at);
    const spki = running.buf + running.nextKeys + at + 2;
    sha256Init(ctxScratch);
    sha256Update(ctxScratch, spki, l);
    sha256Final(ctxScratch, keyHash);
    if (equal(keyHash, keyId, 32)) return spkiRsa2048Modulus(spki, l, out);
    at += 2 + l;
  }
  return false;
}

/** The signature algorithms this device verifies (QUERY tag 25): bit 0 = RSASSA-PKCS1-v1_5 / SHA-256 with RSA-2048, e = 65537. */
export const VERIFIABLE_ALGS: u32 = 1;

/** Does `info`'s nextKeys hold a key the device could verify the next update with (RSA-2048, e = 65537; S2)? */
function holdsVerifiableKey(info: ImageInfo): bool {
  let at: u32 = 0;
  while (at < info.nextKeysLen) {
    const l = le16(info.buf + info.nextKeys + at);
    if (spkiRsa2048Modulus(info.buf + info.nextKeys + at + 2, l, keyScratch)) return true;
    at += 2 + l;
  }
  return false;
}
