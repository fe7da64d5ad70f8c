/**
 * The emulated NIC's state file for the CLI's `--emulated --state S`: loaded (with the journal of
 * a command that was killed replayed onto it: that NIC lost power then), journaled while a command
 * runs (state-journal.ts), and saved whole and atomically when it ends.
 */
import { resolve } from 'node:path';
import { createEmulatedNic, decodeState, type EmulatedUSBDevice, type Fault, type NicState, type TimingName } from '../emulator/index.ts';
import { IoError, type Io } from './io.ts';
import { replayJournal, saveStateFile, StateJournal } from './state-journal.ts';
import { lockState } from './state-lock.ts';

/** Journals of the NICs this command loaded (state-journal.ts): closed when the state is saved. */
const journals = new WeakMap<EmulatedUSBDevice, StateJournal>();

/** The state file, with the journal of a command that was cut off (killed) replayed onto it: that NIC lost power then. */
export async function loadState(io: Io, path: string): Promise<{ state: NicState; bytes: Uint8Array; powerLost: boolean }> {
  lockState(io, path);
  const bytes = await io.readBytes(path);
  const state = decodeState(bytes);
  if (!state.ok) throw new IoError(`${path}: ${state.error}`);
  const replay = replayJournal(resolve(io.cwd, path), bytes, state.value);
  if (replay && 'stale' in replay) io.err(`${path}: a journal of an older state of this file was set aside unused (${replay.stale})`);
  if (!replay || 'stale' in replay) return { state: state.value, bytes, powerLost: false };
  io.err(`${path}: the last command on this NIC was cut off after ${replay.records} flash operation${replay.records === 1 ? '' : 's'}${replay.dropped ? ' (the one it was in the middle of did not happen)' : ''}: the NIC lost power then and powers on now`);
  return { state: replay.state, bytes, powerLost: true };
}

/**
 * A NIC from its state file. With `journal`, every flash change from here on is journaled
 * (write-through: a killed command is a power loss, not a lost run) until saveNic.
 */
export async function loadNic(io: Io, path: string, extra: { faults?: Fault[]; timing?: TimingName; journal?: boolean } = {}): Promise<EmulatedUSBDevice> {
  const { state, bytes, powerLost } = await loadState(io, path);
  const dev = await createEmulatedNic({ state, ...(powerLost ? { start: 'boot' as const } : {}), ...(extra.faults ? { faults: extra.faults } : {}), ...(extra.timing ? { timing: extra.timing } : {}) });
  if (dev.nic.migrated) io.err(`${path}: ${dev.nic.migrated}`); // saved before the redundant flash layout (protocol §8.7)
  const abs = resolve(io.cwd, path);
  if (powerLost) saveStateFile(abs, dev.nic.stateViews());
  // the journal continues the file as it is now: as read, or as just rewritten after a power loss
  if (extra.journal !== false) journals.set(dev, new StateJournal(abs, powerLost ? await io.readBytes(path) : bytes, dev.nic));
  return dev;
}

/** Writes the NIC's state whole (atomically) and ends its journal. */
export async function saveNic(io: Io, path: string, dev: EmulatedUSBDevice): Promise<void> {
  journals.get(dev)?.close(false);
  journals.delete(dev);
  saveStateFile(resolve(io.cwd, path), dev.nic.stateViews());
}

