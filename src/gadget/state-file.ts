/**
 * Write-through persistence for a NIC served on a real bus: the state file is rewritten once in
 * its dense form (every flash page at a fixed offset), then every flash program or erase and every
 * fuse burn is written to it synchronously, in order, as it happens. A process killed at any
 * instant (the power-loss test) leaves the file as the flash was at that instant, which is what a
 * power cut leaves on a real chip; the firmware's fail-safe design has to cope with exactly that.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import type { EmulatedNic } from '../emulator/nic.ts';
import { encodeDenseState } from '../emulator/persist.ts';

export class WriteThroughState {
  readonly path: string;
  #fd: number | undefined;
  readonly #detach: () => void;
  /** Bytes written since opening (for the log). */
  written = 0;

  private constructor(path: string, nic: EmulatedNic) {
    this.path = path;
    const dense = encodeDenseState(nic.snapshot());
    // the dense rewrite itself is atomic: a crash here leaves the previous file
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, dense.bytes);
    renameSync(tmp, path);
    const fd = openSync(path, 'r+');
    this.#fd = fd;
    const flashBase = dense.pageOffset(0);
    const flash = nic.flash;
    const fuses = nic.fuses;
    flash.onChange = (addr, len) => {
      if (this.#fd === undefined || len === 0) return;
      const bytes = flash.read(addr, len);
      if (!bytes) return;
      this.written += writeSync(this.#fd, bytes, 0, len, flashBase + addr);
    };
    fuses.onBurn = () => {
      if (this.#fd === undefined) return;
      const meta = dense.metadata(fuses.read());
      this.written += writeSync(this.#fd, meta, 0, meta.length, 12);
    };
    this.#detach = () => {
      flash.onChange = undefined;
      fuses.onBurn = undefined;
    };
  }

  /** Rewrites `path` densely and persists every later change of `nic` to it. */
  static open(path: string, nic: EmulatedNic): WriteThroughState {
    return new WriteThroughState(path, nic);
  }

  close(): void {
    this.#detach();
    if (this.#fd === undefined) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
