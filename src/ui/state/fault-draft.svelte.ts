/**
 * The fault-injection form: which faults to arm on the selected emulated NIC before the next
 * update, in the emulator's own terms (src/emulator/faults.ts). Arming replaces what is armed;
 * one-shot faults (power loss, flash error, disconnect) fire once and disarm themselves.
 */
import type { Fault } from '../../service/device-protocol.ts';

export type FaultKind = 'power-loss' | 'flash-error' | 'disconnect' | 'slow' | 'locked-by-other';

export const FAULT_LABELS: Readonly<Record<FaultKind, string>> = {
  'power-loss': 'Power loss while writing block',
  'flash-error': 'Flash write error',
  disconnect: 'USB cable pulled at block',
  slow: 'Slow device (10× transfer and flash times)',
  'locked-by-other': 'Another host holds the update handle',
};

const MAX_BLOCK = 65535;

export class FaultDraft {
  #on = $state<Record<FaultKind, boolean>>({ 'power-loss': false, 'flash-error': false, disconnect: false, slow: false, 'locked-by-other': false });
  #powerLossBlock = $state(3);
  #disconnectBlock = $state(5);

  isOn(kind: FaultKind): boolean {
    return this.#on[kind];
  }
  get powerLossBlock() {
    return this.#powerLossBlock;
  }
  get disconnectBlock() {
    return this.#disconnectBlock;
  }
  get any(): boolean {
    return Object.values(this.#on).some(Boolean);
  }

  toggle(kind: FaultKind, on: boolean): void {
    this.#on[kind] = on;
  }
  /** Block numbers are 0-based, as the emulator counts them; anything else snaps to a valid one. */
  setPowerLossBlock(n: number): void {
    this.#powerLossBlock = clampBlock(n);
  }
  setDisconnectBlock(n: number): void {
    this.#disconnectBlock = clampBlock(n);
  }
  reset(): void {
    for (const k of Object.keys(this.#on) as FaultKind[]) this.#on[k] = false;
  }

  toFaults(): Fault[] {
    const out: Fault[] = [];
    if (this.#on['power-loss']) out.push({ kind: 'power-loss', block: this.#powerLossBlock });
    if (this.#on['flash-error']) out.push({ kind: 'flash-error', op: 'write' });
    if (this.#on.disconnect) out.push({ kind: 'disconnect', block: this.#disconnectBlock });
    if (this.#on.slow) out.push({ kind: 'slow' });
    if (this.#on['locked-by-other']) out.push({ kind: 'locked-by-other' });
    return out;
  }
}

function clampBlock(n: number): number {
  return Number.isFinite(n) ? Math.min(MAX_BLOCK, Math.max(0, Math.trunc(n))) : 0;
}
