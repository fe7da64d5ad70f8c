/**
 * The one shape of a result that can fail (issue #11, one error vocabulary): `ok: true` with what
 * was made, or `ok: false` with `reason`, a sentence a person can act on, and, where a caller needs
 * more, structured detail beside it (a FormatError's field and offset, an audit log's line, a CMS
 * failure's kind). Code that decides uses the detail; code that shows uses `reason`.
 */
import type { FormatError } from './reader.ts';

export type Failed<Detail extends object = {}> = { readonly ok: false; readonly reason: string } & Detail;
export type Ok<T> = { readonly ok: true; readonly value: T };
export type Result<T, Detail extends object = {}> = Ok<T> | Failed<Detail>;

export const failed = (reason: string): Failed => ({ ok: false, reason });

/** A failed parse: the reason names the field and the offset; the FormatError carries them apart. */
export type FormatFailed = Failed<{ readonly error: FormatError }>;
export function formatFailed(error: FormatError): FormatFailed {
  return { ok: false, reason: `${error.field} at offset ${error.offset}: ${error.message}`, error };
}
