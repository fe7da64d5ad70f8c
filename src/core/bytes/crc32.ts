/**
 * CRC-32 as the DFU file suffix uses it (DFU 1.1 Appendix B): reflected polynomial 0xEDB88320,
 * initial value 0xFFFFFFFF and no final XOR — that is, the bitwise complement of the common
 * (zlib) CRC-32, sometimes called CRC-32/JAMCRC.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** DFU suffix CRC (no final XOR). */
export function dfuCrc(bytes: Uint8Array): number {
  return crc32Update(0xffffffff, bytes);
}

/** The common CRC-32 (zlib, PNG): DFU's CRC with the final XOR. */
export function crc32(bytes: Uint8Array): number {
  return (dfuCrc(bytes) ^ 0xffffffff) >>> 0;
}
