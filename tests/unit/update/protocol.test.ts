/**
 * The host's view of the device protocol (src/core/update/protocol.ts, mcc-codes.ts):
 *
 * - every encoder / decoder round-trips, and every decoder is total: thousands of random and
 *   mutated inputs give a value or a FormatError naming a field and an offset inside the input;
 * - the host's tables agree with the device's own numbers (wasm/firmware/codes.ts, main.ts);
 * - real parts: the emulated NIC running the real firmware (wasm/firmware, built by
 *   `npm run build:wasm`) manufactured with public/samples/factory.tfw (`npm run samples`). Its
 *   QUERY, STATUS and challenge bytes are decoded, re-encoded byte for byte and rendered as
 *   `flint q` (every cell of the MCC state × instruction table: tests/unit/device/mcc-table.test.ts).
 */
import { parseImage } from '../../../src/core/image/parse.ts';
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DFU_REQUEST, DFU_STATE, DFU_STATUS } from '../../../src/core/dfu/spec.ts';
import { DfuRequest as EmuDfuRequest, DfuState as EmuDfuState, DfuStatus as EmuDfuStatus } from '../../../src/emulator/usb/dfu-spec.ts';
import { MCC_INSTRUCTION as EmuMccInstruction, MCC_STATE as EmuMccState, REGISTER_STATUS as EmuRegisterStatus } from '../../../src/emulator/usb/mcc.ts';
import { VendorRequest as EmuVendorRequest } from '../../../src/emulator/usb/vendor.ts';
import { BOOT_STATUS as EmuBootStatus } from '../../../src/emulator/firmware.ts';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EmulatedNic } from '../../../src/emulator/nic.ts';
import type { NicFirmware } from '../../../src/emulator/firmware.ts';
import { BOOT_STATUS, CHALLENGE_SIZE, DATA_BLOCK_MAX, LAST_RESULT_KIND, MAINT_OP, STATUS_SIZE, TOKEN_BODY_SIZE, TOKEN_SIZE, VENDOR_REQUEST, VENDOR_REQUESTS, VENDOR_REQUEST_TYPE, decodeChallenge, decodeControl, decodeData, decodeLastResult, decodeStatus, encodeControl, encodeData, encodeToken, encodeTokenBody, tokenOps, vendorSetup, type DeviceStatus } from '../../../src/core/update/protocol.ts';
import { decodeToken, decodeTokenBody, encodeChallenge, encodeLastResult, encodeStatus } from './device-side-codec.ts';
import { QUERY_TAG, decodeQuery, encodeQuery, securityAttributes, type DeviceQuery } from '../../../src/core/update/query.ts';
import { flintVersion, renderFlintQuery, securityAttributesText } from '../../../src/core/update/flint.ts';
import { type DecodeResult } from '../../../src/core/update/codec.ts';
import {
  MCC_ERROR,
  MCC_ERRORS,
  MCC_INSTRUCTION,
  MCC_STATE,
  REG_STATUS,
  mccError,
  mccStateName,
  mstflintBurnError,
  regStatus,
} from '../../../src/core/update/mcc-codes.ts';

const ROOT = process.cwd();
const KEYS = join(ROOT, 'src/assets/demo-keys');
const sample = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ROOT, 'public/samples', name)));
const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const spkiOf = (name: string): Uint8Array => new Uint8Array(createPublicKey(readFileSync(join(KEYS, name, 'pubkey.pem'), 'utf8')).export({ type: 'spki', format: 'der' }));

function must<T>(r: DecodeResult<T>): T {
  if (!r.ok) throw new Error(`decode failed: ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

/** A reproducible PRNG (xorshift32), so a failing fuzz case can be replayed. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}
function randomBytes(next: (n: number) => number, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, () => next(256));
}

/** A decoder's answer is a value or a FormatError that names a field and points inside the input. */
function expectTotal<T>(decode: (b: Uint8Array) => DecodeResult<T>, bytes: Uint8Array): DecodeResult<T> {
  let r: DecodeResult<T>;
  try {
    r = decode(bytes);
  } catch (e) {
    throw new Error(`decoder threw on ${Buffer.from(bytes).toString('hex')}: ${String(e)}`);
  }
  if (!r.ok) {
    expect(r.error.field).toMatch(/^[a-zA-Z]/);
    expect(r.error.message.length).toBeGreaterThan(0);
    expect(r.error.offset).toBeGreaterThanOrEqual(0);
    expect(r.error.offset).toBeLessThanOrEqual(bytes.length);
  }
  return r;
}

// ---- a full QUERY, every tag ---------------------------------------------------------------------

const FULL_QUERY: DeviceQuery = {
  fwVersionRunning: '28.39.1002',
  fwVersionPending: '28.40.1000',
  psid: 'TF_0000000001',
  deviceId: 4129,
  description: 'TrustFlash emulated ConnectX NIC — 2-port',
  partNumber: 'TF-CX-EMU-100',
  serial: 'TFN0000001',
  baseMac: 'b8cef6000001',
  baseGuid: 'b8cef60300000001',
  securityAttributes: securityAttributes(0b1111),
  efuseSecurityVer: 2,
  imageSecurityVer: 3,
  minSecurityVer: 2,
  keyIds: ['11'.repeat(32), '22'.repeat(32)],
  forbiddenVersions: ['28.38.1000', '1.2.3'],
  product: 'Emulated ConnectX NIC firmware',
  vendor: 'TrustFlash Demo',
  fwReleaseDate: 1782864000,
  banks: { active: 0, pending: 1, lengths: [67639, 67728] },
  bankDigests: ['aa'.repeat(32), 'bb'.repeat(32)],
  maxBlockSize: 65536,
  maxComponentSize: 64 * 1024 * 1024,
  deviceVsd: { hex: '6c61622d3132', text: 'lab-12' },
  bootStatus: BOOT_STATUS.APPLIED_PENDING,
  verifiableAlgorithms: 0x1,
  resumable: { releaseDigest: 'cc'.repeat(32), size: 67820, verified: 35052 },
};

const STATUS: DeviceStatus = {
  state: MCC_STATE.DOWNLOAD,
  error: 0,
  result: REG_STATUS.OK,
  flags: 0b0101,
  handle: 0xabcdef,
  received: 4096,
  componentSize: 67728,
  expectedTotal: 67728,
  elapsedMs: 12,
  bootStatus: 0,
  handleOwned: true,
  pendingReset: false,
  booted: true,
  tokenActive: false,
};

describe('encoders and decoders round-trip', () => {
  it('STATUS (28 bytes)', () => {
    const bytes = encodeStatus(STATUS);
    expect(bytes.length).toBe(STATUS_SIZE);
    expect(Buffer.from(bytes).toString('hex')).toBe('030000' + '05' + 'efcdab00' + '00100000' + '90080100' + '90080100' + '0c000000' + '00000000');
    expect(must(decodeStatus(bytes))).toEqual(STATUS);
    // appended fields of a later firmware are ignored
    expect(must(decodeStatus(Uint8Array.from([...bytes, 1, 2, 3, 4])))).toEqual(STATUS);
    const flags = must(decodeStatus(encodeStatus({ ...STATUS, flags: 0b1010 })));
    expect([flags.handleOwned, flags.pendingReset, flags.booted, flags.tokenActive]).toEqual([false, true, false, true]);
  });

  it('STATUS truncated: the error names the missing field', () => {
    const r = decodeStatus(encodeStatus(STATUS).subarray(0, 27));
    expect(r).toEqual({ ok: false, reason: 'status at offset 0: is 27 bytes, expected 28', error: { field: 'status', offset: 0, message: 'is 27 bytes, expected 28' } });
  });

  it('CONTROL (12 bytes) and its caller checks', () => {
    const c = { instruction: MCC_INSTRUCTION.UPDATE_COMPONENT, handle: 0x123456, componentSize: 67728 };
    const bytes = encodeControl(c);
    expect(Buffer.from(bytes).toString('hex')).toBe('03000000' + '56341200' + '90080100');
    expect(must(decodeControl(bytes))).toEqual(c);
    expect(decodeControl(bytes.subarray(0, 11))).toMatchObject({ ok: false, error: { field: 'control' } });
    expect(() => encodeControl({ ...c, handle: -1 })).toThrow(RangeError);
    expect(() => encodeControl({ ...c, instruction: 1.5 })).toThrow(TypeError);
  });

  it('DATA (handle, offset, block)', () => {
    const block = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const bytes = encodeData({ handle: 7, offset: 4096, block });
    expect(bytes.length).toBe(308);
    expect(Buffer.from(bytes.subarray(0, 8)).toString('hex')).toBe('07000000' + '00100000');
    const d = must(decodeData(bytes));
    expect([d.handle, d.offset, [...d.block]]).toEqual([7, 4096, [...block]]);
    expect(encodeData({ handle: 1, offset: 0, block: new Uint8Array(DATA_BLOCK_MAX) }).length).toBe(0xffff);
    expect(() => encodeData({ handle: 1, offset: 0, block: new Uint8Array(DATA_BLOCK_MAX + 1) })).toThrow(RangeError);
    expect(() => encodeData({ handle: 1, offset: 0, block: new Uint8Array(0) })).toThrow(RangeError);
    expect(decodeData(bytes.subarray(0, 8))).toMatchObject({ ok: false, error: { field: 'data.block', offset: 8 } });
    expect(decodeData(bytes.subarray(0, 6))).toMatchObject({ ok: false, error: { field: 'data.offset', offset: 4 } });
  });

  it('token challenge (48 bytes)', () => {
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
    const bytes = encodeChallenge({ nonce, psid: 'TF_0000000001' });
    expect(bytes.length).toBe(CHALLENGE_SIZE);
    expect(Buffer.from(bytes.subarray(32)).toString('latin1')).toBe('TF_0000000001\0\0\0');
    const c = must(decodeChallenge(bytes));
    expect([[...c.nonce], c.psid]).toEqual([[...nonce], 'TF_0000000001']);
    const full16 = must(decodeChallenge(encodeChallenge({ nonce, psid: 'MT_0000000012ABC' })));
    expect(full16.psid).toBe('MT_0000000012ABC');
    // garbage after the PSID's terminating zero, an empty PSID, a non-printable byte
    const bad = bytes.slice();
    bad[46] = 0x41;
    expect(decodeChallenge(bad)).toMatchObject({ ok: false, error: { field: 'challenge.psid', offset: 46 } });
    expect(decodeChallenge(Uint8Array.from([...nonce, ...new Uint8Array(16)]))).toMatchObject({ ok: false, error: { field: 'challenge.psid', offset: 32, message: 'is empty' } });
    const ctl = bytes.slice();
    ctl[33] = 0x07;
    expect(decodeChallenge(ctl)).toMatchObject({ ok: false, error: { field: 'challenge.psid', offset: 33 } });
    expect(() => encodeChallenge({ nonce, psid: 'seventeen chars!!' })).toThrow(TypeError);
  });

  it('token body (60 bytes) and signed token (348 bytes)', () => {
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => i);
    const fields = { ops: tokenOps([MAINT_OP.SET_VSD]), seconds: 300, nonce, psid: 'TF_0000000001' };
    expect(fields.ops).toBe(0b100);
    const body = encodeTokenBody(fields);
    expect(body.length).toBe(TOKEN_BODY_SIZE);
    expect(Buffer.from(body.subarray(0, 12)).toString('hex')).toBe('5446544b' + '0100' + '0400' + '2c010000');
    const back = must(decodeTokenBody(body));
    expect({ ...back, nonce: [...back.nonce] }).toEqual({ ...fields, nonce: [...nonce] });
    const keyId = new Uint8Array(32).fill(0x5a);
    const signature = new Uint8Array(256).fill(0xc3);
    const token = encodeToken({ body, keyId, signature });
    expect(token.length).toBe(TOKEN_SIZE);
    const t = must(decodeToken(token));
    expect([[...t.body], [...t.keyId], [...t.signature], t.fields.psid]).toEqual([[...body], [...keyId], [...signature], 'TF_0000000001']);
    const wrongMagic = body.slice();
    wrongMagic[3] = 0x58;
    expect(decodeTokenBody(wrongMagic)).toMatchObject({ ok: false, error: { field: 'token.magic', offset: 0 } });
    const wrongVersion = body.slice();
    wrongVersion[4] = 2;
    expect(decodeTokenBody(wrongVersion)).toMatchObject({ ok: false, error: { field: 'token.version', offset: 4 } });
    expect(decodeToken(token.subarray(0, 347))).toMatchObject({ ok: false, error: { field: 'token' } });
  });

  it('LAST_RESULT', () => {
    const l = { request: VENDOR_REQUEST.CONTROL, kind: LAST_RESULT_KIND.MCC_ERROR, code: MCC_ERROR.REJECTED_FORBIDDEN_VERSION, reserved: 0, text: 'Forbidden version rejected (MCC error 0x0F)' };
    const bytes = encodeLastResult(l);
    expect([...bytes.subarray(0, 4)]).toEqual([0x42, 1, 0x0f, 0]);
    expect(must(decodeLastResult(bytes))).toEqual(l);
    expect(must(decodeLastResult(Uint8Array.from([0x45, 0, 6, 0])))).toEqual({ request: 0x45, kind: 0, code: 6, reserved: 0, text: '' });
    // a terminal escape in a device sentence is refused, at its offset
    expect(decodeLastResult(Uint8Array.from([0x42, 1, 2, 0, 0x41, 0x1b, 0x5b]))).toMatchObject({ ok: false, error: { field: 'lastResult.text', offset: 5 } });
    expect(decodeLastResult(Uint8Array.from([0x42, 1, 2, 0, 0xc3]))).toMatchObject({ ok: false, error: { field: 'lastResult.text', offset: 4, message: 'is not valid UTF-8' } });
    expect(decodeLastResult(Uint8Array.from([0x42, 1]))).toMatchObject({ ok: false, error: { field: 'lastResult.code', offset: 2 } });
  });

  it('QUERY: every tag', () => {
    const bytes = encodeQuery(FULL_QUERY);
    expect(must(decodeQuery(bytes))).toEqual(FULL_QUERY);
    expect(Buffer.from(encodeQuery(must(decodeQuery(bytes))))).toEqual(Buffer.from(bytes));
    expect(must(decodeQuery(new Uint8Array(0)))).toEqual({});
  });

  it('QUERY: an unknown tag is skipped, a known one twice or a length past the end is an error', () => {
    const base = encodeQuery({ psid: 'TF_0000000001' });
    const withUnknown = Uint8Array.from([200, 3, 0, 1, 2, 3, ...base, 99, 0, 0]);
    expect(must(decodeQuery(withUnknown))).toEqual({ psid: 'TF_0000000001', unknownTags: [{ tag: 200, offset: 0, length: 3 }, { tag: 99, offset: 6 + base.length, length: 0 }] });
    expect(decodeQuery(Uint8Array.from([...base, ...base]))).toMatchObject({ ok: false, error: { field: 'query.psid', offset: base.length, message: 'tag 3 appears twice' } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.DEVICE_ID, 5, 0, 1, 2, 3, 4]))).toMatchObject({ ok: false, error: { field: 'query.deviceId.length', offset: 1, message: '5 runs past the end (4 bytes left)' } });
    expect(decodeQuery(Uint8Array.from([200, 9, 0, 1]))).toMatchObject({ ok: false, error: { field: 'query.tag200.length', offset: 1 } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.DEVICE_ID, 3, 0, 1, 2, 3]))).toMatchObject({ ok: false, error: { field: 'query.deviceId', offset: 3, message: 'is 3 bytes, expected 4' } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.KEY_IDS, 31, 0, ...new Uint8Array(31)]))).toMatchObject({ ok: false, error: { field: 'query.keyIds' } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.BANKS, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toMatchObject({ ok: false, error: { field: 'query.banks.pending', offset: 4 } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.PSID, 2, 0, 0x41, 0x0a]))).toMatchObject({ ok: false, error: { field: 'query.psid', offset: 4 } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.DESCRIPTION, 2, 0, 0x41, 0x1b]))).toMatchObject({ ok: false, error: { field: 'query.description', offset: 4 } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.RELEASE_DATE, 8, 0, 0, 0, 0, 0, 0, 0, 0x20, 0]))).toMatchObject({ ok: false, error: { field: 'query.fwReleaseDate' } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.PSID]))).toMatchObject({ ok: false, error: { field: 'query.psid.length', offset: 1 } });
    expect(decodeQuery(Uint8Array.from([QUERY_TAG.VERIFIABLE_ALGORITHMS, 2, 0, 1, 0]))).toMatchObject({ ok: false, error: { field: 'query.verifiableAlgorithms', message: 'is 2 bytes, expected 4' } });
    expect(QUERY_TAG.VERIFIABLE_ALGORITHMS).toBe(25);
    // tag 26 (issue #13): digest[32] ‖ size u64 ‖ verified u64, and verified never past the size
    expect(QUERY_TAG.RESUMABLE_DOWNLOAD).toBe(26);
    const resumable = (size: number, verified: number) => {
      const v = new Uint8Array(48).fill(0xcc);
      const dv = new DataView(v.buffer);
      dv.setBigUint64(32, BigInt(size), true);
      dv.setBigUint64(40, BigInt(verified), true);
      return Uint8Array.from([QUERY_TAG.RESUMABLE_DOWNLOAD, 48, 0, ...v]);
    };
    expect(must(decodeQuery(resumable(67820, 35052))).resumable).toEqual({ releaseDigest: 'cc'.repeat(32), size: 67820, verified: 35052 });
    expect(decodeQuery(resumable(100, 101))).toMatchObject({ ok: false, error: { field: 'query.resumable.verified', offset: 3 + 40, message: '101 is past the image size 100' } });
    expect(decodeQuery(resumable(100, 50).subarray(0, 50).map((b, i) => (i === 1 ? 47 : b)))).toMatchObject({ ok: false, error: { field: 'query.resumable', message: 'is 47 bytes, expected 48' } });
  });

  it('QUERY: a VSD that is not text is kept as hex', () => {
    const q = must(decodeQuery(Uint8Array.from([QUERY_TAG.VSD, 3, 0, 0xff, 0x00, 0x01])));
    expect(q.deviceVsd).toEqual({ hex: 'ff0001', text: undefined });
    expect(must(decodeQuery(Uint8Array.from([QUERY_TAG.VSD, 4, 0, 0x61, 0x62, 0, 0]))).deviceVsd).toEqual({ hex: '61620000', text: 'ab' });
  });

  it('vendor request table', () => {
    expect(VENDOR_REQUEST_TYPE).toEqual({ OUT: 0x41, IN: 0xc1 });
    expect(Object.values(VENDOR_REQUEST)).toEqual([0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b]);
    const dirs = Object.fromEntries(Object.entries(VENDOR_REQUESTS).map(([k, v]) => [k, v.direction]));
    expect(dirs).toEqual({ QUERY: 'in', STATUS: 'in', CONTROL: 'out', DATA: 'out', READ: 'in', MAINT: 'out', TOKEN_CHALLENGE: 'in', TOKEN_APPLY: 'out', LAST_RESULT: 'in', RESET: 'out', RECEIPT_REQUEST: 'out', RECEIPT: 'in' });
    for (const [k, v] of Object.entries(VENDOR_REQUESTS)) expect(v.bRequest).toBe(VENDOR_REQUEST[k as keyof typeof VENDOR_REQUEST]);
    expect(vendorSetup('READ', 1, 3)).toEqual({ requestType: 'vendor', recipient: 'interface', request: 0x44, value: 3, index: 1 });
    expect(() => vendorSetup('MAINT', 256)).toThrow(RangeError);
  });
});

describe('decoders are total', () => {
  const decoders: [string, (b: Uint8Array) => DecodeResult<unknown>, number][] = [
    ['STATUS', decodeStatus, 40],
    ['QUERY', decodeQuery, 600],
    ['CONTROL', decodeControl, 16],
    ['DATA', decodeData, 64],
    ['challenge', decodeChallenge, 60],
    ['token body', decodeTokenBody, 70],
    ['token', decodeToken, 360],
    ['LAST_RESULT', decodeLastResult, 80],
  ];

  it.each(decoders)('%s: 3000 random inputs', (_name, decode, maxLen) => {
    const next = rng(0x5eed ^ maxLen);
    let ok = 0;
    for (let i = 0; i < 3000; i++) if (expectTotal(decode, randomBytes(next, next(maxLen + 1))).ok) ok++;
    // some random inputs must decode, or the test exercises only the first check
    if (decode !== decodeChallenge && decode !== decodeTokenBody && decode !== decodeToken) expect(ok).toBeGreaterThan(0);
  });

  it('QUERY: random TLV streams (valid framing, random tags and values)', () => {
    const next = rng(42);
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const parts: number[] = [];
      for (let n = next(6); n > 0; n--) {
        const len = next(3) === 0 ? next(70) : [0, 1, 4, 6, 8, 10, 32, 64][next(8)]!;
        parts.push(1 + next(30), len & 0xff, len >> 8, ...randomBytes(next, len));
      }
      if (expectTotal(decodeQuery, Uint8Array.from(parts)).ok) ok++;
    }
    expect(ok).toBeGreaterThan(100);
  });

  it('valid messages: every truncation and 2000 byte flips', () => {
    const next = rng(7);
    const good: [(b: Uint8Array) => DecodeResult<unknown>, Uint8Array][] = [
      [decodeQuery, encodeQuery(FULL_QUERY)],
      [decodeStatus, encodeStatus(STATUS)],
      [decodeChallenge, encodeChallenge({ nonce: new Uint8Array(32), psid: 'TF_1' })],
      [decodeToken, encodeToken({ body: encodeTokenBody({ ops: 4, seconds: 1, nonce: new Uint8Array(32), psid: 'TF_1' }), keyId: new Uint8Array(32), signature: new Uint8Array(256) })],
      [decodeLastResult, encodeLastResult({ request: 0x47, kind: 1, code: 5, reserved: 0, text: 'Rejected authentication' })],
    ];
    for (const [decode, bytes] of good) {
      for (let n = 0; n <= bytes.length; n++) expectTotal(decode, bytes.subarray(0, n));
      for (let i = 0; i < 2000; i++) {
        const m = bytes.slice();
        for (let k = 1 + next(3); k > 0; k--) m[next(m.length)] = next(256);
        expectTotal(decode, m);
      }
    }
  });
});

describe('host tables', () => {
  it('MCC error codes 0x00..0x33, each with mstflint text, a sentence and an action', () => {
    expect(MCC_ERRORS.map((e) => e.code)).toEqual(Array.from({ length: 0x34 }, (_, i) => i));
    for (const e of MCC_ERRORS) {
      expect(e.sentence).toMatch(/^[A-Z].*\.$/);
      expect(e.action).toMatch(/^[A-Z].*\.$/);
    }
    expect(mccError(0x0f)).toMatchObject({
      name: 'REJECTED_FORBIDDEN_VERSION',
      mstflint: 'Forbidden version rejected',
      sentence: 'The device refuses this firmware version: it is on the forbidden list of the firmware it runs.',
      action: 'Choose another release.',
    });
    expect(mccError(0x09).mstflint).toBe('The firmware image was already updated on flash, pending reset.');
    expect(mccError(0x02).linux).toBe('component hash mismatch');
    // mstflint's getLastErrMsg has no case for these: it prints its default
    for (const c of [0x04, 0x08, 0x32, 0x33]) expect(mccError(c)).toMatchObject({ mstflint: 'GENERAL ERROR', mstflintHasText: false });
    expect(mccError(0x99)).toMatchObject({ name: 'UNKNOWN_ERROR_0x99', mstflint: 'GENERAL ERROR' });
    expect(mstflintBurnError(0x0f)).toBe('-E- Burning FS4 image failed: Forbidden version rejected');
  });

  it('register-access statuses with their mstflint texts', () => {
    expect(regStatus(REG_STATUS.BAD_PARAM).mstflint).toBe('Register access bad parameter');
    expect(regStatus(REG_STATUS.RES_NOT_AVLBL).mstflint).toBe('Register access resource unavailable');
    expect(regStatus(REG_STATUS.DEV_BUSY).mstflint).toBe('Register access failed, device is busy');
    expect(regStatus(REG_STATUS.METHOD_NOT_SUPP).mstflint).toBe('Register access Method not supported');
    expect(regStatus(0x70).mstflint).toBe('Firmware internal error');
    expect(regStatus(0x55)).toMatchObject({ mstflint: 'Unknown register error' });
  });

  it("match the emulator's own tables number for number (DFU class, MCC, vendor requests, boot status)", () => {
    // the host core and the device side each define these once; every name the device uses has
    // the host's number, and the host's extra names (spec entries this device never uses) are named
    const same = (host: Record<string, number>, device: Record<string, number>, what: string, hostOnly: string[] | 'the spec table' = []) => {
      for (const [name, value] of Object.entries(device)) expect(host[name], `${what}: ${name}`).toBe(value);
      if (hostOnly !== 'the spec table') expect(Object.keys(host).filter((n) => !(n in device)).sort(), `${what}: names only the host has`).toEqual(hostOnly.sort());
    };
    same(DFU_STATE, EmuDfuState, 'DFU bState');
    same(DFU_STATUS, EmuDfuStatus, 'DFU bStatus');
    same(DFU_REQUEST, EmuDfuRequest, 'DFU requests');
    same(MCC_STATE, EmuMccState, 'MCC states', ['DOWNSTREAM_DEVICE_TRANSFER']); // LinkX cables only
    same(MCC_INSTRUCTION, EmuMccInstruction, 'MCC instructions', ['ACTIVATE_COMPONENT', 'DOWNSTREAM_DEVICE_TRANSFER']); // a NIC activates with ACTIVATE; LinkX only
    // the host decodes every status of mstflint's table (§1.8); the device answers with a few of them
    same(REG_STATUS, EmuRegisterStatus, 'register-access statuses', 'the spec table');
    same(VENDOR_REQUEST, EmuVendorRequest, 'vendor requests');
    same(BOOT_STATUS, EmuBootStatus, 'boot statuses');
  });

  it("match the device's own numbers (wasm/firmware/codes.ts, main.ts)", () => {
    const codes = readFileSync(join(ROOT, 'wasm/firmware/codes.ts'), 'utf8');
    const consts = [...codes.matchAll(/export const (\w+): u32 = (0x[0-9a-f]+|\d+);/gi)].map(([, n, v]) => [n!, Number(v)] as const);
    expect(consts.length).toBeGreaterThan(30);
    for (const [name, value] of consts) {
      const [prefix, ...rest] = name.split('_');
      const base = rest.join('_');
      if (prefix === 'ST') expect(MCC_STATE[base as keyof typeof MCC_STATE], name).toBe(value);
      else if (prefix === 'CMD') expect(MCC_INSTRUCTION[base as keyof typeof MCC_INSTRUCTION], name).toBe(value);
      else if (prefix === 'R') expect(REG_STATUS[base as keyof typeof REG_STATUS], name).toBe(value);
      else if (prefix === 'E') {
        const row = MCC_ERRORS.find((e) => e.name === base || e.name.endsWith(`_${base}`));
        expect(row?.code, name).toBe(value);
      } else throw new Error(`unexpected constant ${name}`);
    }
    // the codes the firmware actually reports are the ones marked emittedByEmulator
    const used = new Set<number>();
    for (const f of ['main.ts', 'update.ts', 'download.ts', 'journal.ts', 'policy.ts', 'payload.ts', 'boot.ts', 'device.ts', 'image.ts']) {
      for (const [, n] of readFileSync(join(ROOT, 'wasm/firmware', f), 'utf8').matchAll(/C\.(E_\w+)/g)) used.add(consts.find(([c]) => c === n)![1]);
    }
    expect(MCC_ERRORS.filter((e) => e.emittedByEmulator).map((e) => e.code)).toEqual([...used].sort((a, b) => a - b));
    const main = readFileSync(join(ROOT, 'wasm/firmware/main.ts'), 'utf8');
    for (const [, n, v] of main.matchAll(/export const BOOT_(\w+): u32 = (\d+);/g)) expect(BOOT_STATUS[n as keyof typeof BOOT_STATUS], n).toBe(Number(v));
    for (const [, n, v] of main.matchAll(/export const MAINT_(\w+): u32 = (\d+);/g)) expect(MAINT_OP[n as keyof typeof MAINT_OP], n).toBe(Number(v));
  });

  it('flint formatting helpers', () => {
    expect(flintVersion('28.39.1002')).toBe('28.39.1002');
    expect(flintVersion('16.35.5')).toBe('16.35.0005');
    expect(flintVersion('2.100.7')).toBe('2.0100.0007');
    expect(securityAttributesText(securityAttributes(0b0011))).toBe('secure-fw');
    expect(securityAttributesText(securityAttributes(0b1111))).toBe('secure-fw, dev, cs-token');
    expect(securityAttributesText(securityAttributes(0b0110))).toBe('signed-fw, dev');
    expect(securityAttributesText(securityAttributes(0b1100))).toBe('N/A');
  });
});

// ---- the real firmware ------------------------------------------------------------------------

describe('what the real firmware produces', () => {
  let factoryImage: Uint8Array;
  let good: Uint8Array;

  beforeAll(() => {
    factoryImage = sample('factory.tfw');
    good = sample('good.tfw');
  });

  const status = (fw: NicFirmware): DeviceStatus => must(decodeStatus(fw.statusBytes()));
  const query = (fw: NicFirmware): DeviceQuery => must(decodeQuery(fw.queryBytes()));

  /** QUERY → LOCK → UPDATE_COMPONENT → DATA blocks → VERIFY → ACTIVATE → RELEASE; returns the last rejection (0 = none). */
  function update(fw: NicFirmware, image: Uint8Array, blockSize = 4096): { error: number; atOffset: number } {
    expect(fw.mcc(MCC_INSTRUCTION.QUERY, 0, 0)).toBe(REG_STATUS.OK);
    const handle = status(fw).handle;
    expect(fw.mcc(MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, handle, 0)).toBe(REG_STATUS.OK);
    try {
      expect(fw.mcc(MCC_INSTRUCTION.UPDATE_COMPONENT, handle, image.length)).toBe(REG_STATUS.OK);
      const refused = status(fw).error;
      if (refused) return { error: refused, atOffset: -1 };
      for (let off = 0; off < image.length; off += blockSize) {
        const d = must(decodeData(encodeData({ handle, offset: off, block: image.subarray(off, off + blockSize) })));
        expect(fw.writeBlock(d.handle, d.offset, d.block)).toBe(REG_STATUS.OK);
        const e = status(fw).error;
        if (e) return { error: e, atOffset: off };
      }
      for (const i of [MCC_INSTRUCTION.VERIFY_COMPONENT, MCC_INSTRUCTION.ACTIVATE]) {
        expect(fw.mcc(i, handle, 0)).toBe(REG_STATUS.OK);
        const e = status(fw).error;
        if (e) return { error: e, atOffset: image.length };
      }
      return { error: 0, atOffset: image.length };
    } finally {
      fw.mcc(MCC_INSTRUCTION.CANCEL, handle, 0);
      fw.mcc(MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, handle, 0);
    }
  }

  it('QUERY of a factory-fresh NIC', async () => {
    const nic = await EmulatedNic.create({ factoryImage });
    const bytes = nic.firmware.queryBytes();
    const q = must(decodeQuery(bytes));
    expect(q.fwVersionRunning).toBe('28.39.1002');
    expect(q.fwVersionPending).toBeUndefined();
    expect(q.psid).toBe('TF_0000000001');
    expect(q.deviceId).toBe(4129);
    expect(q.efuseSecurityVer).toBe(2);
    expect(q.imageSecurityVer).toBe(2);
    expect(q.keyIds).toEqual([sha256hex(spkiOf('signer')), sha256hex(spkiOf('next-signer'))]);
    expect(q.forbiddenVersions).toEqual(['28.38.1000']);
    expect(q).toMatchObject({
      description: 'TrustFlash emulated ConnectX NIC, 2-port 100GbE, secure firmware',
      partNumber: 'TF-CX-EMU-100',
      baseMac: 'b8cef6000001',
      baseGuid: 'b8cef60300000001',
      securityAttributes: { secureFw: true, signedFw: true, dev: false, csToken: false },
      // the factory image in both banks (the golden copy, protocol §8.1)
      banks: { active: 0, pending: null, lengths: [factoryImage.length, factoryImage.length] },
      bankDigests: [sha256hex(factoryImage), sha256hex(factoryImage)],
      fwReleaseDate: Date.parse('2026-07-01T00:00:00Z') / 1000,
      maxBlockSize: 65536,
      maxComponentSize: 64 * 1024 * 1024,
      bootStatus: BOOT_STATUS.OK,
      verifiableAlgorithms: 1,
    });
    expect(q.serial).toMatch(/^TFN\d{7}$/);
    // every tag the firmware writes is one the host decodes (tag 25 included: protocol §4.1)
    expect(q.unknownTags ?? []).toEqual([]);
    // byte for byte: the host's encoder writes what the firmware wrote
    expect(Buffer.from(encodeQuery(q)).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
  });

  it('`flint q` rendering', async () => {
    const nic = await EmulatedNic.create({ factoryImage });
    const q = query(nic.firmware);
    expect(renderFlintQuery(q)).toBe(
      [
        'FW Version:            28.39.1002',
        'FW Release Date:       1.7.2026',
        'Base GUID:             b8cef60300000001',
        'Base MAC:              b8cef6000001',
        'Image VSD:             N/A',
        'Device VSD:            N/A',
        'PSID:                  TF_0000000001',
        'Security Attributes:   secure-fw',
      ].join('\n'),
    );
    for (const l of renderFlintQuery(q, { full: true }).split('\n')) expect(l).toMatch(/^[A-Za-z ()]+: +\S/);
    expect(renderFlintQuery(q, { full: true })).toContain('\nEFUSE Security Ver:    2\nImage Security Ver:    2\nSecurity Ver Program:  Automatically');
    // after an update: "FW Version" is the pending one, "FW Version(Running)" the old (mstfwreset parses exactly this)
    expect(update(nic.firmware, good)).toEqual({ error: 0, atOffset: good.length });
    const p = query(nic.firmware);
    expect([p.fwVersionRunning, p.fwVersionPending, p.banks?.pending]).toEqual(['28.39.1002', '28.40.1000', 1]);
    expect(renderFlintQuery(p).split('\n').slice(0, 3)).toEqual(['FW Version:            28.40.1000', 'FW Version(Running):   28.39.1002', 'Base GUID:             b8cef60300000001']);
    expect(status(nic.firmware).pendingReset).toBe(true);
    expect(await nic.reset()).toBe(BOOT_STATUS.APPLIED_PENDING);
    const after = query(nic.firmware);
    expect([after.fwVersionRunning, after.fwVersionPending, after.banks, after.bootStatus]).toEqual(['28.40.1000', undefined, { active: 1, pending: null, lengths: [factoryImage.length, good.length] }, BOOT_STATUS.APPLIED_PENDING]);
    expect(renderFlintQuery(after).split('\n')[0]).toBe('FW Version:            28.40.1000');
  });

  it('STATUS after an MCC QUERY: IDLE with a 24-bit handle offered', async () => {
    const nic = await EmulatedNic.create({ factoryImage });
    const fw = nic.firmware;
    const before = status(fw);
    expect(before).toMatchObject({ state: MCC_STATE.IDLE, handle: 0, handleOwned: false, booted: true, bootStatus: BOOT_STATUS.OK });
    expect(fw.mcc(MCC_INSTRUCTION.QUERY, 0, 0)).toBe(REG_STATUS.OK);
    const bytes = fw.statusBytes();
    expect(bytes.length).toBe(STATUS_SIZE);
    const s = must(decodeStatus(bytes));
    expect(mccStateName(s.state)).toBe('IDLE');
    expect(s.handle).toBeGreaterThan(0);
    expect(s.handle).toBeLessThanOrEqual(0xffffff);
    expect(s).toMatchObject({ error: 0, result: REG_STATUS.OK, handleOwned: false, pendingReset: false, booted: true, tokenActive: false });
    // the emulator's own reading of the same bytes agrees
    const raw = fw.status();
    expect({ ...raw }).toEqual({ state: s.state, error: s.error, result: s.result, flags: s.flags, handle: s.handle, received: s.received, componentSize: s.componentSize, expectedTotal: s.expectedTotal, elapsedMs: s.elapsedMs, bootStatus: s.bootStatus });
    expect(Buffer.from(encodeStatus(s))).toEqual(Buffer.from(bytes));
    // LOCK with it, then a download in progress
    expect(fw.mcc(MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, s.handle, 0)).toBe(REG_STATUS.OK);
    expect(fw.mcc(MCC_INSTRUCTION.UPDATE_COMPONENT, s.handle, good.length)).toBe(REG_STATUS.OK);
    expect(fw.writeBlock(s.handle, 0, good.subarray(0, 8192))).toBe(REG_STATUS.OK);
    expect(status(fw)).toMatchObject({ state: MCC_STATE.DOWNLOAD, handle: s.handle, handleOwned: true, received: 8192, componentSize: good.length, expectedTotal: good.length, error: 0 });
  });

  it("each sample's rejection, and where in the flow the device gives it", async () => {
    const cases: [file: string, code: number, when: 'head' | 'block' | 'verify' | 'accepted'][] = [
      ['good.tfw', 0, 'accepted'],
      ['unsigned.tfw', MCC_ERROR.REJECTED_UNSIGNED, 'head'],
      ['unknown-key.tfw', MCC_ERROR.REJECTED_UNKNOWN_KEY, 'head'],
      ['untrusted-chain.tfw', MCC_ERROR.REJECTED_UNKNOWN_KEY, 'head'],
      ['tampered-manifest.tfw', MCC_ERROR.REJECTED_AUTH_FAILED, 'head'],
      ['wrong-psid.tfw', MCC_ERROR.REJECTED_NOT_APPLICABLE, 'head'],
      ['not-secured.tfw', MCC_ERROR.REJECTED_NOT_A_SECURED_FW, 'head'],
      ['forbidden-version.tfw', MCC_ERROR.REJECTED_FORBIDDEN_VERSION, 'head'],
      ['downgrade.tfw', MCC_ERROR.FW_BURN_REJECTED_INVALID_SECURITY_VERSION, 'head'],
      // format v2: refused by the DATA write that completes hash block 2, where the flipped bit is
      ['tampered-payload.tfw', MCC_ERROR.REJECTED_DIGEST_ERR, 'block'],
      // the device has no trusted clock: expiry is the host's check (docs/protocol.md)
      ['expired.tfw', 0, 'accepted'],
    ];
    for (const [file, code, when] of cases) {
      const nic = await EmulatedNic.create({ factoryImage });
      const image = sample(file);
      const r = update(nic.firmware, image);
      expect([file, r.error]).toEqual([file, code]);
      if (when === 'head') expect([file, r.atOffset]).toEqual([file, 0]);
      if (when === 'block') {
        const h = parseImage(image);
        const blockEnd = h.ok ? h.value.payloadOffset + 3 * h.value.manifest.hashBlockSize! : 0;
        expect([file, r.atOffset]).toEqual([file, Math.floor((blockEnd - 1) / 4096) * 4096]);
      }
      if (when === 'verify' || when === 'accepted') expect([file, r.atOffset]).toEqual([file, image.length]);
      // after CANCEL + RELEASE the FSM is IDLE again, and the last error stays readable until the next LOCK
      expect(status(nic.firmware)).toMatchObject({ state: MCC_STATE.IDLE, error: code, handleOwned: false });
    }
  });

  it('CS token: challenge, a token signed by an embedded key, SET_VSD unlocked, raw flash still closed', async () => {
    const nic = await EmulatedNic.create({ factoryImage });
    const fw = nic.firmware;
    expect(fw.maint(MAINT_OP.SET_VSD, new Uint8Array([0x61]))).toBe(REG_STATUS.METHOD_NOT_SUPP);
    const ch = must(decodeChallenge(fw.tokenChallenge()));
    expect(ch.psid).toBe('TF_0000000001');
    const body = encodeTokenBody({ ops: tokenOps([MAINT_OP.SET_VSD, MAINT_OP.RAW_FLASH_WRITE, MAINT_OP.ROM_BURN]), seconds: 3600, nonce: ch.nonce, psid: ch.psid });
    const key = createPrivateKey(readFileSync(join(KEYS, 'signer/key.pem'), 'utf8'));
    const signature = new Uint8Array(sign('sha256', body, key));
    const keyId = createHash('sha256').update(spkiOf('signer')).digest();
    const token = encodeToken({ body, keyId, signature });
    // a token signed by a key the running image does not embed
    const rogue = createPrivateKey(readFileSync(join(KEYS, 'rogue-signer/key.pem'), 'utf8'));
    const rogueId = createHash('sha256').update(createPublicKey(rogue).export({ type: 'spki', format: 'der' })).digest();
    expect(fw.tokenApply(encodeToken({ body, keyId: rogueId, signature: new Uint8Array(sign('sha256', body, rogue)) }))).toBe(MCC_ERROR.REJECTED_UNKNOWN_KEY);
    // a forged signature by the right key id
    const forged = token.slice();
    forged[TOKEN_SIZE - 1]! ^= 1;
    expect(fw.tokenApply(forged)).toBe(MCC_ERROR.REJECTED_AUTH_FAILED);
    expect(fw.tokenApply(token)).toBe(MCC_ERROR.OK);
    // one answer per challenge
    expect(fw.tokenApply(token)).toBe(MCC_ERROR.REJECTED_NO_DEBUG_TOKEN);
    expect(status(fw).tokenActive).toBe(true);
    expect(securityAttributesText(query(fw).securityAttributes!)).toBe('secure-fw, cs-token');
    expect(fw.maint(MAINT_OP.SET_VSD, new TextEncoder().encode('lab bench 12'))).toBe(REG_STATUS.OK);
    expect(query(fw).deviceVsd).toEqual({ hex: Buffer.from('lab bench 12').toString('hex'), text: 'lab bench 12' });
    expect(renderFlintQuery(query(fw))).toContain('\nDevice VSD:            lab bench 12\n');
    // the token asked for raw flash and ROM burn too: they stay closed
    expect(fw.maint(MAINT_OP.RAW_FLASH_WRITE, new Uint8Array(4))).toBe(REG_STATUS.METHOD_NOT_SUPP);
    expect(fw.maint(MAINT_OP.ROM_BURN, new Uint8Array(4))).toBe(REG_STATUS.METHOD_NOT_SUPP);
    expect(fw.maint(9)).toBe(REG_STATUS.BAD_PARAM);
  });

  it('challenge and token answers of the real firmware are total under the decoders', async () => {
    const nic = await EmulatedNic.create({ factoryImage });
    for (let i = 0; i < 20; i++) expect(decodeChallenge(nic.firmware.tokenChallenge()).ok).toBe(true);
    const q = nic.firmware.queryBytes();
    for (let n = 0; n < q.length; n++) {
      const r = expectTotal(decodeQuery, q.subarray(0, n));
      if (!r.ok) expect(r.error.field).toMatch(/^query\./);
    }
  });

  // ---- MCC flow details (every state × instruction cell: tests/unit/device/mcc-table.test.ts) -----

  type StateName = 'IDLE' | 'LOCKED' | 'INITIALIZE' | 'DOWNLOAD' | 'UPLOAD' | 'UPLOAD_PENDING';
  const I = MCC_INSTRUCTION;

  let withPending: Awaited<ReturnType<EmulatedNic['snapshot']>>;
  beforeAll(async () => {
    const nic = await EmulatedNic.create({ factoryImage });
    expect(update(nic.firmware, good).error).toBe(0);
    withPending = nic.snapshot();
  });

  /** A NIC in `state`, on a clock that stands still (so INITIALIZE lasts), with the handle that owns it. */
  async function nicIn(state: StateName): Promise<{ fw: NicFirmware; handle: number; clock: { t: number } }> {
    const clock = { t: 1000 };
    const nic = state === 'UPLOAD_PENDING' ? await EmulatedNic.create({ state: withPending, clock: () => clock.t }) : await EmulatedNic.create({ factoryImage, clock: () => clock.t, timing: state === 'INITIALIZE' ? 'full-speed' : 'instant' });
    const fw = nic.firmware;
    expect(fw.mcc(I.QUERY, 0, 0)).toBe(0);
    const handle = status(fw).handle;
    if (state !== 'IDLE') expect(fw.mcc(I.LOCK_UPDATE_HANDLE, handle, 0)).toBe(0);
    if (state === 'INITIALIZE') expect(fw.mcc(I.UPDATE_COMPONENT, handle, good.length)).toBe(0); // 67724 bytes: 17 sectors × 0.5 ms = 8.5 ms of erase
    if (state === 'DOWNLOAD') expect(fw.mcc(I.UPDATE_COMPONENT, handle, good.length)).toBe(0);
    if (state === 'UPLOAD') expect(fw.mcc(I.READ_COMPONENT, handle, 0)).toBe(0);
    if (state === 'UPLOAD_PENDING') expect(fw.mcc(I.READ_PENDING_COMPONENT, handle, 0)).toBe(0);
    expect(mccStateName(status(fw).state)).toBe(state);
    return { fw, handle, clock };
  }

  it('INITIALIZE ends when the erase time has passed; the handle times out after 60 s without a command', async () => {
    const { fw, handle, clock } = await nicIn('INITIALIZE');
    clock.t += 8;
    expect(status(fw).state).toBe(MCC_STATE.INITIALIZE);
    clock.t += 1;
    expect(status(fw).state).toBe(MCC_STATE.DOWNLOAD);
    expect(fw.writeBlock(handle, 0, good.subarray(0, 4096))).toBe(REG_STATUS.OK);
    clock.t += 60_000;
    expect(status(fw)).toMatchObject({ state: MCC_STATE.DOWNLOAD, elapsedMs: 60_000, handleOwned: true });
    clock.t += 1;
    expect(status(fw)).toMatchObject({ state: MCC_STATE.IDLE, handleOwned: false, received: 0, error: 0, elapsedMs: 0 });
    expect(fw.mcc(I.CHECK_UPDATE_HANDLE, handle, 0)).toBe(REG_STATUS.BAD_PARAM);
  });

  it('a pending image blocks the next update (0x09) until re-activation (0x20) undoes it', async () => {
    const nic = await EmulatedNic.create({ state: withPending });
    const fw = nic.firmware;
    expect(status(fw).pendingReset).toBe(true);
    expect(query(fw).fwVersionPending).toBe('28.40.1000');
    expect(update(fw, good).error).toBe(MCC_ERROR.BLOCKED_PENDING_RESET);
    // re-activation takes the owner's handle in LOCKED (protocol §9)
    expect(fw.mcc(I.REACTIVATE_PREVIOUS, 0, 0)).toBe(REG_STATUS.BAD_PARAM);
    expect(fw.mcc(I.QUERY, 0, 0)).toBe(REG_STATUS.OK);
    const h = status(fw).handle;
    expect(fw.mcc(I.LOCK_UPDATE_HANDLE, h, 0)).toBe(REG_STATUS.OK);
    expect(fw.mcc(I.REACTIVATE_PREVIOUS, h, 0)).toBe(REG_STATUS.OK);
    expect(status(fw)).toMatchObject({ error: 0, pendingReset: false });
    expect(fw.mcc(I.RELEASE_UPDATE_HANDLE, h, 0)).toBe(REG_STATUS.OK);
    const q = query(fw);
    expect([q.fwVersionPending, q.banks?.pending]).toEqual([undefined, null]);
    expect(await nic.reset()).toBe(BOOT_STATUS.OK);
    expect(query(nic.firmware).fwVersionRunning).toBe('28.39.1002');
  });
});
