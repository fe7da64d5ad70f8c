/**
 * Whether this tab owns the emulated NICs (the device Worker's Web Lock, emulator-lock.ts): a
 * second tab of TrustFlash says so and works without them until the first one closes.
 */
import type { DeviceEvent } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';

export class EmulatorOwner {
  #held = $state<boolean | undefined>(undefined);
  #takeover = $state(false);

  constructor(channel: DeviceChannel) {
    channel.subscribe((e: DeviceEvent) => {
      if (e.kind !== 'emulator-lock') return;
      this.#held = e.held;
      this.#takeover = e.takeover;
    });
  }

  /** Another tab has the emulated NICs (this one waits for them). */
  get elsewhere(): boolean {
    return this.#held === false;
  }
  /** This tab got the NICs when the other one closed. */
  get tookOver(): boolean {
    return this.#held === true && this.#takeover;
  }
}
