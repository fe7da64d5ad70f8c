/**
 * One command at a time on an emulated NIC's state file (`--state S`): see lockState.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { IoError, type Io } from './io.ts';

/** Locks this process holds: let go when its command ends (main.ts), or at the latest when it exits. */
const held = new Set<string>();

/** Lets go of every state lock this process holds. */
export function releaseStateLocks(): void {
  held.forEach((l) => rmSync(l, { force: true }));
  held.clear();
}

let exitHook = false;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One command at a time on a NIC: `S.lock` holds the pid of the command using the state file `S`,
 * created exclusively, removed when that command ends. Without it a second command (even a
 * query) read the state with the first one's journal beside it, took the journal for a power loss,
 * rewrote the state file, and the first command's journal no longer matched it. A lock left by a
 * command that was killed (its process is gone) is taken over.
 */
export function lockState(io: Io, path: string): void {
  const lock = `${resolve(io.cwd, path)}.lock`;
  if (held.has(lock)) return;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      if (!exitHook) process.once('exit', releaseStateLocks);
      exitHook = true;
      held.add(lock);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new IoError(`${path}: its lock ${lock} cannot be made: ${(e as Error).message}`);
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(lock, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new IoError(`${path} is in use by another trustflash command (process ${owner}): run one command at a time on a NIC (its lock is ${lock})`);
    }
    rmSync(lock, { force: true }); // left by a command that was killed
  }
  throw new IoError(`${path}: its lock ${lock} could not be taken`);
}
