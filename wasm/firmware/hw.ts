// Hardware the firmware talks to, provided by the emulator (src/emulator/flash.ts): a NOR flash
// with 4 KiB erase sectors, one-time-programmable fuses, and a millisecond clock. Every access can
// fail (a fault injected by the test rig); a power loss unwinds the firmware from inside a call.

// Status codes returned by the hardware calls.
export const HW_OK: u32 = 0;
export const HW_ERR_WRITE: u32 = 1;
export const HW_ERR_ERASE: u32 = 2;
export const HW_ERR_RANGE: u32 = 3;

@external("env", "flash_read")
export declare function flash_read(addr: u32, ptr: usize, len: u32): u32;
@external("env", "flash_write")
export declare function flash_write(addr: u32, ptr: usize, len: u32): u32;
/** Erases [addr, addr + len) to 0xFF; both sector-aligned. */
@external("env", "flash_erase")
export declare function flash_erase(addr: u32, len: u32): u32;
/** Size of one image bank in bytes (a multiple of 64 KiB), fixed at manufacturing. */
@external("env", "flash_bank_size")
export declare function flash_bank_size(): u32;
/** Reads the 8 fuse bytes (64 fuses; a burnt fuse reads as 1). */
@external("env", "otp_read")
export declare function otp_read(ptr: usize): u32;
/** Burns fuse `bit` (0..63); fuses never return to 0. */
@external("env", "otp_burn")
export declare function otp_burn(bit: u32): u32;
@external("env", "now_ms")
export declare function now_ms(): f64;

// Flash map (docs/protocol.md §8.1; the emulator's copy is src/emulator/flash.ts). Every
// boot-critical structure is kept twice, so no single damaged byte leaves the NIC unbootable
// (issue #10): two boot records, two identity copies, and an image in each bank.
export const SECTOR: u32 = 4096;
export const BOOT_RECORD_A: u32 = 0x0000;
export const BOOT_RECORD_B: u32 = 0x1000;
export const DEVICE_INFO: u32 = 0x2000;
export const DEVICE_INFO_BACKUP: u32 = 0x3000;
/** The download journal (journal.ts, issue #13): a checked log in two sectors. */
export const JOURNAL_A: u32 = 0x4000;
export const JOURNAL_B: u32 = 0x5000;
/** The attestation key (attest.ts, issue #14): two checked copies. */
export const ATTEST_A: u32 = 0x6000;
export const ATTEST_B: u32 = 0x7000;
export const BANK_BASE: u32 = 0x10000;

export function bankAddr(bank: u32): u32 {
  return BANK_BASE + bank * flash_bank_size();
}
