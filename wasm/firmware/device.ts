// Device identity (the manufacturing sector) and the security-version fuses.

import { DEVICE_INFO, flash_read, HW_OK, otp_burn, otp_read } from './hw';
import { le32 } from './mem';

const MAGIC: u32 = 0x49444654; // "TFDI"
export const INFO_MAX: u32 = 512;
export const info = memory.data(INFO_MAX);
export let infoLen: u32 = 0;

export const TAG_PSID: u32 = 1;
export const TAG_DEVICE_ID: u32 = 2;
export const TAG_SERIAL: u32 = 3;
export const TAG_DESCRIPTION: u32 = 4;
export const TAG_PART_NUMBER: u32 = 5;
export const TAG_BASE_MAC: u32 = 6;
export const TAG_BASE_GUID: u32 = 7;
export const TAG_FLAGS: u32 = 8;
export const FLAG_DEV_DEVICE: u32 = 1;

/** Reads the manufacturing sector. Returns false if it is missing or malformed (an unprogrammed device). */
export function loadInfo(): bool {
  if (flash_read(DEVICE_INFO, info, 8) != HW_OK || le32(info) != MAGIC) return false;
  const len = le32(info + 4);
  if (len > INFO_MAX - 8) return false;
  if (flash_read(DEVICE_INFO + 8, info, len) != HW_OK) return false;
  // validate the TLV walk once, so later lookups cannot run off the end
  let at: u32 = 0;
  while (at < len) {
    if (len - at < 2) return false;
    const l = <u32>load<u8>(info + at + 1);
    if (l > len - at - 2) return false;
    at += 2 + l;
  }
  infoLen = len;
  return true;
}

/** Offset of tag's value in `info`, or -1; its length in `lenOut` (a 4-byte slot). */
export function find(tag: u32): i32 {
  let at: u32 = 0;
  while (at + 2 <= infoLen) {
    const t = <u32>load<u8>(info + at);
    const l = <u32>load<u8>(info + at + 1);
    if (t == tag) return <i32>(at + 2);
    at += 2 + l;
  }
  return -1;
}

export function lengthOf(tag: u32): u32 {
  const at = find(tag);
  return at < 0 ? 0 : <u32>load<u8>(info + <usize>at - 1);
}

export function deviceId(): u32 {
  const at = find(TAG_DEVICE_ID);
  return at < 0 || lengthOf(TAG_DEVICE_ID) != 4 ? 0 : le32(info + <usize>at);
}

export function flags(): u32 {
  const at = find(TAG_FLAGS);
  return at < 0 || lengthOf(TAG_FLAGS) != 4 ? 0 : le32(info + <usize>at);
}

const fuses = memory.data(8);

/** The security version burnt into the fuses: the number of burnt fuses (a fuse never un-burns). */
export function fusedSvn(): u32 {
  if (otp_read(fuses) != HW_OK) return 0xffffffff; // unreadable fuses: refuse every image (fail closed)
  return <u32>popcnt(load<u64>(fuses));
}

/** Raises the fused security version to `svn` (at most 64). */
export function raiseSvn(svn: u32): u32 {
  const target: u32 = svn > 64 ? <u32>64 : svn;
  let have = fusedSvn();
  while (have < target) {
    const st = otp_burn(have);
    if (st != HW_OK) return st;
    have++;
  }
  return HW_OK;
}
