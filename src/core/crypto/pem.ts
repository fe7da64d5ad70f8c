/** PEM (RFC 7468) armour: textual encoding of DER blocks. Parsing is strict and bounded. */

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----([\s\S]*?)-----END \1-----/g;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function base64Decode(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 4 !== 0 || !B64.test(clean)) return undefined;
  const bin = atob(clean);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function base64Encode(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** All PEM blocks in `text`, in order. Blocks whose body is not base64 are skipped and reported. */
export function parsePem(text: string): { blocks: PemBlock[]; errors: string[] } {
  const blocks: PemBlock[] = [];
  const errors: string[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const der = base64Decode(m[2]!);
    if (!der || der.length === 0) errors.push(`PEM block "${m[1]}" has a malformed base64 body`);
    else blocks.push({ label: m[1]!, der });
  }
  return { blocks, errors };
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = base64Encode(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function looksLikePem(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 512));
  return head.includes('-----BEGIN ');
}
