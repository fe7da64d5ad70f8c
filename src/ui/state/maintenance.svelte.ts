/**
 * The maintenance panel's state: the blocked maintenance commands (MAINT, docs/protocol.md §4.6)
 * tried on the selected device, with the device's refusal, and the CS-token demo's steps as the
 * device side reports them. Requests go through DevicesState.perform, which shows them as busy.
 */
import { regStatus } from '../../core/update/mcc-codes.ts';
import type { CsTokenStep, DeviceEvent, MaintenanceOp } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';
import type { DevicesState } from './devices.svelte.ts';
import { hex } from './format.ts';

/** A maintenance command's outcome, for a person. */
export interface MaintenanceView {
  readonly op: MaintenanceOp;
  readonly refused: boolean;
  /** What the device said (LAST_RESULT) and its register status, e.g. "0x06 METHOD_NOT_SUPP". */
  readonly device?: string;
  readonly status?: string;
  /** What mstflint prints for it on secure firmware. */
  readonly mstflint: string;
}

/** One step of the CS-token demo as the device side reported it. */
export interface CsTokenStepView {
  readonly step: CsTokenStep;
  readonly ok: boolean;
  readonly text: string;
}

export class MaintenanceState {
  #result = $state.raw<MaintenanceView | undefined>(undefined);
  #csToken = $state.raw<readonly CsTokenStepView[]>([]);
  readonly #devices: DevicesState;

  constructor(opts: { channel: DeviceChannel; devices: DevicesState }) {
    this.#devices = opts.devices;
    opts.channel.subscribe((e) => this.#onEvent(e));
  }

  /** The last maintenance command's outcome. */
  get result(): MaintenanceView | undefined {
    return this.#result;
  }
  /** The CS-token demo's steps so far (the last run). */
  get csTokenSteps(): readonly CsTokenStepView[] {
    return this.#csToken;
  }

  #onEvent(e: DeviceEvent): void {
    if (e.kind === 'maintenance') {
      this.#result = {
        op: e.op,
        refused: e.refused,
        mstflint: e.mstflint,
        ...(e.deviceText !== undefined ? { device: e.deviceText } : {}),
        ...(e.registerStatus !== undefined ? { status: `${hex(e.registerStatus)} ${regStatus(e.registerStatus).name}` } : {}),
      };
    } else if (e.kind === 'cs-token') {
      this.#csToken = [...this.#csToken, { step: e.step, ok: e.ok, text: e.text }];
    }
  }

  /** Tries a maintenance command secure firmware blocks, to show that it does. */
  send(op: MaintenanceOp): Promise<boolean> {
    const serial = this.#devices.selectedSerial;
    if (!serial) return Promise.resolve(false);
    this.#result = undefined;
    return this.#devices.perform('sending a maintenance command', { kind: 'maintenance', serial, op });
  }

  /**
   * The CS-token demo on the selected emulated NIC: SET_VSD refused, the challenge answered with a
   * token signed by the DEMO key, SET_VSD accepted with `vsd`.
   */
  unlockWithToken(vsd: string): Promise<boolean> {
    const serial = this.#devices.selectedSerial;
    if (!serial) return Promise.resolve(false);
    this.#csToken = [];
    return this.#devices.perform('unlocking SET_VSD with a CS token', { kind: 'cs-token', serial, vsd });
  }
}
