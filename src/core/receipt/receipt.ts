/**
 * A device-signed update receipt (issue #14; layout in docs/protocol.md §4.11): what the NIC says it
 * runs, signed with its own attestation key over the host's nonce. This module only parses, strictly
 * and bounded: every length is checked before use, every padding and reserved byte must be zero, and
 * the bytes must end exactly where the layout says. Verification is verify.ts.
 */
import { ByteReader, FormatFailure } from '../bytes/reader.ts';
import { formatFailed, type FormatFailed, type Ok } from '../bytes/result.ts';
import { toHex } from '../bytes/hex.ts';
import { formatVersion } from '../image/version.ts';
import { parsePem, toPem } from '../crypto/pem.ts';
import { mccError, mccStateName } from '../update/mcc-codes.ts';

export const RECEIPT_MAGIC = 'TFRC';
export const RECEIPT_VERSION = 1;
/** The signed body's size (layout version 1). */
export const RECEIPT_BODY_SIZE = 176;
export const RECEIPT_NONCE_SIZE = 32;
export const RECEIPT_SIGNATURE_SIZE = 256;
/** The largest device certificate a receipt carries (the firmware's CERT_MAX). */
export const RECEIPT_CERT_MAX = 2048;
/** The largest receipt: body, signature, certificate, their two lengths. */
export const RECEIPT_MAX = RECEIPT_BODY_SIZE + 4 + RECEIPT_SIGNATURE_SIZE + RECEIPT_CERT_MAX;
/** The last update's outcome when there was none since the device's power-on. */
export const NO_UPDATE = 0xff;
/** The armor label of a receipt file (`trustflash receipt get`, `update --receipt`). */
export const RECEIPT_PEM_LABEL = 'TRUSTFLASH RECEIPT';

export interface Receipt {
  readonly version: number;
  readonly nonce: Uint8Array;
  readonly serial: string;
  readonly psid: string;
  /** An image is activated and runs after the next reset. */
  readonly pending: boolean;
  /** BOOT_STATUS of the device's last boot (docs/protocol.md §8.5). */
  readonly bootStatus: number;
  readonly runningVersion: string;
  readonly pendingVersion: string | undefined;
  /** Release digest of the running image (the boot record's digest of the active bank), hex. */
  readonly runningDigest: string;
  readonly pendingDigest: string | undefined;
  readonly fusedSvn: number;
  /** The last update since power-on: NO_UPDATE, 0 (activated) or the MCC error code that refused it. */
  readonly lastUpdate: number;
  readonly mccState: number;
  /** The exact signed bytes (the body). */
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
  readonly certificate: Uint8Array;
}

function printable(r: ByteReader, field: string, len: number, size: number, min: number): string {
  const at = r.offset;
  const raw = r.bytes(field, size);
  if (len < 1 || len > size) throw new FormatFailure({ field, offset: at, message: `length ${len} is outside 1..${size}` });
  for (let i = 0; i < size; i++) {
    const c = raw[i]!;
    if (i < len ? c < min || c > 0x7e : c !== 0) throw new FormatFailure({ field, offset: at + i, message: i < len ? `byte 0x${c.toString(16)} is not printable ASCII` : 'padding is not zero' });
  }
  return String.fromCharCode(...raw.subarray(0, len));
}

function version(r: ByteReader, field: string): string {
  return formatVersion([r.u16(`${field}.major`), r.u16(`${field}.minor`), r.u16(`${field}.subminor`)]);
}

function zero(r: ByteReader, field: string, n: number): void {
  const at = r.offset;
  const b = r.bytes(field, n);
  const i = b.findIndex((x) => x !== 0);
  if (i >= 0) throw new FormatFailure({ field, offset: at + i, message: 'expected zero' });
}

/** Parses a receipt as the device sent it. Never throws: a malformed receipt is a typed failure naming the field and offset. */
export function parseReceipt(bytes: Uint8Array): Ok<Receipt> | FormatFailed {
  try {
    if (bytes.length > RECEIPT_MAX) throw new FormatFailure({ field: 'receipt', offset: 0, message: `${bytes.length} bytes, more than the ${RECEIPT_MAX} a receipt can have` });
    const copy = bytes.slice(); // parse, and later verify, one copy of untrusted bytes
    const r = new ByteReader(copy);
    const magic = r.bytes('magic', 4);
    if (String.fromCharCode(...magic) !== RECEIPT_MAGIC) throw new FormatFailure({ field: 'magic', offset: 0, message: `expected "${RECEIPT_MAGIC}"` });
    const v = r.u16('version');
    if (v !== RECEIPT_VERSION) throw new FormatFailure({ field: 'version', offset: 4, message: `layout version ${v} is not supported (this host reads ${RECEIPT_VERSION})` });
    const bodyLen = r.u16('bodyLength');
    if (bodyLen !== RECEIPT_BODY_SIZE) throw new FormatFailure({ field: 'bodyLength', offset: 6, message: `expected ${RECEIPT_BODY_SIZE}, got ${bodyLen}` });
    const nonce = r.bytes('nonce', RECEIPT_NONCE_SIZE).slice();
    const serialLen = r.u8('serialLength');
    const psidLen = r.u8('psidLength');
    const flags = r.u8('flags');
    if (flags > 1) throw new FormatFailure({ field: 'flags', offset: 42, message: `unknown flag bits 0x${flags.toString(16)}` });
    const bootStatus = r.u8('bootStatus');
    const serial = printable(r, 'serial', serialLen, 32, 0x20);
    const psid = printable(r, 'psid', psidLen, 16, 0x21);
    const pending = flags === 1;
    const runningVersion = version(r, 'runningVersion');
    const pendingAt = r.offset;
    const pendingVersion = version(r, 'pendingVersion');
    const runningDigest = toHex(r.bytes('runningDigest', 32));
    const pendingDigestAt = r.offset;
    const pendingDigest = toHex(r.bytes('pendingDigest', 32));
    if (!pending && (pendingVersion !== '0.0.0' || /[^0]/.test(pendingDigest))) {
      throw new FormatFailure({ field: 'pendingVersion', offset: pendingVersion !== '0.0.0' ? pendingAt : pendingDigestAt, message: 'set although no image is pending' });
    }
    const fusedSvn = r.u32('fusedSvn');
    if (fusedSvn > 64) throw new FormatFailure({ field: 'fusedSvn', offset: 168, message: `${fusedSvn} is more than the 64 fuses` });
    const lastUpdate = r.u8('lastUpdate');
    const mccState = r.u8('mccState');
    zero(r, 'reserved', 2);
    const body = copy.subarray(0, RECEIPT_BODY_SIZE);
    const sigLen = r.u16('signatureLength');
    if (sigLen !== RECEIPT_SIGNATURE_SIZE) throw new FormatFailure({ field: 'signatureLength', offset: RECEIPT_BODY_SIZE, message: `expected ${RECEIPT_SIGNATURE_SIZE} (RSA-2048), got ${sigLen}` });
    const signature = r.bytes('signature', sigLen);
    const certLen = r.u16('certificateLength');
    if (certLen === 0 || certLen > RECEIPT_CERT_MAX) throw new FormatFailure({ field: 'certificateLength', offset: r.offset - 2, message: `expected 1..${RECEIPT_CERT_MAX}, got ${certLen}` });
    const certificate = r.bytes('certificate', certLen);
    r.expectEnd('receipt');
    return {
      ok: true,
      value: { version: v, nonce, serial, psid, pending, bootStatus, runningVersion, pendingVersion: pending ? pendingVersion : undefined, runningDigest, pendingDigest: pending ? pendingDigest : undefined, fusedSvn, lastUpdate, mccState, body, signature, certificate },
    };
  } catch (e) {
    if (e instanceof FormatFailure) return formatFailed(e.error);
    throw e;
  }
}

/** The receipt's fields as JSON (hex for bytes), for `--json`, the audit log and the page. */
export function receiptFields(r: Receipt): Record<string, string | number | boolean | null> {
  return {
    serial: r.serial,
    psid: r.psid,
    runningVersion: r.runningVersion,
    runningDigest: r.runningDigest,
    pendingVersion: r.pendingVersion ?? null,
    pendingDigest: r.pendingDigest ?? null,
    fusedSvn: r.fusedSvn,
    lastUpdate: r.lastUpdate === NO_UPDATE ? 'none since power-on' : r.lastUpdate === 0 ? 'activated' : `refused: ${mccError(r.lastUpdate).name}`,
    mccState: mccStateName(r.mccState),
    bootStatus: r.bootStatus,
    nonce: toHex(r.nonce),
  };
}

/** A receipt file: the device's bytes as is, armored ("-----BEGIN TRUSTFLASH RECEIPT-----"), so it survives mail and copy-paste. */
export function armorReceipt(bytes: Uint8Array): string {
  return toPem(RECEIPT_PEM_LABEL, bytes);
}

/** The receipt bytes in a file: armored (one TRUSTFLASH RECEIPT block) or raw. */
export function unarmorReceipt(file: Uint8Array): { ok: true; bytes: Uint8Array } | { ok: false; reason: string } {
  if (file.length >= 4 && String.fromCharCode(...file.subarray(0, 4)) === RECEIPT_MAGIC) return { ok: true, bytes: file };
  if (file.length > 4 * RECEIPT_MAX) return { ok: false, reason: `${file.length} bytes is too large for a receipt file` };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file);
  } catch {
    return { ok: false, reason: 'not a receipt: neither raw receipt bytes ("TFRC") nor text' };
  }
  const { blocks } = parsePem(text);
  const mine = blocks.filter((b) => b.label === RECEIPT_PEM_LABEL);
  if (mine.length !== 1) return { ok: false, reason: `expected one "-----BEGIN ${RECEIPT_PEM_LABEL}-----" block, found ${mine.length}` };
  return { ok: true, bytes: mine[0]!.der };
}
