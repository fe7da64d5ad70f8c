/**
 * Fault injection for the emulated NIC: what a test rig does to real hardware. Parsed from the
 * CLI's --fault syntax (docs/protocol.md §Faults) and armed on the NIC's flash and USB.
 *
 *   power-loss:STATE        power cut during the operation that works in STATE
 *                           (INITIALIZE = the bank erase, DOWNLOAD = a block write, ACTIVATE = the
 *                           boot-record write, LOCKED/VERIFY = when that command arrives)
 *   power-loss:block=N      power cut half-way through writing data block N (0-based)
 *   power-loss:flash-op=N   power cut half-way through the N-th flash program/erase (1-based)
 *   flash-error             the next flash program fails (write-protected)
 *   flash-error:erase       the next erase fails
 *   disconnect:block=N      the USB cable is pulled when block N arrives (the NIC keeps running)
 *   slow                    every transfer and flash operation takes 10× longer
 *   locked-by-other         another host holds the update handle
 *   handle-timeout          the update handle expires after 200 ms without a command
 */

export type Fault =
  | { kind: 'power-loss'; state: 'LOCKED' | 'INITIALIZE' | 'DOWNLOAD' | 'VERIFY' | 'ACTIVATE' }
  | { kind: 'power-loss'; block: number }
  | { kind: 'power-loss'; flashOp: number }
  | { kind: 'flash-error'; op: 'write' | 'erase' }
  | { kind: 'disconnect'; block: number }
  | { kind: 'slow' }
  | { kind: 'locked-by-other' }
  | { kind: 'handle-timeout' };

const STATES = ['LOCKED', 'INITIALIZE', 'DOWNLOAD', 'VERIFY', 'ACTIVATE'] as const;

export function parseFault(text: string): Fault | { error: string } {
  const [kind, arg] = text.split(':', 2) as [string, string | undefined];
  const num = (s: string | undefined, key: string): number | undefined => {
    const m = s === undefined ? null : new RegExp(`^${key}=(\\d{1,9})$`).exec(s);
    return m ? Number(m[1]) : undefined;
  };
  switch (kind) {
    case 'power-loss': {
      if (arg && (STATES as readonly string[]).includes(arg)) return { kind, state: arg as (typeof STATES)[number] };
      const block = num(arg, 'block');
      if (block !== undefined) return { kind, block };
      const op = num(arg, 'flash-op');
      if (op !== undefined && op > 0) return { kind, flashOp: op };
      return { error: `power-loss needs STATE (${STATES.join(', ')}), block=N or flash-op=N, got ${JSON.stringify(arg ?? '')}` };
    }
    case 'flash-error':
      if (arg === undefined || arg === 'write') return { kind, op: 'write' };
      if (arg === 'erase') return { kind, op: 'erase' };
      return { error: `flash-error takes write or erase, got ${JSON.stringify(arg)}` };
    case 'disconnect': {
      const block = num(arg, 'block');
      return block !== undefined ? { kind, block } : { error: `disconnect needs block=N, got ${JSON.stringify(arg ?? '')}` };
    }
    case 'slow':
    case 'locked-by-other':
    case 'handle-timeout':
      return arg === undefined ? { kind } : { error: `${kind} takes no argument` };
    default:
      return { error: `unknown fault "${kind}" (power-loss, flash-error, disconnect, slow, locked-by-other, handle-timeout)` };
  }
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'power-loss':
      return 'state' in f ? `power-loss:${f.state}` : 'block' in f ? `power-loss:block=${f.block}` : `power-loss:flash-op=${f.flashOp}`;
    case 'flash-error':
      return f.op === 'write' ? 'flash-error' : 'flash-error:erase';
    case 'disconnect':
      return `disconnect:block=${f.block}`;
    default:
      return f.kind;
  }
}
