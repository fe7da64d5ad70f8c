/**
 * The device's secure-update state machine (MCC control_state, reference/mstflint-secure-update.md
 * §1.4) as a diagram: nodes, the transitions a host drives, their geometry, and the path a session
 * took. Pure data for the UpdatePanel to draw; the states come from the device's STATUS answers.
 *
 * Only states the device enters are drawn. VERIFY_COMPONENT and ACTIVATE finish within their
 * command and the answer already shows LOCKED (mstflint reads the state from the VERIFY answer and
 * does not poll, reference §1.6; docs/protocol.md §5.1), so VERIFY, APPLY and ACTIVATE are not
 * nodes: VERIFY is the DOWNLOAD → LOCKED edge and ACTIVATE a loop on LOCKED.
 */
import { MCC_INSTRUCTION, MCC_STATE } from '../../core/update/mcc-codes.ts';

export type NodeId = 'IDLE' | 'LOCKED' | 'INITIALIZE' | 'DOWNLOAD' | 'UPLOAD';

export interface DiagramNode {
  readonly id: NodeId;
  readonly label: string;
  readonly x: number;
  readonly y: number;
}

export interface DiagramEdge {
  readonly id: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly label: string;
  /** The line: from (x1, y1) to (x2, y2), curved through (cx, cy) when given. */
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  readonly cx?: number;
  readonly cy?: number;
  /** Where the label sits, and which end of it is there. */
  readonly lx: number;
  readonly ly: number;
  readonly anchor: 'start' | 'middle' | 'end';
  /** A transition the device makes by itself (power loss): drawn dashed. */
  readonly unplanned?: boolean;
}

export const NODE_W = 118;
export const NODE_H = 32;
export const VIEW = { width: 550, height: 266 } as const;

// Laid out by hand: the update loop runs down the left and back up the middle; the handle pair is
// horizontal and ACTIVATE loops on LOCKED to the right, so no line crosses another.
export const NODES: readonly DiagramNode[] = [
  { id: 'UPLOAD', label: 'UPLOAD', x: 262, y: 28 },
  { id: 'IDLE', label: 'IDLE', x: 62, y: 118 },
  { id: 'LOCKED', label: 'LOCKED', x: 262, y: 118 },
  { id: 'INITIALIZE', label: 'INITIALIZE', x: 92, y: 218 },
  { id: 'DOWNLOAD', label: 'DOWNLOAD', x: 287, y: 218 },
];

type Geometry = Omit<DiagramEdge, 'id' | 'from' | 'to' | 'label' | 'unplanned'>;
const edge = (from: NodeId, to: NodeId, label: string, g: Geometry, unplanned = false): DiagramEdge => ({ id: `${from}>${to}`, from, to, label, ...g, ...(unplanned ? { unplanned } : {}) });

export const EDGES: readonly DiagramEdge[] = [
  edge('IDLE', 'LOCKED', 'LOCK', { x1: 123, y1: 111, x2: 199, y2: 111, lx: 161, ly: 104, anchor: 'middle' }),
  edge('LOCKED', 'IDLE', 'RELEASE', { x1: 199, y1: 125, x2: 123, y2: 125, lx: 161, ly: 139, anchor: 'middle' }),
  edge('LOCKED', 'UPLOAD', 'READ', { x1: 255, y1: 100, x2: 255, y2: 46, lx: 249, ly: 77, anchor: 'end' }),
  edge('UPLOAD', 'LOCKED', 'done', { x1: 269, y1: 46, x2: 269, y2: 100, lx: 275, ly: 77, anchor: 'start' }),
  // ACTIVATE stays in LOCKED (the image is pending until a reset): a loop, never a step of the path
  edge('LOCKED', 'LOCKED', 'ACTIVATE: pending reset', { x1: 321, y1: 108, cx: 440, cy: 118, x2: 321, y2: 128, lx: 388, ly: 122, anchor: 'start' }),
  edge('LOCKED', 'INITIALIZE', 'UPDATE_COMPONENT', { x1: 228, y1: 136, x2: 122, y2: 200, lx: 166, ly: 162, anchor: 'end' }),
  edge('INITIALIZE', 'DOWNLOAD', 'erased', { x1: 153, y1: 218, x2: 226, y2: 218, lx: 190, ly: 211, anchor: 'middle' }),
  edge('DOWNLOAD', 'LOCKED', 'VERIFY / CANCEL / rejected', { x1: 280, y1: 200, x2: 266, y2: 136, lx: 281, ly: 176, anchor: 'start' }),
  edge('DOWNLOAD', 'IDLE', 'power loss: reboot', { x1: 250, y1: 236, cx: 40, cy: 300, x2: 28, y2: 136, lx: 150, ly: 260, anchor: 'middle' }, true),
];

/** The SVG path of an edge. */
export function edgePath(e: DiagramEdge): string {
  return e.cx !== undefined && e.cy !== undefined ? `M${e.x1},${e.y1} Q${e.cx},${e.cy} ${e.x2},${e.y2}` : `M${e.x1},${e.y1} L${e.x2},${e.y2}`;
}

const BY_STATE: Readonly<Record<number, NodeId>> = {
  [MCC_STATE.IDLE]: 'IDLE',
  [MCC_STATE.LOCKED]: 'LOCKED',
  [MCC_STATE.INITIALIZE]: 'INITIALIZE',
  [MCC_STATE.DOWNLOAD]: 'DOWNLOAD',
  [MCC_STATE.UPLOAD]: 'UPLOAD',
  [MCC_STATE.UPLOAD_PENDING]: 'UPLOAD',
};

/**
 * The state an accepted instruction passes through even if STATUS already shows the next one:
 * UPDATE_COMPONENT enters INITIALIZE for the erase (with no erase time it ends within the command).
 */
const VIA: Readonly<Record<number, NodeId>> = {
  [MCC_INSTRUCTION.UPDATE_COMPONENT]: 'INITIALIZE',
  // a kept download is checked again before it goes on (protocol §5.6)
  [MCC_INSTRUCTION.RESUME_COMPONENT]: 'INITIALIZE',
  [MCC_INSTRUCTION.READ_COMPONENT]: 'UPLOAD',
  [MCC_INSTRUCTION.READ_PENDING_COMPONENT]: 'UPLOAD',
};

export function nodeForState(state: number): NodeId | undefined {
  return BY_STATE[state];
}

/** The path after one more STATUS answer (repeats collapse). */
export function advancePath(path: readonly NodeId[], state: number, instruction?: number, result = 0): NodeId[] {
  const out = [...path];
  const push = (n: NodeId | undefined) => {
    if (n && out.at(-1) !== n) out.push(n);
  };
  if (instruction !== undefined && result === 0) push(VIA[instruction]);
  push(nodeForState(state));
  return out;
}

/** The edges a path walked along. */
export function pathEdges(path: readonly NodeId[]): Set<string> {
  const s = new Set<string>();
  for (let i = 1; i < path.length; i++) s.add(`${path[i - 1]}>${path[i]}`);
  return s;
}
