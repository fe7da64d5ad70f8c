/**
 * Test-only entry point: exports the device crypto (wasm/crypto/*) unchanged, plus a scratch
 * region the host-side test can write inputs into. Compiled by tests/unit/device/device-crypto.test.ts
 * into a temporary directory; the firmware has its own entry and imports wasm/crypto/* directly.
 *
 * Built with `--runtime stub` and no managed objects, so nothing here or in wasm/crypto allocates:
 * everything above __heap_base is free for the scratch region.
 */
import {
  SHA256_CTX_SIZE,
  sha256 as sha256Impl,
  sha256Final as sha256FinalImpl,
  sha256Init as sha256InitImpl,
  sha256Update as sha256UpdateImpl,
} from './crypto/sha256';
import { rsa2048PublicOp as rsa2048PublicOpImpl, rsa2048VerifySha256 as rsa2048VerifySha256Impl } from './crypto/rsa';
import { spkiRsa2048Modulus as spkiRsa2048ModulusImpl } from './crypto/spki';

export function sha256CtxSize(): u32 {
  return SHA256_CTX_SIZE;
}
export function sha256Init(ctx: usize): void {
  sha256InitImpl(ctx);
}
export function sha256Update(ctx: usize, data: usize, len: u32): void {
  sha256UpdateImpl(ctx, data, len);
}
export function sha256Final(ctx: usize, out: usize): void {
  sha256FinalImpl(ctx, out);
}
export function sha256(data: usize, len: u32, out: usize): void {
  sha256Impl(data, len, out);
}
export function rsa2048PublicOp(modulusBE: usize, sigBE: usize, sigLen: u32, outBE: usize): bool {
  return rsa2048PublicOpImpl(modulusBE, sigBE, sigLen, outBE);
}
export function rsa2048VerifySha256(modulusBE: usize, sigBE: usize, sigLen: u32, hash32: usize): bool {
  return rsa2048VerifySha256Impl(modulusBE, sigBE, sigLen, hash32);
}
export function spkiRsa2048Modulus(spki: usize, len: u32, outModulus256: usize): bool {
  return spkiRsa2048ModulusImpl(spki, len, outModulus256);
}

/**
 * Returns the start of the scratch region (16-byte aligned, right after the static data) after
 * growing memory so that at least `size` bytes are available there. There is one region; the test
 * lays its buffers out inside it. Growing detaches JS views of the old memory buffer.
 */
export function scratch(size: u32): usize {
  const base: usize = (__heap_base + 15) & ~(15 as usize);
  const need: usize = base + (size as usize);
  const have: usize = (memory.size() as usize) << 16;
  if (need > have) {
    const pages = ((need - have + 0xffff) >>> 16) as i32;
    if (memory.grow(pages) < 0) unreachable();
  }
  return base;
}
