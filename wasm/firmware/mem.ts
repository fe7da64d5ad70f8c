// Small helpers over linear memory. The firmware allocates nothing at run time: every buffer is a
// static region reserved with memory.data, like RAM sections in a linker script.

export function copy(dst: usize, src: usize, len: u32): void {
  memory.copy(dst, src, len);
}

export function equal(a: usize, b: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

export function fill(dst: usize, v: u8, len: u32): void {
  memory.fill(dst, v, len);
}

export function le16(p: usize): u32 {
  return <u32>load<u8>(p) | (<u32>load<u8>(p + 1) << 8);
}

export function le32(p: usize): u32 {
  return <u32>load<u8>(p) | (<u32>load<u8>(p + 1) << 8) | (<u32>load<u8>(p + 2) << 16) | (<u32>load<u8>(p + 3) << 24);
}

export function put16(p: usize, v: u32): void {
  store<u8>(p, <u8>(v & 0xff));
  store<u8>(p + 1, <u8>((v >> 8) & 0xff));
}

export function put32(p: usize, v: u32): void {
  store<u8>(p, <u8>(v & 0xff));
  store<u8>(p + 1, <u8>((v >> 8) & 0xff));
  store<u8>(p + 2, <u8>((v >> 16) & 0xff));
  store<u8>(p + 3, <u8>((v >> 24) & 0xff));
}
