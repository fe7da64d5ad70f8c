/**
 * Write-through for `--emulated --state S` (issue #13): every flash program or erase and every fuse
 * burn of the NIC is appended to `S.wal` as it happens, so a killed process is a power loss at
 * that instant, not a lost run. The state file stays sparse (a 64 MiB-bank NIC is not a 128 MiB
 * file) and is rewritten atomically when the command ends; then the journal goes. A journal found
 * at load is replayed onto the state — a record cut short by the kill is dropped, as if the flash
 * operation it began had not happened — and the NIC powers on (it lost power).
 *
 * File: "TFWL" 01 00 00 00 ‖ SHA-256 of the state file the journal continues (a journal whose state
 * file has since been rewritten by anything else is stale: it is set aside, never replayed onto the
 * newer state) ‖ records. Record: kind u8 (1 program, 2 erase, 3 fuses) ‖ addr u32 ‖ len u32 ‖
 * bytes (program, fuses) ‖ SHA-256 of all before it in the record (32 bytes). Little-endian.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { applyFlashOps, watchFlash, writeState, type EmulatedNic, type FlashOp, type NicState } from '../emulator/index.ts';

const MAGIC = Buffer.from('TFWL\x01\x00\x00\x00', 'latin1');
const KIND = { PROGRAM: 1, ERASE: 2, FUSES: 3 } as const;
const HEAD = 9;
const DIGEST = 32;
const FLUSH_BYTES = 256 * 1024;

export const journalPath = (state: string): string => `${state}.wal`;

/** Journals every later flash and fuse change of `nic` to `path`.wal until closed. */
export class StateJournal {
  readonly path: string;
  #fd: number | undefined;

  /** `stateBytes`: the state file as it is on disk now (the journal continues exactly that file). */
  constructor(state: string, stateBytes: Uint8Array, nic: EmulatedNic) {
    this.path = journalPath(state);
    const fd = openSync(this.path, 'w');
    this.#fd = fd;
    writeSync(fd, Buffer.concat([MAGIC, createHash('sha256').update(stateBytes).digest()]));
    // records go out in batches: when 256 KiB are waiting, and whenever the event loop turns (after
    // each host request), so a kill loses at most the last few operations — a power loss a moment
    // earlier, which is just as consistent (the journal is always a prefix of what the flash did).
    // Each record is written straight into the batch buffer: an update is tens of thousands of
    // flash programs, and a few buffers per record were most of the command's garbage.
    this.#detach = watchFlash(nic, (op) => {
      if (op.kind === 'erase') this.#append(KIND.ERASE, op.addr, op.len);
      else this.#append(op.kind === 'program' ? KIND.PROGRAM : KIND.FUSES, op.kind === 'program' ? op.addr : 0, op.bytes.length, op.bytes);
    });
  }

  readonly #detach: () => void;
  #batch = Buffer.allocUnsafe(FLUSH_BYTES);
  #len = 0;
  #scheduled = false;

  /** Appends one record: kind ‖ addr ‖ len ‖ bytes ‖ SHA-256 of those (the file format above). */
  #append(kind: number, addr: number, len: number, bytes?: Uint8Array): void {
    if (this.#fd === undefined) return;
    const need = HEAD + (bytes?.length ?? 0) + DIGEST;
    if (this.#len + need > this.#batch.length) this.flush();
    if (need > this.#batch.length) this.#batch = Buffer.allocUnsafe(need);
    const b = this.#batch;
    const at = this.#len;
    b.writeUInt8(kind, at);
    b.writeUInt32LE(addr, at + 1);
    b.writeUInt32LE(len, at + 5);
    if (bytes) b.set(bytes, at + HEAD);
    const body = at + HEAD + (bytes?.length ?? 0);
    createHash('sha256').update(b.subarray(at, body)).digest().copy(b, body);
    this.#len = body + DIGEST;
    if (this.#len >= FLUSH_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes the records waiting (the event loop's turn, or 256 KiB of them). */
  flush(): void {
    this.#scheduled = false;
    if (this.#fd === undefined || this.#len === 0) return;
    for (let at = 0; at < this.#len; ) at += writeSync(this.#fd, this.#batch, at, this.#len - at);
    this.#len = 0;
  }

  /** Stops journaling; `remove` once the state file holds everything (after an atomic save). */
  close(remove: boolean): void {
    this.flush();
    this.#detach();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    if (remove) rmSync(this.path, { force: true });
  }
}

/**
 * The state with a journal left behind by a killed process replayed onto it, or undefined when
 * there is none. Reads records while they are whole and their digest checks; the rest is the
 * operation the kill cut short.
 */
export function replayJournal(statePath: string, stateBytes: Uint8Array, state: NicState): { state: NicState; records: number; dropped: number } | { stale: string } | undefined {
  const path = journalPath(statePath);
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  const base = buf.subarray(MAGIC.length, MAGIC.length + DIGEST);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC) || base.length !== DIGEST || !base.equals(createHash('sha256').update(stateBytes).digest())) {
    const aside = `${path}.stale-${Date.now()}`;
    renameSync(path, aside);
    return { stale: aside };
  }
  const ops: FlashOp[] = [];
  const flashSize = 0x10000 + 2 * state.bankSize;
  let at = MAGIC.length + DIGEST;
  while (at + HEAD + DIGEST <= buf.length) {
    const kind = buf.readUInt8(at);
    const addr = buf.readUInt32LE(at + 1);
    const len = buf.readUInt32LE(at + 5);
    const data = kind === KIND.ERASE ? 0 : len;
    if (kind < 1 || kind > 3 || addr + len > flashSize || at + HEAD + data + DIGEST > buf.length) break;
    const body = buf.subarray(at, at + HEAD + data);
    if (!createHash('sha256').update(body).digest().equals(buf.subarray(at + HEAD + data, at + HEAD + data + DIGEST))) break;
    const bytes = Uint8Array.from(body.subarray(HEAD));
    if (kind === KIND.FUSES && len !== 8) break;
    ops.push(kind === KIND.FUSES ? { kind: 'fuses', bytes } : kind === KIND.ERASE ? { kind: 'erase', addr, len } : { kind: 'program', addr, bytes });
    at += HEAD + data + DIGEST;
  }
  return { state: applyFlashOps(state, ops), records: ops.length, dropped: buf.length - at };
}

/**
 * Writes the state file whole and atomically (a kill leaves the old file or the new one), then
 * drops the journal it supersedes. `state` is written a piece at a time (writeState): a NIC
 * holding a 200 MiB image is not copied in memory to be saved.
 */
export function saveStateFile(statePath: string, state: NicState): void {
  const tmp = `${statePath}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeState(state, (chunk) => {
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at);
    });
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, statePath);
  rmSync(journalPath(statePath), { force: true });
}
