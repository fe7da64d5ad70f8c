/**
 * Every MCC state × instruction cell, with the guards inside each cell, driven for real through
 * the NIC firmware (wasm/firmware, through the emulator's NicFirmware) and checked against a table
 * written here from reference/mstflint-secure-update.md §1.3–1.9 and docs/protocol.md §5.3–5.4,
 * not from the firmware's own table (wasm/firmware/mcc-table.ts).
 *
 * Guards inside a cell: the handle (none, a wrong one, the owner's; in IDLE the one QUERY offered),
 * an image pending or not, the owner silent for 9 999 ms or 10 000 ms (FORCE_HANDLE_RELEASE), and
 * where a cell depends on the download: nothing received / the whole image received (VERIFY),
 * verified or not (ACTIVATE), and a resumable download kept in the inactive bank or not
 * (RESUME_COMPONENT, issue #13: docs/protocol.md §5.6).
 *
 * States the firmware can be in: IDLE, LOCKED, INITIALIZE, DOWNLOAD, UPLOAD, UPLOAD_PENDING.
 * VERIFY, APPLY and ACTIVATE are never entered: VERIFY_COMPONENT and ACTIVATE finish within their
 * command and the answer already shows LOCKED, because mstflint reads the state from the VERIFY
 * answer and does not poll (reference §1.6, §1.7 step 7; protocol §5.1). The last describe shows a
 * whole update never reports them. DOWNSTREAM_DEVICE_TRANSFER (0x9) is LinkX only.
 *
 * The mutation check changes one cell of the firmware's table in the NIC's RAM (NicFirmware
 * mccTable) and asserts this table then disagrees with the device, for every reachable cell.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EmulatedNic, type NicState } from '../../../src/emulator/nic.ts';
import type { NicFirmware } from '../../../src/emulator/firmware.ts';
import { MCC_ERROR, MCC_INSTRUCTION as I, MCC_STATE, REG_STATUS, mccStateName } from '../../../src/core/update/mcc-codes.ts';
import { newNic, sample, update } from './nic-helpers.ts';

type State = 'IDLE' | 'LOCKED' | 'INITIALIZE' | 'DOWNLOAD' | 'UPLOAD' | 'UPLOAD_PENDING';
const STATES: readonly State[] = ['IDLE', 'LOCKED', 'INITIALIZE', 'DOWNLOAD', 'UPLOAD', 'UPLOAD_PENDING'];

type Column = 'QUERY' | 'LOCK_UPDATE_HANDLE' | 'RELEASE_UPDATE_HANDLE' | 'UPDATE_COMPONENT' | 'VERIFY_COMPONENT' | 'ACTIVATE' | 'READ_COMPONENT' | 'CANCEL' | 'CHECK_UPDATE_HANDLE' | 'FORCE_HANDLE_RELEASE' | 'READ_PENDING_COMPONENT' | 'REACTIVATE_PREVIOUS' | 'RESUME_COMPONENT' | 'undefined' | 'DATA';
/** The instruction values each column sends (undefined: ACTIVATE_COMPONENT and DOWNSTREAM_DEVICE_TRANSFER, not implemented, and 0xFF, FSM_CMD_UNDEFINED). */
const SENDS: Record<Exclude<Column, 'DATA'>, readonly number[]> = {
  QUERY: [I.QUERY],
  LOCK_UPDATE_HANDLE: [I.LOCK_UPDATE_HANDLE],
  RELEASE_UPDATE_HANDLE: [I.RELEASE_UPDATE_HANDLE],
  UPDATE_COMPONENT: [I.UPDATE_COMPONENT],
  VERIFY_COMPONENT: [I.VERIFY_COMPONENT],
  ACTIVATE: [I.ACTIVATE],
  READ_COMPONENT: [I.READ_COMPONENT],
  CANCEL: [I.CANCEL],
  CHECK_UPDATE_HANDLE: [I.CHECK_UPDATE_HANDLE],
  FORCE_HANDLE_RELEASE: [I.FORCE_HANDLE_RELEASE],
  READ_PENDING_COMPONENT: [I.READ_PENDING_COMPONENT],
  REACTIVATE_PREVIOUS: [I.REACTIVATE_PREVIOUS],
  RESUME_COMPONENT: [I.RESUME_COMPONENT],
  undefined: [I.ACTIVATE_COMPONENT, I.DOWNSTREAM_DEVICE_TRANSFER, 0xff],
};
/** The firmware table's columns, in the order of the MCC instruction values (reference §1.3), then "any other". */
const TABLE_COLUMNS = Object.keys(SENDS) as Exclude<Column, 'DATA'>[];
const COLUMNS: readonly Column[] = [...TABLE_COLUMNS, 'DATA'];

/** The conditions a cell can depend on. */
interface Case {
  /** IDLE: 'owner' is the handle QUERY offered. */
  handle: 'none' | 'wrong' | 'owner';
  pending: boolean;
  /** Milliseconds since the owner's last command (FORCE_HANDLE_RELEASE only). */
  silentMs: number;
  /** DOWNLOAD: the whole image has arrived. LOCKED: it was downloaded and verified. */
  downloaded: boolean;
  /**
   * The inactive bank holds a resumable (format v2) download of good.tfw (QUERY tag 26): one kept
   * from an earlier flow, or this flow's own once its head was accepted (kept until ACTIVATE).
   */
  resumable: boolean;
}

interface Outcome {
  rs: keyof typeof REG_STATUS;
  next: State | 'same';
  /** error_code after (default OK). */
  error?: keyof typeof MCC_ERROR;
  /** STATUS "pending reset" after, when the cell changes it. */
  pending?: boolean;
  /** QUERY in IDLE draws a new handle. */
  newOffer?: boolean;
}

/** §5.4: 10 000 ms of owner silence before FORCE_HANDLE_RELEASE is honoured. */
const FORCE_SILENCE_MS = 10_000;

const bad: Outcome = { rs: 'BAD_PARAM', next: 'same' };
const same: Outcome = { rs: 'OK', next: 'same' };
type Rule = (c: Case) => Outcome;
const always =
  (o: Outcome): Rule =>
  () =>
    o;
/** Every instruction but QUERY, LOCK and FORCE needs the owner's handle; otherwise BAD_PARAM and nothing changes (§5.3). */
const owner =
  (r: Rule): Rule =>
  (c) =>
    c.handle === 'owner' ? r(c) : bad;
const force: Rule = (c) => (c.silentMs >= FORCE_SILENCE_MS ? { rs: 'OK', next: 'IDLE' } : { rs: 'RES_NOT_AVLBL', next: 'same' });

/** An owned state between steps: the cells every owned state shares (§5.3, reference §1.9 "any owned state"). */
const ownedRow = (extra: Partial<Record<Column, Rule>>): Record<Column, Rule> => ({
  QUERY: always(same),
  LOCK_UPDATE_HANDLE: always({ rs: 'RES_NOT_AVLBL', next: 'same' }), // held, even by the caller itself
  RELEASE_UPDATE_HANDLE: always(bad),
  UPDATE_COMPONENT: always(bad),
  VERIFY_COMPONENT: always(bad),
  ACTIVATE: always(bad),
  READ_COMPONENT: always(bad),
  CANCEL: owner(always({ rs: 'OK', next: 'LOCKED' })), // reference §1.9: any owned state → LOCKED
  CHECK_UPDATE_HANDLE: owner(always(same)),
  FORCE_HANDLE_RELEASE: force,
  READ_PENDING_COMPONENT: always(bad),
  REACTIVATE_PREVIOUS: always(bad),
  RESUME_COMPONENT: always(bad), // starts a download: only between steps, like UPDATE_COMPONENT
  undefined: always(bad),
  DATA: always(bad),
  ...extra,
});

/** The expected table. */
const EXPECTED: Record<State, Record<Column, Rule>> = {
  IDLE: {
    QUERY: always({ ...same, newOffer: true }), // reference §1.7 step 3: the MCC GET offers a handle
    LOCK_UPDATE_HANDLE: (c) => (c.handle === 'owner' ? { rs: 'OK', next: 'LOCKED' } : bad), // only the offered handle
    RELEASE_UPDATE_HANDLE: always(bad),
    UPDATE_COMPONENT: always(bad),
    VERIFY_COMPONENT: always(bad),
    ACTIVATE: always(bad),
    READ_COMPONENT: always(bad),
    CANCEL: always(bad),
    CHECK_UPDATE_HANDLE: always(bad),
    FORCE_HANDLE_RELEASE: always(same), // nothing to release
    READ_PENDING_COMPONENT: always(bad),
    REACTIVATE_PREVIOUS: always(bad), // needs the owner's handle (S8)
    RESUME_COMPONENT: always(bad), // needs the owner's handle
    undefined: always(bad),
    DATA: always(bad),
  },
  LOCKED: ownedRow({
    RELEASE_UPDATE_HANDLE: owner(always({ rs: 'OK', next: 'IDLE' })),
    // §5.4: an image pending blocks the next download (0x09); erase time 0 here, so the answer shows DOWNLOAD
    UPDATE_COMPONENT: owner((c) => (c.pending ? { rs: 'OK', next: 'same', error: 'BLOCKED_PENDING_RESET' } : { rs: 'OK', next: 'DOWNLOAD' })),
    ACTIVATE: owner((c) => (c.downloaded ? { rs: 'OK', next: 'same', pending: true } : { rs: 'OK', next: 'same', error: 'ERROR' })),
    READ_COMPONENT: owner(always({ rs: 'OK', next: 'UPLOAD' })),
    READ_PENDING_COMPONENT: owner((c) => (c.pending ? { rs: 'OK', next: 'UPLOAD_PENDING' } : { rs: 'OK', next: 'same', error: 'ERROR' })),
    REACTIVATE_PREVIOUS: owner((c) => (c.pending ? { rs: 'OK', next: 'same', pending: false } : { rs: 'OK', next: 'same', error: 'ERROR' })),
    // §5.6: re-check (INITIALIZE, no time here) → DOWNLOAD; nothing resumable of that size: 0x01, still LOCKED
    RESUME_COMPONENT: owner((c) => (c.resumable ? { rs: 'OK', next: 'DOWNLOAD' } : { rs: 'OK', next: 'same', error: 'ERROR' })),
  }),
  INITIALIZE: ownedRow({
    FORCE_HANDLE_RELEASE: always({ rs: 'RES_NOT_AVLBL', next: 'same' }), // never during the erase (S8)
    DATA: owner(always({ rs: 'DEV_BUSY', next: 'same' })),
  }),
  DOWNLOAD: ownedRow({
    // §5.5: VERIFY answers with LOCKED; an incomplete image is 0x08
    VERIFY_COMPONENT: owner((c) => (c.downloaded ? { rs: 'OK', next: 'LOCKED' } : { rs: 'OK', next: 'LOCKED', error: 'REJECTED_BAD_FORMAT' })),
    DATA: owner((c) => (c.downloaded ? { rs: 'OK', next: 'LOCKED', error: 'REJECTED_BAD_FORMAT' } : { rs: 'OK', next: 'same' })),
  }),
  UPLOAD: ownedRow({ RELEASE_UPDATE_HANDLE: owner(always({ rs: 'OK', next: 'IDLE' })) }),
  UPLOAD_PENDING: ownedRow({ RELEASE_UPDATE_HANDLE: owner(always({ rs: 'OK', next: 'IDLE' })) }),
};

/** The guard combinations each state can be in (an image pending rules out a download: §5.4). */
function casesFor(state: State, col: Column): Case[] {
  const pendingChoices: Record<State, boolean[]> = { IDLE: [false, true], LOCKED: [false, true], INITIALIZE: [false], DOWNLOAD: [false], UPLOAD: [false, true], UPLOAD_PENDING: [true] };
  const out: Case[] = [];
  for (const handle of ['none', 'wrong', 'owner'] as const) {
    for (const pending of pendingChoices[state]) {
      const downloads = state === 'DOWNLOAD' || (state === 'LOCKED' && !pending) ? [false, true] : [false];
      for (const downloaded of downloads) {
        // a flow's own v2 download is resumable once its head is in; a kept one only with nothing pending
        const resumables = downloaded ? [true] : col === 'RESUME_COMPONENT' && !pending && state !== 'INITIALIZE' && state !== 'DOWNLOAD' ? [false, true] : [false];
        for (const resumable of resumables) {
          for (const silentMs of col === 'FORCE_HANDLE_RELEASE' ? [FORCE_SILENCE_MS - 1, FORCE_SILENCE_MS] : [0]) out.push({ handle, pending, silentMs, downloaded, resumable });
        }
      }
    }
  }
  return out;
}

let fresh: NicState;
let withPending: NicState;
/** Half of good.tfw in the inactive bank, its flow gone (the NIC's RAM lost): kept by the journal. */
let withResumable: NicState;
const good = sample('good');
const BLOCK = 4096;

beforeAll(async () => {
  const nic = await newNic();
  fresh = nic.snapshot();
  expect(await update(nic, good)).toBe(0);
  withPending = nic.snapshot();
  const partial = await newNic();
  const fw = partial.firmware;
  fw.mcc(I.QUERY, 0, 0);
  const h = fw.status().handle;
  fw.mcc(I.LOCK_UPDATE_HANDLE, h, 0);
  fw.mcc(I.UPDATE_COMPONENT, h, good.length);
  for (let at = 0; at < good.length / 2; at += BLOCK) expect(fw.writeBlock(h, at, good.subarray(at, at + BLOCK))).toBe(REG_STATUS.OK);
  withResumable = partial.snapshot();
});

/** Overrides one cell of the firmware's table in the NIC's RAM (the mutation check). */
interface Patch {
  state: number;
  column: number;
  action: (cells: Uint8Array, columns: number) => number;
}

class Unreachable extends Error {}

/** A NIC in `state` for `c`, on a clock that stands still. */
async function rig(state: State, c: Case, patch?: Patch) {
  let t = 1000;
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const nic = await EmulatedNic.create({ state: c.pending ? withPending : c.resumable && !c.downloaded ? withResumable : fresh, clock: clock.now });
  const fw = nic.firmware;
  if (patch) {
    const { columns, cells } = fw.mccTable();
    cells[patch.state * columns + patch.column] = patch.action(cells, columns);
  }
  const step = (what: string, rs: number) => {
    if (rs !== REG_STATUS.OK || fw.status().error !== 0) throw new Unreachable(`${state}: ${what} answered ${rs}, error ${fw.status().error}`);
  };
  step('QUERY', fw.mcc(I.QUERY, 0, 0));
  const offered = fw.status().handle;
  if (state !== 'IDLE') step('LOCK', fw.mcc(I.LOCK_UPDATE_HANDLE, offered, 0));
  const h = offered;
  const download = () => {
    for (let at = 0; at < good.length; at += BLOCK) step(`DATA ${at}`, fw.writeBlock(h, at, good.subarray(at, at + BLOCK)));
  };
  switch (state) {
    case 'LOCKED':
      if (c.downloaded) {
        step('UPDATE', fw.mcc(I.UPDATE_COMPONENT, h, good.length));
        download();
        step('VERIFY', fw.mcc(I.VERIFY_COMPONENT, h, 0));
      }
      break;
    case 'INITIALIZE':
      // an erase long enough to outlast the 10 s of silence (17 sectors × 1 s)
      fw.setEraseTiming(1000);
      step('UPDATE', fw.mcc(I.UPDATE_COMPONENT, h, good.length));
      break;
    case 'DOWNLOAD':
      step('UPDATE', fw.mcc(I.UPDATE_COMPONENT, h, good.length));
      if (c.downloaded) download();
      break;
    case 'UPLOAD':
      step('READ', fw.mcc(I.READ_COMPONENT, h, 0));
      break;
    case 'UPLOAD_PENDING':
      step('READ_PENDING', fw.mcc(I.READ_PENDING_COMPONENT, h, 0));
      break;
  }
  const at = mccStateName(fw.status().state);
  if (at !== state) throw new Unreachable(`driving to ${state} ended in ${at}`);
  if (tag26(fw) !== c.resumable) throw new Unreachable(`driving to ${state}: resumable ${!c.resumable}, expected ${c.resumable}`);
  clock.advance(c.silentMs);
  const sent = c.handle === 'none' ? 0 : c.handle === 'wrong' ? h ^ 1 : h;
  return { fw, sent, clock };
}

/** QUERY tag 26 is present (a resumable download). */
function tag26(fw: NicFirmware): boolean {
  const q = fw.queryBytes();
  for (let at = 0; at + 3 <= q.length; at += 3 + (q[at + 1]! | (q[at + 2]! << 8))) if (q[at] === 26) return true;
  return false;
}

const describeCase = (c: Case) =>
  `${c.handle} handle${c.pending ? ', image pending' : ''}${c.downloaded ? ', image downloaded' : ''}${c.resumable && !c.downloaded ? ', a download kept' : ''}${c.silentMs ? `, owner silent ${c.silentMs} ms` : ''}`;

/** Sends one column in one case; returns what differs from the expected table (empty: agrees). */
async function checkCase(state: State, col: Column, c: Case, patch?: Patch): Promise<string[]> {
  const want = EXPECTED[state][col](c);
  const sends = col === 'DATA' ? [-1] : SENDS[col];
  const diffs: string[] = [];
  for (const instr of sends) {
    const where = `${state} × ${col}${sends.length > 1 ? ` 0x${instr.toString(16)}` : ''} (${describeCase(c)})`;
    let r: Awaited<ReturnType<typeof rig>>;
    try {
      r = await rig(state, c, patch);
    } catch (e) {
      if (e instanceof Unreachable) return [`${where}: ${e.message}`];
      throw e;
    }
    const { fw, sent } = r;
    const before = fw.status();
    const sized = instr === I.UPDATE_COMPONENT || instr === I.RESUME_COMPONENT;
    const got = instr < 0 ? fw.writeBlock(sent, c.downloaded ? good.length : 0, good.subarray(0, 16)) : fw.mcc(instr, sent, sized ? good.length : 0);
    const after = fw.status();
    const next = want.next === 'same' ? state : want.next;
    const seen = { rs: got, state: mccStateName(after.state), error: after.error, owned: (after.flags & 1) !== 0 };
    const expected = { rs: REG_STATUS[want.rs], state: next, error: MCC_ERROR[want.error ?? 'OK'], owned: next !== 'IDLE' };
    if (JSON.stringify(seen) !== JSON.stringify(expected)) diffs.push(`${where}: got ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
    if (instr >= 0 && after.result !== got) diffs.push(`${where}: STATUS result ${after.result} ≠ ${got}`);
    if (want.pending !== undefined && ((after.flags & 2) !== 0) !== want.pending) diffs.push(`${where}: pending reset ${!want.pending}, expected ${want.pending}`);
    if (want.newOffer && after.handle === before.handle) diffs.push(`${where}: no new handle offered`);
    if (!want.newOffer && next === state && state === 'IDLE' && after.handle !== before.handle) diffs.push(`${where}: the offered handle changed`);
  }
  return diffs;
}

async function checkCell(state: State, col: Column, patch?: Patch, stopAtFirst = false): Promise<string[]> {
  const diffs: string[] = [];
  for (const c of casesFor(state, col)) {
    diffs.push(...(await checkCase(state, col, c, patch)));
    if (stopAtFirst && diffs.length > 0) break;
  }
  return diffs;
}

describe('MCC state × instruction: every cell and the guards inside it, against the real firmware', () => {
  for (const state of STATES) {
    for (const col of COLUMNS) {
      it(`${state} × ${col} (${casesFor(state, col).length} cases)`, async () => {
        expect(await checkCell(state, col)).toEqual([]);
      });
    }
  }
});

describe('the table test fails when any one cell of the firmware table changes', () => {
  // The replacement is read from cells the expected table says refuse: a refusal cell becomes the
  // other refusal, an acting cell a refusal, so no replacement acts the same as the original.
  const badParamCell = { state: MCC_STATE.IDLE, column: TABLE_COLUMNS.indexOf('RELEASE_UPDATE_HANDLE') };
  const resNotAvlblCell = { state: MCC_STATE.LOCKED, column: TABLE_COLUMNS.indexOf('LOCK_UPDATE_HANDLE') };
  const refusalSwap =
    (state: number, column: number) =>
    (cells: Uint8Array, columns: number): number => {
      const bp = cells[badParamCell.state * columns + badParamCell.column]!;
      const rna = cells[resNotAvlblCell.state * columns + resNotAvlblCell.column]!;
      return cells[state * columns + column] === rna ? bp : rna;
    };

  it('the firmware table has a row per control_state 0x0..0x8 and a column per instruction', async () => {
    const nic = await newNic();
    const t = nic.firmware.mccTable();
    expect([t.rows, t.columns]).toEqual([MCC_STATE.UPLOAD_PENDING + 1, TABLE_COLUMNS.length]);
  });

  for (const state of STATES) {
    for (const col of TABLE_COLUMNS) {
      it(`${state} × ${col} changed to another refusal or a refusal: the test fails`, async () => {
        const s = MCC_STATE[state];
        const column = TABLE_COLUMNS.indexOf(col);
        const diffs = await checkCell(state, col, { state: s, column, action: refusalSwap(s, column) }, true);
        expect(diffs.length, `a changed ${state} × ${col} went unnoticed`).toBeGreaterThan(0);
      });
    }
  }

  // A cell given another cell's action (not only a refusal) is noticed too.
  const swaps: [State, Exclude<Column, 'DATA'>, State, Exclude<Column, 'DATA'>][] = [
    ['IDLE', 'QUERY', 'LOCKED', 'QUERY'],
    ['LOCKED', 'READ_COMPONENT', 'LOCKED', 'READ_PENDING_COMPONENT'],
    ['LOCKED', 'RELEASE_UPDATE_HANDLE', 'LOCKED', 'CANCEL'],
    ['LOCKED', 'ACTIVATE', 'LOCKED', 'CHECK_UPDATE_HANDLE'],
    ['LOCKED', 'REACTIVATE_PREVIOUS', 'LOCKED', 'CHECK_UPDATE_HANDLE'],
    ['LOCKED', 'RESUME_COMPONENT', 'LOCKED', 'UPDATE_COMPONENT'],
    ['LOCKED', 'UPDATE_COMPONENT', 'LOCKED', 'RESUME_COMPONENT'],
    ['LOCKED', 'RESUME_COMPONENT', 'LOCKED', 'CHECK_UPDATE_HANDLE'],
    ['DOWNLOAD', 'VERIFY_COMPONENT', 'DOWNLOAD', 'CANCEL'],
    ['UPLOAD', 'FORCE_HANDLE_RELEASE', 'INITIALIZE', 'FORCE_HANDLE_RELEASE'],
    ['INITIALIZE', 'FORCE_HANDLE_RELEASE', 'DOWNLOAD', 'FORCE_HANDLE_RELEASE'],
  ];
  for (const [state, col, fromState, fromCol] of swaps) {
    it(`${state} × ${col} given the action of ${fromState} × ${fromCol}: the test fails`, async () => {
      const from = MCC_STATE[fromState] * TABLE_COLUMNS.length + TABLE_COLUMNS.indexOf(fromCol);
      const diffs = await checkCell(state, col, { state: MCC_STATE[state], column: TABLE_COLUMNS.indexOf(col), action: (cells) => cells[from]! }, true);
      expect(diffs.length, `${state} × ${col} with another action went unnoticed`).toBeGreaterThan(0);
    });
  }
});

describe('states the firmware never enters', () => {
  it('a whole update (QUERY … RELEASE) never reports VERIFY, APPLY or ACTIVATE: those finish within their command', async () => {
    const clock = { t: 1000 };
    const nic = await EmulatedNic.create({ state: fresh, clock: () => clock.t, timing: 'full-speed' });
    const fw: NicFirmware = nic.firmware;
    const seen = new Set<string>();
    const look = () => seen.add(mccStateName(fw.status().state));
    fw.mcc(I.QUERY, 0, 0);
    const h = fw.status().handle;
    for (const i of [I.LOCK_UPDATE_HANDLE, I.UPDATE_COMPONENT]) {
      expect(fw.mcc(i, h, good.length)).toBe(REG_STATUS.OK);
      look();
    }
    while (fw.status().state === MCC_STATE.INITIALIZE) clock.t += 1;
    for (let at = 0; at < good.length; at += BLOCK) {
      expect(fw.writeBlock(h, at, good.subarray(at, at + BLOCK))).toBe(REG_STATUS.OK);
      look();
    }
    for (const i of [I.VERIFY_COMPONENT, I.ACTIVATE, I.RELEASE_UPDATE_HANDLE]) {
      expect(fw.mcc(i, h, 0)).toBe(REG_STATUS.OK);
      expect(fw.status().error).toBe(0);
      look();
    }
    expect([...seen]).toEqual(['LOCKED', 'INITIALIZE', 'DOWNLOAD', 'IDLE']);
  });
});
