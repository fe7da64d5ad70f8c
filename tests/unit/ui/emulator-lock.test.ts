/** One tab owns the emulated NICs: the lock at once, the lock a moment later (a reload), or a takeover when the other tab closes. */
import { describe, expect, it } from 'vitest';
import { claimEmulator, EMULATOR_LOCK } from '../../../src/ui/worker/emulator-lock.ts';

/** A LockManager with one exclusive lock per name and a queue, released by `release(name)`. */
function fakeLocks() {
  const held = new Map<string, () => void>();
  const queue: { name: string; cb: () => Promise<unknown> }[] = [];
  const grant = (name: string, cb: () => Promise<unknown>) => {
    held.set(name, () => undefined);
    void cb();
  };
  const locks = {
    request: (name: string, cb: () => Promise<unknown>) => {
      if (held.has(name)) queue.push({ name, cb });
      else grant(name, cb);
      return new Promise(() => undefined);
    },
  } as unknown as LockManager;
  const release = (name: string) => {
    held.delete(name);
    const i = queue.findIndex((q) => q.name === name);
    if (i >= 0) grant(name, queue.splice(i, 1)[0]!.cb);
  };
  return { locks, held, release };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('claimEmulator', () => {
  it('the first tab holds the lock at once', async () => {
    const { locks } = fakeLocks();
    const seen: string[] = [];
    await claimEmulator(locks, { held: async (t) => void seen.push(`held ${t}`), elsewhere: () => seen.push('elsewhere') }, 20);
    await sleep(40);
    expect(seen).toEqual(['held false']);
  });

  it('a second tab is told, waits, and takes over when the first lets go', async () => {
    const { locks, held, release } = fakeLocks();
    held.set(EMULATOR_LOCK, () => undefined);
    const seen: string[] = [];
    await claimEmulator(locks, { held: async (t) => void seen.push(`held ${t}`), elsewhere: () => seen.push('elsewhere') }, 20);
    await sleep(40);
    expect(seen).toEqual(['elsewhere']);
    release(EMULATOR_LOCK);
    await sleep(0);
    expect(seen).toEqual(['elsewhere', 'held true']);
  });

  it('a lock released within the grace (this tab reloading) is simply held, without a notice', async () => {
    const { locks, held, release } = fakeLocks();
    held.set(EMULATOR_LOCK, () => undefined);
    const seen: string[] = [];
    await claimEmulator(locks, { held: async (t) => void seen.push(`held ${t}`), elsewhere: () => seen.push('elsewhere') }, 50);
    release(EMULATOR_LOCK);
    await sleep(80);
    expect(seen).toEqual(['held false']);
  });

  it('without the Web Locks API the tab owns the NICs', async () => {
    const seen: string[] = [];
    await claimEmulator(undefined, { held: async (t) => void seen.push(`held ${t}`), elsewhere: () => seen.push('elsewhere') });
    expect(seen).toEqual(['held false']);
  });
});
