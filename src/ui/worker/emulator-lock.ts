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

export async function claimEmulator(locks: LockManager | undefined, hooks: EmulatorLockHooks): Promise<void> {
  if (!locks) return hooks.held(false);
  const got = await new Promise<boolean>((resolve) => {
    void locks.request(EMULATOR_LOCK, { ifAvailable: true }, async (lock) => {
      resolve(lock !== null);
      if (lock) await forever();
    });
  });
  if (got) return hooks.held(false);
  hooks.elsewhere();
  void locks.request(EMULATOR_LOCK, async () => {
    await hooks.held(true);
    await forever();
  });
}
