/**
 * Text from untrusted files and devices (certificate names, release notes, vendor and product
 * strings, file names, USB string descriptors) shown to a person. A terminal obeys control
 * characters: ESC starts a sequence that can recolour, move the cursor or retitle the window, CR
 * and BS overwrite what was printed ("ACCEPTED" over "REJECTED"), C1 controls are ESC in one
 * byte on some terminals, and bidi overrides reorder what is read (Trojan Source, CVE-2021-42574).
 * Each is replaced by a visible `\uXXXX` escape. The same spelling is a valid JSON escape, so
 * JSON output stays parseable and decodes to the original string.
 */

/** C0 except TAB and LF, DEL, C1, the bidi embeddings, overrides and isolates, LRM/RLM/ALM. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Replaces every control and bidi-control character except TAB and LF by a visible `\uXXXX`. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Like escapeControls, for a one-line field: LF and TAB are escaped too. */
export function escapeControlsInline(text: string): string {
  return escapeControls(text).replace(/[\n\t]/g, escape);
}
