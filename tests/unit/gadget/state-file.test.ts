/**
 * Write-through state (the gadget's power-cut model): at every instant the state file holds exactly
 * what the emulated flash and fuses hold, so a process killed at any point leaves what a power cut
 * leaves on a chip, and the next power-on boots from it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeState, encodeState } from '../../../src/emulator/persist.ts';
import { EmulatedNic, type NicState } from '../../../src/emulator/nic.ts';
import { WriteThroughState } from '../../../src/gadget/state-file.ts';
import { lock, newNic, pending, running, sample, update } from '../device/nic-helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'tf-state-'));
  dirs.push(d);
  return join(d, 'nic.state');
}

function readState(path: string): NicState {
  const r = decodeState(new Uint8Array(readFileSync(path)));
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** Flash and fuses as the NIC holds them, page by page (erased pages read as 0xFF). */
function expectSameHardware(file: NicState, nic: EmulatedNic): void {
  expect(file.bankSize).toBe(nic.flash.bankSize);
  expect([...file.fuses]).toEqual([...nic.fuses.read()]);
  const pages = new Map(file.flash.map(([i, p]) => [i, p]));
  for (let i = 0; i * 65536 < nic.flash.size; i++) {
    const want = nic.flash.read(i * 65536, 65536)!;
    const got = pages.get(i) ?? new Uint8Array(65536).fill(0xff);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(want)), `flash page ${i}`).toBe(0);
  }
}

describe('write-through NIC state', () => {
  it('rewrites the file densely, then follows every program, erase and fuse burn without being closed', async () => {
    const nic = await newNic();
    const path = tempPath();
    const store = WriteThroughState.open(path, nic);
    const dense = readFileSync(path).length;
    expect(dense).toBe(12 + new DataView(readFileSync(path).buffer).getUint32(8, true) + (0x10000 + 2 * nic.flash.bankSize));
    expectSameHardware(readState(path), nic);

    expect(await update(nic, sample('good'))).toBe(0);
    // not closed: this is what a kill -9 right now would leave
    expectSameHardware(readState(path), nic);
    expect(readFileSync(path).length).toBe(dense);
    expect(store.written).toBeGreaterThan(sample('good').length);

    store.close();

    // a cold power-on from the file applies the pending image; resuming keeps it pending
    const resumed = await EmulatedNic.create({ state: readState(path) });
    expect([running(resumed), pending(resumed)]).toEqual(['28.39.1002', '28.40.1000']);
    const booted = await EmulatedNic.create({ state: readState(path), start: 'boot' });
    expect([running(booted), pending(booted)]).toEqual(['28.40.1000', undefined]);
  });

  it('a fuse burn reaches the file at once, in place', async () => {
    const nic = await newNic();
    const path = tempPath();
    const store = WriteThroughState.open(path, nic);
    const size = readFileSync(path).length;
    expect(nic.fuses.burn(63)).toBe(0);
    expectSameHardware(readState(path), nic);
    expect(readState(path).fuses[7]! & 0x80).toBe(0x80);
    expect(readFileSync(path).length).toBe(size);
    store.close();
  });

  it('a process killed at the instant of a torn flash write leaves a file that boots the old image', async () => {
    const nic = await newNic({ faults: [{ kind: 'power-loss', block: 5 }] });
    const path = tempPath();
    const store = WriteThroughState.open(path, nic);
    let atCut: Uint8Array | undefined;
    let hwAtCut: NicState | undefined;
    nic.on((e) => {
      if (e.kind !== 'power-loss' || atCut) return;
      atCut = new Uint8Array(readFileSync(path)); // the file as the kill would leave it
      hwAtCut = nic.snapshot();
    });
    await expect(update(nic, sample('good'))).rejects.toThrow(/power lost/);
    store.close();
    expect(atCut).toBeDefined();
    const file = decodeState(atCut!);
    if (!file.ok) throw new Error(file.error);
    // the torn half-block is in the file exactly as it is in the flash
    expect(Buffer.from(encodeState({ ...file.value, flash: file.value.flash.filter(([, p]) => p.some((b) => b !== 0xff)) })).equals(Buffer.from(encodeState(hwAtCut!)))).toBe(true);
    const next = await EmulatedNic.create({ state: file.value, start: 'boot' });
    expect([running(next), pending(next)]).toEqual(['28.39.1002', undefined]);
    // RAM is gone with the power: nobody holds the update handle, a new host can lock at once
    expect(lock(next)).toBeGreaterThan(0);
  });
});
