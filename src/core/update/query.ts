/**
 * QUERY (vendor request 0x40 IN, docs/protocol.md §4.1): the device's identity, versions and
 * security state as TLVs {tag u8, length u16 LE, value}; decoded totally, unknown tags skipped
 * (forward compatible), and encoded back for tests that play the device.
 */
import { aint } from '../bytes/assert.ts';
import { fromHex, toHex } from '../bytes/hex.ts';
import { ByteReader, formatFail } from '../bytes/reader.ts';
import { ByteWriter } from '../bytes/writer.ts';
import { formatVersion, parseVersion } from '../image/version.ts';

import { CONTROL_CHARS, decodeWith, deviceText, utf8, type DecodeResult } from './codec.ts';

// ---- QUERY (0x40 IN): TLVs {tag u8, length u16 LE, value} ------------------------------------------

export const QUERY_TAG = {
  RUNNING_VERSION: 1,
  PENDING_VERSION: 2,
  PSID: 3,
  DEVICE_ID: 4,
  DESCRIPTION: 5,
  PART_NUMBER: 6,
  SERIAL: 7,
  BASE_MAC: 8,
  BASE_GUID: 9,
  SECURITY_ATTRIBUTES: 10,
  FUSED_SVN: 11,
  IMAGE_SVN: 12,
  MIN_SVN: 13,
  KEY_IDS: 14,
  FORBIDDEN_VERSIONS: 15,
  BANKS: 16,
  BANK_DIGESTS: 17,
  RELEASE_DATE: 18,
  PRODUCT: 19,
  VENDOR: 20,
  MAX_BLOCK: 21,
  MAX_COMPONENT_SIZE: 22,
  VSD: 23,
  BOOT_STATUS: 24,
  /** u32 bitmask of the image signature algorithms the device verifies (issue #10, S2); absent on older devices. */
  VERIFIABLE_ALGORITHMS: 25,
  /** A resumable download in the inactive bank (issue #13, protocol §5.6): release digest, size, verified bytes. */
  RESUMABLE_DOWNLOAD: 26,
} as const;

/** Bits of QUERY tag 10, in the order `flint q` prints them (§3 printSecurityAttrInfo). */
export const SECURITY_ATTR = {
  SECURE_FW: 0x1,
  SIGNED_FW: 0x2,
  DEV: 0x4,
  /** A CS token is applied ("debug token" in the firmware; flint's "cs-token"). */
  CS_TOKEN: 0x8,
} as const;

export interface SecurityAttributes {
  readonly raw: number;
  readonly secureFw: boolean;
  readonly signedFw: boolean;
  readonly dev: boolean;
  readonly csToken: boolean;
}

export function securityAttributes(raw: number): SecurityAttributes {
  return { raw, secureFw: (raw & SECURITY_ATTR.SECURE_FW) !== 0, signedFw: (raw & SECURITY_ATTR.SIGNED_FW) !== 0, dev: (raw & SECURITY_ATTR.DEV) !== 0, csToken: (raw & SECURITY_ATTR.CS_TOKEN) !== 0 };
}

export interface BankState {
  /** The bank the device runs (0 or 1). */
  readonly active: 0 | 1;
  /** The bank that becomes active at the next reset, or null. */
  readonly pending: 0 | 1 | null;
  /** Image length recorded for each bank (0 = none). */
  readonly lengths: readonly [number, number];
}

/** QUERY tag 26: a format v2 download the device kept, which RESUME_COMPONENT continues (docs/protocol.md §5.6). */
export interface ResumableDownload {
  /** SHA-256 of header ‖ manifest of the image being downloaded (image-format.md §13.5), lowercase hex. */
  readonly releaseDigest: string;
  /** The image's total size in bytes. */
  readonly size: number;
  /**
   * The image offset up to which every byte is on flash and verified, as the device's journal says
   * (the end of the head plus whole hash blocks, or `size`). RESUME_COMPONENT re-checks those
   * bytes and may answer an earlier offset in STATUS.received.
   */
  readonly verified: number;
}

export interface DeviceVsd {
  readonly hex: string;
  /** The VSD as text, when it is UTF-8 without control characters (trailing NULs dropped). */
  readonly text: string | undefined;
}

export interface UnknownTag {
  readonly tag: number;
  /** Offset of the TLV's tag byte. */
  readonly offset: number;
  readonly length: number;
}

/**
 * The device's QUERY answer. Names follow the `flint q` labels where flint has the field
 * ("FW Version(Running)" → fwVersionRunning, "EFUSE Security Ver" → efuseSecurityVer, …). Every
 * field is optional: a device that has not booted reports only its identity and bank state.
 */
export interface DeviceQuery {
  /** Tag 1: the version the device runs ("M.m.s"). */
  readonly fwVersionRunning?: string;
  /** Tag 2: the version that runs after the next reset (an ACTIVATEd image). */
  readonly fwVersionPending?: string;
  readonly psid?: string;
  readonly deviceId?: number;
  readonly description?: string;
  readonly partNumber?: string;
  readonly serial?: string;
  /** 12 lowercase hex digits, as flint prints "Base MAC". */
  readonly baseMac?: string;
  /** 16 lowercase hex digits, as flint prints "Base GUID". */
  readonly baseGuid?: string;
  readonly securityAttributes?: SecurityAttributes;
  /** Tag 11: the security version burnt into the fuses. */
  readonly efuseSecurityVer?: number;
  /** Tag 12: the running image's security version. */
  readonly imageSecurityVer?: number;
  /** Tag 13: the running image's minimum security version for the next image. */
  readonly minSecurityVer?: number;
  /** Tag 14: SHA-256 of each SPKI the running image embeds (the keys the next image is checked with), lowercase hex. */
  readonly keyIds?: readonly string[];
  /** Tag 15: the running image's forbidden versions. */
  readonly forbiddenVersions?: readonly string[];
  readonly banks?: BankState;
  /** Tag 17: the SHA-256 recorded for each bank's image, lowercase hex. */
  readonly bankDigests?: readonly [string, string];
  /** Tag 18: the running image's release date, seconds since 1970 (UTC). */
  readonly fwReleaseDate?: number;
  /** Tag 19: the running image's product name. */
  readonly product?: string;
  /** Tag 20: the running image's vendor. */
  readonly vendor?: string;
  /** Tag 21: the largest DATA block the firmware takes. */
  readonly maxBlockSize?: number;
  /** Tag 22: the largest image (the bank size). */
  readonly maxComponentSize?: number;
  /** Tag 23: the device VSD set with MAINT SET_VSD. */
  readonly deviceVsd?: DeviceVsd;
  /** Tag 24: BOOT_STATUS. */
  readonly bootStatus?: number;
  /**
   * Tag 25: the image signature algorithms the device verifies, a bitmask; bit 0 = RSASSA-PKCS1-v1_5
   * with SHA-256 and an RSA-2048 key, e = 65537 (src/core/verify/next-keys.ts VERIFIABLE_ALG). A
   * device that omits it is an older one, which verifies exactly bit 0.
   */
  readonly verifiableAlgorithms?: number;
  /** Tag 26: present only while the inactive bank holds a resumable download. */
  readonly resumable?: ResumableDownload;
  /** Tags this host does not know, skipped. */
  readonly unknownTags?: readonly UnknownTag[];
}

type QueryKey = Exclude<keyof DeviceQuery, 'unknownTags'>;

interface FieldCodec<T> {
  read(r: ByteReader, field: string): T;
  write(w: ByteWriter, v: T, name: string): void;
}

function exactly(r: ByteReader, field: string, n: number): void {
  if (r.remaining !== n) formatFail(field, r.offset, `is ${r.remaining} bytes, expected ${n}`);
}
function multipleOf(r: ByteReader, field: string, n: number): void {
  if (r.remaining % n !== 0) formatFail(field, r.offset, `is ${r.remaining} bytes, not a multiple of ${n}`);
}

function readVersion(r: ByteReader, field: string): string {
  return formatVersion([r.u16(field), r.u16(field), r.u16(field)]);
}
function writeVersion(w: ByteWriter, v: string, name: string): void {
  const t = typeof v === 'string' ? parseVersion(v) : undefined;
  if (!t) throw new TypeError(`"${name}" expected a version "M.m.s", got ${JSON.stringify(v)}`);
  w.u16(t[0]).u16(t[1]).u16(t[2]);
}

const version: FieldCodec<string> = {
  read(r, f) {
    exactly(r, f, 6);
    return readVersion(r, f);
  },
  write: writeVersion,
};
const u32: FieldCodec<number> = {
  read(r, f) {
    exactly(r, f, 4);
    return r.u32(f);
  },
  write(w, v, name) {
    aint(name, v, 0, 0xffffffff);
    w.u32(v);
  },
};
function ascii(min: number, max: number): FieldCodec<string> {
  return {
    read(r, f) {
      const at = r.offset;
      if (r.remaining < min || r.remaining > max) formatFail(f, at, `is ${r.remaining} bytes, expected ${min}..${max}`);
      const raw = r.bytes(f, r.remaining);
      const bad = raw.findIndex((b) => b < 0x20 || b > 0x7e);
      if (bad >= 0) formatFail(f, at + bad, `byte 0x${raw[bad]!.toString(16).padStart(2, '0')} is not printable ASCII`);
      return String.fromCharCode(...raw);
    },
    write(w, v, name) {
      if (typeof v !== 'string' || v.length < min || v.length > max || !/^[\x20-\x7e]*$/.test(v)) throw new TypeError(`"${name}" expected ${min}..${max} printable ASCII characters, got ${JSON.stringify(v)}`);
      for (let i = 0; i < v.length; i++) w.u8(v.charCodeAt(i));
    },
  };
}
const text: FieldCodec<string> = {
  read: (r, f) => deviceText(r, f, r.remaining),
  write(w, v, name) {
    const b = typeof v === 'string' ? utf8.encode(v) : undefined;
    if (!b || b.length > 0xffff || CONTROL_CHARS.test(v)) throw new TypeError(`"${name}" expected text without control characters, got ${JSON.stringify(v)}`);
    w.bytes(b);
  },
};
function hexBytes(n: number): FieldCodec<string> {
  return {
    read(r, f) {
      exactly(r, f, n);
      return toHex(r.bytes(f, n));
    },
    write(w, v, name) {
      if (typeof v !== 'string' || !new RegExp(`^[0-9a-fA-F]{${2 * n}}$`).test(v)) throw new TypeError(`"${name}" expected ${n} bytes as hex, got ${JSON.stringify(v)}`);
      w.bytes(fromHex(v));
    },
  };
}
const keyIds: FieldCodec<readonly string[]> = {
  read(r, f) {
    multipleOf(r, f, 32);
    const out: string[] = [];
    while (r.remaining > 0) out.push(toHex(r.bytes(f, 32)));
    return out;
  },
  write(w, v, name) {
    for (const id of v) hexBytes(32).write(w, id, name);
  },
};
const versions: FieldCodec<readonly string[]> = {
  read(r, f) {
    multipleOf(r, f, 6);
    const out: string[] = [];
    while (r.remaining > 0) out.push(readVersion(r, f));
    return out;
  },
  write(w, v, name) {
    for (const x of v) writeVersion(w, x, name);
  },
};
const banks: FieldCodec<BankState> = {
  read(r, f) {
    exactly(r, f, 10);
    const at = r.offset;
    const active = r.u8(`${f}.active`);
    if (active > 1) formatFail(`${f}.active`, at, `is ${active}, expected 0 or 1`);
    const pending = r.u8(`${f}.pending`);
    if (pending !== 0xff && (pending > 1 || pending === active)) formatFail(`${f}.pending`, at + 1, `is ${pending}, expected the other bank or 0xFF (none)`);
    return { active: active as 0 | 1, pending: pending === 0xff ? null : (pending as 0 | 1), lengths: [r.u32(`${f}.len0`), r.u32(`${f}.len1`)] };
  },
  write(w, v, name) {
    aint(`${name}.active`, v.active, 0, 1);
    if (v.pending !== null) aint(`${name}.pending`, v.pending, 0, 1);
    aint(`${name}.len0`, v.lengths[0], 0, 0xffffffff);
    aint(`${name}.len1`, v.lengths[1], 0, 0xffffffff);
    w.u8(v.active).u8(v.pending ?? 0xff).u32(v.lengths[0]).u32(v.lengths[1]);
  },
};
const digests: FieldCodec<readonly [string, string]> = {
  read(r, f) {
    exactly(r, f, 64);
    return [toHex(r.bytes(f, 32)), toHex(r.bytes(f, 32))];
  },
  write(w, v, name) {
    hexBytes(32).write(w, v[0], name);
    hexBytes(32).write(w, v[1], name);
  },
};
const seconds: FieldCodec<number> = {
  read(r, f) {
    exactly(r, f, 8);
    return r.u64(f);
  },
  write(w, v, name) {
    aint(name, v, 0, Number.MAX_SAFE_INTEGER);
    w.u64(v);
  },
};
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const vsd: FieldCodec<DeviceVsd> = {
  read(r, f) {
    const raw = r.bytes(f, r.remaining);
    let end = raw.length;
    while (end > 0 && raw[end - 1] === 0) end--;
    let t: string | undefined;
    try {
      t = strictUtf8.decode(raw.subarray(0, end));
      if (CONTROL_CHARS.test(t)) t = undefined;
    } catch {
      t = undefined;
    }
    return { hex: toHex(raw), text: t };
  },
  write(w, v, name) {
    if (typeof v?.hex !== 'string' || v.hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v.hex)) throw new TypeError(`"${name}" expected hex bytes, got ${JSON.stringify(v)}`);
    w.bytes(fromHex(v.hex));
  },
};
const resumable: FieldCodec<ResumableDownload> = {
  read(r, f) {
    exactly(r, f, 48);
    const releaseDigest = toHex(r.bytes(`${f}.releaseDigest`, 32));
    const at = r.offset;
    const size = r.u64(`${f}.size`);
    const verified = r.u64(`${f}.verified`);
    if (verified > size) formatFail(`${f}.verified`, at + 8, `${verified} is past the image size ${size}`);
    return { releaseDigest, size, verified };
  },
  write(w, v, name) {
    hexBytes(32).write(w, v.releaseDigest, `${name}.releaseDigest`);
    aint(`${name}.size`, v.size, 0, Number.MAX_SAFE_INTEGER);
    aint(`${name}.verified`, v.verified, 0, v.size);
    w.u64(v.size).u64(v.verified);
  },
};
const attrs: FieldCodec<SecurityAttributes> = {
  read: (r, f) => securityAttributes(u32.read(r, f)),
  write: (w, v, name) => u32.write(w, v.raw, name),
};

/** Tag → field, in the order the firmware emits them (wasm/firmware/main.ts query()). */
const QUERY_FIELDS: readonly { tag: number; key: QueryKey; codec: FieldCodec<never> }[] = (
  [
    [QUERY_TAG.RUNNING_VERSION, 'fwVersionRunning', version],
    [QUERY_TAG.PENDING_VERSION, 'fwVersionPending', version],
    [QUERY_TAG.PSID, 'psid', ascii(1, 16)],
    [QUERY_TAG.DEVICE_ID, 'deviceId', u32],
    [QUERY_TAG.DESCRIPTION, 'description', text],
    [QUERY_TAG.PART_NUMBER, 'partNumber', text],
    [QUERY_TAG.SERIAL, 'serial', ascii(1, 255)],
    [QUERY_TAG.BASE_MAC, 'baseMac', hexBytes(6)],
    [QUERY_TAG.BASE_GUID, 'baseGuid', hexBytes(8)],
    [QUERY_TAG.SECURITY_ATTRIBUTES, 'securityAttributes', attrs],
    [QUERY_TAG.FUSED_SVN, 'efuseSecurityVer', u32],
    [QUERY_TAG.IMAGE_SVN, 'imageSecurityVer', u32],
    [QUERY_TAG.MIN_SVN, 'minSecurityVer', u32],
    [QUERY_TAG.KEY_IDS, 'keyIds', keyIds],
    [QUERY_TAG.FORBIDDEN_VERSIONS, 'forbiddenVersions', versions],
    [QUERY_TAG.PRODUCT, 'product', text],
    [QUERY_TAG.VENDOR, 'vendor', text],
    [QUERY_TAG.RELEASE_DATE, 'fwReleaseDate', seconds],
    [QUERY_TAG.BANKS, 'banks', banks],
    [QUERY_TAG.BANK_DIGESTS, 'bankDigests', digests],
    [QUERY_TAG.MAX_BLOCK, 'maxBlockSize', u32],
    [QUERY_TAG.MAX_COMPONENT_SIZE, 'maxComponentSize', u32],
    [QUERY_TAG.VSD, 'deviceVsd', vsd],
    [QUERY_TAG.BOOT_STATUS, 'bootStatus', u32],
    [QUERY_TAG.VERIFIABLE_ALGORITHMS, 'verifiableAlgorithms', u32],
    [QUERY_TAG.RESUMABLE_DOWNLOAD, 'resumable', resumable],
  ] as [number, QueryKey, FieldCodec<unknown>][]
).map(([tag, key, codec]) => ({ tag, key, codec: codec as FieldCodec<never> }));

const FIELD_BY_TAG = new Map(QUERY_FIELDS.map((f) => [f.tag, f]));

/** Decodes QUERY. Unknown tags are skipped (forward compatible); a known tag twice, a bad value or a length past the end is an error. */
export function decodeQuery(bytes: Uint8Array): DecodeResult<DeviceQuery> {
  return decodeWith(bytes, (r) => {
    const out: Record<string, unknown> = {};
    const unknown: UnknownTag[] = [];
    while (r.remaining > 0) {
      const at = r.offset;
      const tag = r.u8('query.tag');
      const f = FIELD_BY_TAG.get(tag);
      const field = f ? `query.${f.key}` : `query.tag${tag}`;
      const length = r.u16(`${field}.length`);
      if (length > r.remaining) formatFail(`${field}.length`, at + 1, `${length} runs past the end (${r.remaining} bytes left)`);
      const value = r.sub(field, length);
      if (!f) {
        unknown.push({ tag, offset: at, length });
        continue;
      }
      if (f.key in out) formatFail(field, at, `tag ${tag} appears twice`);
      out[f.key] = f.codec.read(value, field);
    }
    if (unknown.length) out.unknownTags = unknown;
    return out as DeviceQuery;
  });
}

/** Encodes a QUERY answer (the device's side; for replays, mocks and tests), tags in the firmware's order. */
export function encodeQuery(q: DeviceQuery): Uint8Array {
  const w = new ByteWriter();
  for (const f of QUERY_FIELDS) {
    const v = q[f.key];
    if (v === undefined) continue;
    w.u8(f.tag).u16(0);
    const start = w.length;
    f.codec.write(w, v as never, f.key);
    const len = w.length - start;
    if (len > 0xffff) throw new RangeError(`"${f.key}" expected at most 65535 encoded bytes, got ${len}`);
    w.patchU16(start - 2, len);
  }
  return w.finish();
}
