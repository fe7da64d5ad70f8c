/**
 * One tab owns the emulated NICs. Two tabs restoring the same saved NICs would run two copies that
 * diverge (each saving over the other), so the device Worker takes the Web Lock below before it
 * restores them; a second tab does without the emulator and queues for the lock, which the browser
 * releases when the owning tab closes or reloads — the waiting tab then takes over on its own.
 * Without the Web Locks API (older browsers) the tab simply owns the NICs, as before.
 */

export const EMULATOR_LOCK = 'trustflash-emulated-nics';

export interface EmulatorLockHooks {
  /** The lock is ours (at once, or later when the other tab went away: `takeover`). */
  readonly held: (takeover: boolean) => Promise<void>;
  /** Another tab holds it; this tab waits for it. */
  readonly elsewhere: () => void;
}

/** Held for the Worker's life: the browser releases it when the tab goes away. */
const forever = () => new Promise<never>(() => undefined);

/**
 * A reload of the owning tab releases the lock as its old Worker ends, which may be a moment after
 * the new page asks: a lock granted within this grace is this tab's own, not a takeover.
 */
export const RELOAD_GRACE_MS = 1500;

export async function claimEmulator(locks: LockManager | undefined, hooks: EmulatorLockHooks, graceMs = RELOAD_GRACE_MS): Promise<void> {
  if (!locks) return hooks.held(false);
  // decided synchronously in each callback, so the grant and the timer can never both win
  let state: 'asking' | 'waiting' | 'held' = 'asking';
  void locks.request(EMULATOR_LOCK, async () => {
    const takeover = state === 'waiting';
    state = 'held';
    await hooks.held(takeover);
    await forever();
  });
  setTimeout(() => {
    if (state !== 'asking') return;
    state = 'waiting';
    hooks.elsewhere();
  }, graceMs);
}
