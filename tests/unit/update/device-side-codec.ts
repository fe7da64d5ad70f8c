/**
 * The device's side of the vendor messages, written for the tests: STATUS, the token challenge and
 * LAST_RESULT as a device encodes them, the token as a device decodes it. The host (src/core)
 * carries only what a host sends and reads; these let the tests round-trip its decoders.
 */
import { abytes, aint } from '../../../src/core/bytes/assert.ts';
import { ByteReader, formatFail } from '../../../src/core/bytes/reader.ts';
import { ByteWriter } from '../../../src/core/bytes/writer.ts';
import { CONTROL_CHARS, decodeWith, utf8, type DecodeResult } from '../../../src/core/update/codec.ts';
import { NONCE_SIZE, PSID_FIELD_SIZE, TOKEN_BODY_SIZE, TOKEN_KEY_ID_SIZE, TOKEN_MAGIC, TOKEN_SIGNATURE_SIZE, TOKEN_SIZE, TOKEN_VERSION, LAST_RESULT_TEXT_MAX, paddedAscii, writePaddedPsid, type LastResult, type SignedToken, type StatusFields, type TokenBody, type TokenChallenge } from '../../../src/core/update/protocol.ts';

export function encodeStatus(s: StatusFields): Uint8Array {
  for (const k of ['state', 'error', 'result', 'flags'] as const) aint(k, s[k], 0, 0xff);
  for (const k of ['handle', 'received', 'componentSize', 'expectedTotal', 'elapsedMs', 'bootStatus'] as const) aint(k, s[k], 0, 0xffffffff);
  return new ByteWriter().u8(s.state).u8(s.error).u8(s.result).u8(s.flags).u32(s.handle).u32(s.received).u32(s.componentSize).u32(s.expectedTotal).u32(s.elapsedMs).u32(s.bootStatus).finish();
}

export function encodeChallenge(c: TokenChallenge): Uint8Array {
  abytes('nonce', c.nonce, NONCE_SIZE);
  const w = new ByteWriter().bytes(c.nonce);
  writePaddedPsid(w, c.psid);
  return w.finish();
}

function readTokenBody(r: ByteReader): TokenBody {
  const at = r.offset;
  const magic = r.bytes('token.magic', 4);
  if (String.fromCharCode(...magic) !== TOKEN_MAGIC) formatFail('token.magic', at, `is not "${TOKEN_MAGIC}"`);
  const vAt = r.offset;
  const version = r.u16('token.version');
  if (version !== TOKEN_VERSION) formatFail('token.version', vAt, `is ${version}, expected ${TOKEN_VERSION}`);
  const ops = r.u16('token.ops');
  const seconds = r.u32('token.seconds');
  const nonce = r.bytes('token.nonce', NONCE_SIZE);
  return { ops, seconds, nonce, psid: paddedAscii(r, 'token.psid', PSID_FIELD_SIZE) };
}

export function decodeTokenBody(bytes: Uint8Array): DecodeResult<TokenBody> {
  return decodeWith(bytes, (r) => {
    if (r.remaining !== TOKEN_BODY_SIZE) formatFail('token', 0, `is ${r.remaining} bytes, expected ${TOKEN_BODY_SIZE}`);
    return readTokenBody(r);
  });
}

export function decodeToken(bytes: Uint8Array): DecodeResult<SignedToken & { readonly fields: TokenBody }> {
  return decodeWith(bytes, (r) => {
    if (r.remaining !== TOKEN_SIZE) formatFail('token', 0, `is ${r.remaining} bytes, expected ${TOKEN_SIZE}`);
    const body = r.sub('token.body', TOKEN_BODY_SIZE);
    const fields = readTokenBody(body);
    return { body: bytes.subarray(0, TOKEN_BODY_SIZE), fields, keyId: r.bytes('token.keyId', TOKEN_KEY_ID_SIZE), signature: r.bytes('token.signature', TOKEN_SIGNATURE_SIZE) };
  });
}

export function encodeLastResult(l: LastResult): Uint8Array {
  for (const k of ['request', 'kind', 'code', 'reserved'] as const) aint(k, l[k], 0, 0xff);
  const text = utf8.encode(l.text);
  if (text.length > LAST_RESULT_TEXT_MAX || CONTROL_CHARS.test(l.text)) throw new RangeError(`"text" expected at most ${LAST_RESULT_TEXT_MAX} bytes without control characters, got ${text.length} bytes`);
  return new ByteWriter().u8(l.request).u8(l.kind).u8(l.code).u8(l.reserved).bytes(text).finish();
}
