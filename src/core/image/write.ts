/** Writing the signed image from the same declared layout that parse.ts reads (layout.ts). */
import { ByteWriter } from '../bytes/writer.ts';
import {
  FORMAT_V1,
  FORMAT_V2,
  HEADER_SIZE,
  IMAGE_MAGIC,
  MANIFEST_FIELDS,
  SIG_ENTRY,
  SIGBLOCK_MAGIC,
  type Manifest,
  type SigEntry,
} from './layout.ts';

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The format a manifest is written in: v2 when it carries a hash-block table, v1 when it carries the payload digest. */
export function formatOf(manifest: Manifest): number {
  return manifest.hashBlockSize !== undefined || manifest.blockDigests !== undefined ? FORMAT_V2 : FORMAT_V1;
}

export function encodeManifest(manifest: Manifest, format = formatOf(manifest)): Uint8Array {
  const w = new ByteWriter();
  for (const f of MANIFEST_FIELDS) {
    const value = manifest[f.name];
    if (!f.formats.includes(format)) {
      if (value !== undefined) throw new TypeError(`"manifest.${f.name}" expected no value in format v${format}, got one`);
      continue;
    }
    if (value === undefined) {
      if (f.required) throw new TypeError(`"manifest.${f.name}" expected a value, got undefined`);
      continue;
    }
    if (f.codec.isEmpty?.(value as never)) continue;
    w.u16(f.tag);
    const lenAt = w.length;
    w.u32(0);
    f.codec.write(w, value as never);
    w.patchU32(lenAt, w.length - lenAt - 4);
  }
  return w.finish();
}

/** header || manifest: exactly the bytes every signature covers. */
export function encodeSignedPart(manifest: Manifest, format = formatOf(manifest)): Uint8Array {
  const body = encodeManifest(manifest, format);
  const w = new ByteWriter();
  w.bytes(ascii(IMAGE_MAGIC)).u16(format).u16(HEADER_SIZE).u32(body.length).u32(0);
  return w.bytes(body).finish();
}

export function encodeSigBlock(entries: readonly SigEntry[]): Uint8Array {
  const w = new ByteWriter();
  w.bytes(ascii(SIGBLOCK_MAGIC)).u32(0);
  for (const e of entries) {
    w.u16(e.type).u16(0);
    const lenAt = w.length;
    w.u32(0);
    if (e.type === SIG_ENTRY.SIGNATURE) w.u16(e.alg).u16(0).bytes(e.keyId).bytes(e.signature);
    else w.bytes(e.der);
    w.patchU32(lenAt, w.length - lenAt - 4);
  }
  return w.patchU32(4, w.length).finish();
}

/** The whole image. `signed` must be encodeSignedPart(manifest) — pass it when already computed (it is what was signed). */
export function writeImage(parts: { signed: Uint8Array; entries: readonly SigEntry[]; payload: Uint8Array }): Uint8Array {
  const block = encodeSigBlock(parts.entries);
  const out = new Uint8Array(parts.signed.length + block.length + parts.payload.length);
  out.set(parts.signed, 0);
  out.set(block, parts.signed.length);
  out.set(parts.payload, parts.signed.length + block.length);
  return out;
}
