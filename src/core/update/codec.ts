/**
 * What every decoder of the device protocol shares (protocol.ts, query.ts): a total, bounded
 * decode that turns any bytes into a value or a FormatError naming the field and its offset, and
 * device text refused when it holds a control character (it is shown to people, T11).
 */
import { abytes } from '../bytes/assert.ts';
import { ByteReader, FormatFailure, formatFail } from '../bytes/reader.ts';
import { formatFailed, type FormatFailed, type Ok } from '../bytes/result.ts';

export type { FormatError } from '../bytes/reader.ts';
export type DecodeResult<T> = Ok<T> | FormatFailed;

export function decodeWith<T>(bytes: unknown, parse: (r: ByteReader) => T): DecodeResult<T> {
  abytes('bytes', bytes);
  try {
    return { ok: true, value: parse(new ByteReader(bytes)) };
  } catch (e) {
    if (e instanceof FormatFailure) return formatFailed(e.error);
    throw e;
  }
}

export const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/u;
export const utf8 = new TextEncoder();

export function deviceText(r: ByteReader, field: string, n: number): string {
  const at = r.offset;
  const s = r.utf8(field, n);
  const m = CONTROL_CHARS.exec(s);
  if (m) formatFail(field, at + utf8.encode(s.slice(0, m.index)).length, `contains control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
  return s;
}
