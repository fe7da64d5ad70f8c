/**
 * Write-through for `--emulated --state S` (issue #13): a command killed in the middle of an
 * update is a power loss of the NIC at that instant — the next command replays the journal, says
 * so, and the NIC powers on running its old image; the same update run again resumes the download
 * the NIC kept — and the journal itself is robust: a record cut
 * by the kill or damaged is where the replay stops, and a journal of an older state is never
 * replayed onto a newer one.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, releaseBinary, tempDir, tf, tfBin } from './helpers.ts';
import { smallCertImage } from '../helpers/demo.ts';
import { decodeState } from '../../../src/emulator/index.ts';
import { journalPath, replayJournal } from '../../../src/cli/state-journal.ts';

const NOW = ['--now', '2026-11-22T00:00:00Z'];
let bin: string;
const { dir, cleanup } = tempDir('tf-journal-');
const ROOT_PEM = join(process.cwd(), 'src/assets/demo-keys/root/cert.pem');

beforeAll(async () => {
  bin = await ensureBinary();
  writeFileSync(join(dir, 'big.tfw'), await smallCertImage(3 * 1024 * 1024));
}, 120_000);
afterAll(async () => {
  releaseBinary();
  await cleanup();
});

async function freshNic(name: string): Promise<string> {
  const state = join(dir, `${name}.state`);
  const r = await tf(dir, 'emulator', 'init', '--state', state, '--bank-size', '4');
  expect(r.code, r.stderr).toBe(0);
  return state;
}

/** Runs `update` in a child process and kills it (SIGKILL) once the journal holds `killAt` bytes. */
function updateKilledAt(state: string, killAt: number): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, 'update', join(dir, 'big.tfw'), '--trust', ROOT_PEM, '--emulated', '--state', state, '--timing', 'full-speed', ...NOW], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      if (existsSync(journalPath(state)) && statSync(journalPath(state)).size >= killAt) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('exit', (_code, signal) => {
      clearInterval(poll);
      res({ killed: signal === 'SIGKILL', stderr });
    });
  });
}

describe('the emulated NIC state, written through', () => {
  it('a command killed mid-download is a power loss: the next command says so, the NIC runs its old image, a retry succeeds', async () => {
    const state = await freshNic('killed');
    const sizeBefore = statSync(state).size;
    const { killed } = await updateKilledAt(state, 2 * 1024 * 1024);
    expect(killed).toBe(true);
    expect(existsSync(journalPath(state))).toBe(true);
    // the state file was not touched by the killed command: everything it did is in the journal
    expect(statSync(state).size).toBe(sizeBefore);
    const q = await tf(dir, 'query', '--emulated', '--state', state, '--json');
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toMatch(/the last command on this NIC was cut off after \d+ flash operations.*the NIC lost power then and powers on now/);
    const j = JSON.parse(q.stdout).query;
    expect([j.fwVersionRunning, j.fwVersionPending]).toEqual(['28.39.1002', undefined]);
    // the NIC kept what it had verified of the download (QUERY tag 26), and says so
    expect(j.resumable.size).toBe(statSync(join(dir, 'big.tfw')).size);
    const text = await tf(dir, 'query', '--emulated', '--state', state);
    expect(text.stdout).toMatch(/Kept download: +\d+ of \d+ bytes verified, release [0-9a-f]{16}… \(the same update resumes there\)/);
    // replayed once: the state now holds it, the journal is gone
    expect(existsSync(journalPath(state))).toBe(false);
    const again = await tf(dir, 'query', '--emulated', '--state', state);
    expect(again.stderr).not.toMatch(/cut off/);
    // running the same update again resumes the download the NIC kept (protocol §5.6)
    const u = await tf(dir, 'update', join(dir, 'big.tfw'), '--trust', ROOT_PEM, '--emulated', '--state', state, '--json', ...NOW);
    expect(u.code, u.stdout + u.stderr).toBe(0);
    const out = JSON.parse(u.stdout);
    expect(out.outcome).toBe('updated');
    expect(out.download.resumedAt).toBeGreaterThan(0);
    expect(out.download.resumedAt + out.download.bytesSent).toBe(statSync(join(dir, 'big.tfw')).size);
    expect(existsSync(journalPath(state))).toBe(false);
  }, 120_000);

  it('replay stops at a record cut short or damaged; a journal of an older state is set aside, never replayed', async () => {
    const state = await freshNic('torn');
    await updateKilledAt(state, 256 * 1024);
    const stateBytes = readFileSync(state);
    const decoded = decodeState(stateBytes);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const wal = readFileSync(journalPath(state));
    const full = replayJournal(state, stateBytes, decoded.value);
    expect(full && 'records' in full).toBe(true);
    const n = (full as { records: number }).records;
    expect(n).toBeGreaterThan(1);
    // cut the file anywhere in the last record: one record fewer, nothing else lost
    for (const cut of [1, 17, 40]) {
      writeFileSync(journalPath(state), wal.subarray(0, wal.length - cut));
      const r = replayJournal(state, stateBytes, decoded.value) as { records: number; dropped: number };
      expect(r.records, `cut ${cut}`).toBe(n - 1);
      expect(r.dropped).toBeGreaterThan(0);
    }
    // a flipped byte in a record: the replay stops before that record
    const flipped = Uint8Array.from(wal);
    flipped[flipped.length - 100]! ^= 0x40;
    writeFileSync(journalPath(state), flipped);
    expect((replayJournal(state, stateBytes, decoded.value) as { records: number }).records).toBe(n - 1);
    // replaying never changes the state it is given
    expect(readFileSync(state).equals(stateBytes)).toBe(true);
    // the state file rewritten by something else since: the journal is stale and set aside
    writeFileSync(journalPath(state), wal);
    const other = Uint8Array.from(stateBytes);
    other[other.length - 1]! ^= 1;
    const stale = replayJournal(state, other, decoded.value);
    expect(stale && 'stale' in stale).toBe(true);
    expect(existsSync(journalPath(state))).toBe(false);
  }, 120_000);
});

describe('one command at a time on a NIC (S.lock)', () => {
  const sleeper = () => spawn('sleep', ['30']);
  const deadPid = () =>
    new Promise<number>((res) => {
      const c = spawn(process.execPath, ['-e', '0']);
      c.on('exit', () => res(c.pid!));
    });

  it('a lock held by a live process refuses every command on that state, and changes nothing', async () => {
    const state = await freshNic('locked');
    const before = readFileSync(state);
    const owner = sleeper();
    try {
      writeFileSync(`${state}.lock`, `${owner.pid}\n`);
      for (const argv of [
        ['query', '--emulated', '--state', state],
        ['update', join(dir, 'big.tfw'), '--trust', ROOT_PEM, '--emulated', '--state', state, ...NOW],
        ['emulator', 'reboot', '--state', state],
        ['emulator', 'init', '--force', '--state', state],
      ]) {
        const r = await tfBin(dir, ...argv);
        expect(r.code, argv.join(' ')).not.toBe(0);
        expect(r.stderr, argv.join(' ')).toContain(`${state} is in use by another trustflash command (process ${owner.pid}): run one command at a time on a NIC`);
      }
      expect(readFileSync(state).equals(before)).toBe(true);
      expect(existsSync(journalPath(state))).toBe(false);
    } finally {
      owner.kill();
    }
  });

  it('a lock left by a command that was killed is taken over, and let go when the command ends', async () => {
    const state = await freshNic('stale');
    for (const stale of [`${await deadPid()}\n`, 'not a pid', '']) {
      writeFileSync(`${state}.lock`, stale);
      const r = await tfBin(dir, 'query', '--emulated', '--state', state);
      expect(r.code, `${JSON.stringify(stale)}: ${r.stderr}`).toBe(0);
      expect(existsSync(`${state}.lock`)).toBe(false);
    }
  });

  it('a query while an update runs on the same state is refused; the update is not disturbed', async () => {
    const state = await freshNic('busy');
    const child = spawn(process.execPath, [bin, 'update', join(dir, 'big.tfw'), '--trust', ROOT_PEM, '--emulated', '--state', state, '--timing', 'full-speed', ...NOW], { cwd: dir });
    const done = new Promise<number>((res) => child.on('exit', (code) => res(code ?? -1)));
    while (!existsSync(journalPath(state))) await new Promise((r) => setTimeout(r, 5));
    const q = await tfBin(dir, 'query', '--emulated', '--state', state);
    expect(q.code).not.toBe(0);
    expect(q.stderr).toContain(`(process ${child.pid})`);
    expect(await done).toBe(0);
    expect(existsSync(`${state}.lock`)).toBe(false);
    const after = await tfBin(dir, 'query', '--emulated', '--state', state, '--json');
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).query.fwVersionPending).toBeDefined();
  });
});
