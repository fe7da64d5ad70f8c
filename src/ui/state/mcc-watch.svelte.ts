/**
 * The devices' MCC state as the device side reports it (`status` events: the session's
 * device-status answers, and the STATUS read with each QUERY), and the path the last session's
 * device took through the MCC machine, for the update panel's diagram. Nothing here decodes wire
 * bytes: the instruction each answer belongs to comes with it.
 */
import type { DeviceStatus } from '../../core/update/protocol.ts';
import { mccError, mccStateName } from '../../core/update/mcc-codes.ts';
import type { DeviceEvent } from '../../service/device-protocol.ts';
import type { DeviceChannel } from './device-channel.ts';
import { advancePath, nodeForState, type NodeId } from './mcc-diagram.ts';
import { hex } from './format.ts';

export class MccWatch {
  #status = $state.raw<Readonly<Record<string, DeviceStatus>>>({});
  #path = $state.raw<readonly NodeId[]>([]);
  /** The device of the last session (its path is drawn). */
  #serial: string | undefined;

  constructor(channel: DeviceChannel) {
    channel.subscribe((e) => this.#onEvent(e));
  }

  /** The MCC states the last session went through, in order. */
  get path(): readonly NodeId[] {
    return this.#path;
  }
  /** A device's last STATUS. */
  status(serial: string | undefined): DeviceStatus | undefined {
    return serial ? this.#status[serial] : undefined;
  }

  #onEvent(e: DeviceEvent): void {
    if (e.kind === 'session-start') {
      this.#serial = e.serial;
      const st = this.#status[e.serial];
      this.#path = st ? advancePath([], st.state) : ['IDLE'];
    } else if (e.kind === 'status') {
      this.#status = { ...this.#status, [e.serial]: e.status };
      if (e.serial === this.#serial) this.#path = advancePath(this.#path, e.status.state, e.instruction, e.status.result);
    }
  }
}

/** The node to light for a STATUS. */
export const nodeOf = (st: DeviceStatus | undefined): NodeId | undefined => (st ? nodeForState(st.state) : undefined);

/** "LOCKED, handle 0x000abc held, new image pending reset". */
export function statusText(st: DeviceStatus): string {
  return `${mccStateName(st.state)}${st.error ? `, error ${hex(st.error)} ${mccError(st.error).name}` : ''}${st.handleOwned ? `, handle ${hex(st.handle, 6)} held` : ''}${st.pendingReset ? ', new image pending reset' : ''}`;
}
