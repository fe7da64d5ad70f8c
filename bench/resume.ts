/**
 * Block-hashed images end to end (issue #13), each figure beside a baseline from the same run:
 * 1. a 64 MiB v2 image (1 MiB hash blocks), instant timing model: the whole secure-update session
 *    (host pre-flight, transfer, the device hashing each block on arrival, verify, activate) against
 *    hash-wasm hashing the same 64 MiB (target: ≤ 3×);
 * 2. resume: a power loss at 50 % of the download, then the same update again — the bytes sent
 *    again, and the resumed run's time against an uncut run;
 * 3. a tampered byte in the middle hash block: the time until the device refuses it, against the
 *    time of the whole download, driven without the host's pre-flight (which would refuse it first).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileBlob } from '../src/cli/file-blob.ts';
import { nodeBlockHasher } from '../src/cli/block-pool.ts';
import { createEmulatedNic, type Fault } from '../src/emulator/index.ts';
import { DfuHost } from '../src/core/dfu/host.ts';
import { loadTrustStore } from '../src/core/crypto/trust.ts';
import { importSigningKey } from '../src/core/crypto/private-key.ts';
import { signImage } from '../src/core/sign/sign-image.ts';
import { sha256Chunked } from '../src/core/crypto/sha256.ts';
import { UpdateSession } from '../src/core/update/session.ts';
import { NicClient } from '../src/core/update/nic-client.ts';
import { MCC_INSTRUCTION, MCC_STATE } from '../src/core/update/mcc-codes.ts';
import { DATA_HEADER_SIZE } from '../src/core/update/protocol.ts';
import { parseImageHead } from '../src/core/image/parse.ts';
import { HEAD_MAX } from '../src/core/image/layout.ts';
import { demoPayload } from '../src/cli/make-samples.ts';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/** A wTransferSize a device with a larger control buffer announces (the emulator takes 1..65535). */
const WIDE_TRANSFER = 32 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function image(): Promise<Uint8Array> {
  const key = await importSigningKey(await readFile('src/assets/demo-keys/signer/key.pem', 'utf8'));
  if (!key.ok) throw new Error(key.reason);
  return signImage(
    { vendor: 'TrustFlash Demo', product: 'Emulated ConnectX NIC firmware', psids: ['TF_0000000001'], deviceIds: [4129], version: '28.41.1000', securityVersion: 2, releaseDate: 1_790_000_000, forbiddenVersions: [], nextKeys: [key.value.spki], secured: true, dev: false },
    demoPayload('bench resume', SIZE),
    [{ key: key.value }],
    { hashBlockSize: MiB },
  );
}

/** A NIC with a bank that fits `bytes`; `transferSize` its DFU wTransferSize (the emulator's default 4096). */
async function nic(bytes: Uint8Array, faults: Fault[] = [], transferSize?: number) {
  const factory = new Uint8Array(await readFile('public/samples/factory.tfw'));
  return createEmulatedNic({ factoryImage: factory, bankSize: Math.ceil((bytes.length + MiB) / (64 * 1024)) * 64 * 1024, timing: 'instant', faults, ...(transferSize ? { transferSize } : {}) });
}

/** The image as `trustflash update` reads it: a file on disk, its blocks hashed by the CLI's thread pool. */
interface OnDisk {
  readonly path: string;
}

async function update(dev: Awaited<ReturnType<typeof nic>>, bytes: Uint8Array, disk?: OnDisk) {
  const [d] = (await dev.usb.getDevices()).filter((x) => x.serialNumber === dev.serialNumber);
  const host = new DfuHost(d ?? dev);
  await host.open();
  const { store } = await loadTrustStore([{ name: 'pub', text: await readFile('src/assets/demo-keys/signer/pubkey.pem', 'utf8') }]);
  const t0 = performance.now();
  const result = await new UpdateSession({ host, usb: dev.usb, ...(disk ? { firmware: { kind: 'file' as const, file: fileBlob(disk.path, bytes.length) }, blockHasher: nodeBlockHasher(disk.path) } : { firmware: { kind: 'image' as const, bytes } }), trust: store, now: new Date('2026-11-22T00:00:00Z') }).run();
  return { ms: performance.now() - t0, result };
}

/** The image sent straight to the device (no host pre-flight): ms until it refuses, and the offset it had taken. */
async function untilRefused(bytes: Uint8Array): Promise<{ ms: number; taken: number; code: number }> {
  const dev = await nic(bytes);
  const host = new DfuHost(dev);
  await host.open();
  const n = new NicClient(host);
  const handle = (await n.control(MCC_INSTRUCTION.QUERY, 0)).handle;
  await n.control(MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, handle);
  let s = await n.control(MCC_INSTRUCTION.UPDATE_COMPONENT, handle, bytes.length);
  while (s.state === MCC_STATE.INITIALIZE) s = await n.status();
  const size = host.functional.transferSize - DATA_HEADER_SIZE;
  const t0 = performance.now();
  for (let at = 0, k = 0; at < bytes.length; at += size, k++) {
    try {
      await n.data(handle, at, bytes.subarray(at, Math.min(bytes.length, at + size)), 'bench');
    } catch {
      /* a refused block: STATUS says why */
    }
    if (k % 64 === 63 || at + size >= bytes.length) {
      s = await n.status();
      if (s.error !== 0) return { ms: performance.now() - t0, taken: s.received, code: s.error };
    }
  }
  return { ms: performance.now() - t0, taken: bytes.length, code: 0 };
}

export async function resumeBench(): Promise<string[]> {
  const bytes = await image();
  const head = parseImageHead(bytes.subarray(0, HEAD_MAX), bytes.length);
  if (!head.ok) throw new Error(head.reason);
  const payloadOffset = head.value.payloadOffset;
  // 1. the whole session against hash-wasm over the same bytes, three of each, medians
  const work = resolve('bench/.work');
  await mkdir(work, { recursive: true });
  const disk = { path: resolve(work, 'resume-64mib.tfw') };
  await writeFile(disk.path, bytes);
  const sessions: number[] = [];
  const fromFile: number[] = [];
  const wide: number[] = [];
  const hashes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await sha256Chunked(bytes);
    hashes.push(performance.now() - t);
    const r = await update(await nic(bytes), bytes);
    if (r.result.outcome !== 'updated') throw new Error(r.result.message);
    sessions.push(r.ms);
    // the same image from a file, read and checked block by block as `trustflash update` does
    const f = await update(await nic(bytes), bytes, disk);
    if (f.result.outcome !== 'updated') throw new Error(f.result.message);
    fromFile.push(f.ms);
    // the same session with the NIC announcing 32 KiB transfers (one eighth of the requests)
    const w = await update(await nic(bytes, [], WIDE_TRANSFER), bytes);
    if (w.result.outcome !== 'updated') throw new Error(w.result.message);
    wide.push(w.ms);
  }
  await rm(disk.path, { force: true });
  const session = median(sessions);
  const hash = median(hashes);
  console.log(`  session ${(session / 1000).toFixed(2)} s, hash-wasm ${(hash / 1000).toFixed(2)} s: ${(session / hash).toFixed(2)}×`);
  // 2. a power loss at half the download, then the same update again
  const transfer = 4096 - DATA_HEADER_SIZE;
  const half = Math.floor(bytes.length / 2 / transfer);
  const dev = await nic(bytes, [{ kind: 'power-loss', block: half }]);
  const cut = await update(dev, bytes);
  if (cut.result.outcome === 'updated') throw new Error('the power loss did not happen');
  const again = await update(dev, bytes);
  if (again.result.outcome !== 'updated' || !again.result.download) throw new Error(again.result.message);
  const taken = half * transfer;
  const resent = taken - again.result.download.resumedAt;
  // 3. a byte flipped in the middle hash block, sent without the host's check
  const bad = bytes.slice();
  const middle = payloadOffset + Math.floor(head.value.payloadSize / MiB / 2) * MiB + 1234;
  bad[middle]! ^= 0x01;
  const refused = await untilRefused(bad);
  const whole = await untilRefused(bytes);
  return [
    `${(bytes.length / MiB).toFixed(0)} MiB v2 image in 1 MiB hash blocks, instant timing model (no emulated USB or flash delays), medians of 3:`,
    '',
    '| what | time | vs baseline |',
    '|---|---:|---:|',
    `| hash-wasm SHA-256 of the same bytes (sha256Chunked) — baseline | ${(hash / 1000).toFixed(2)} s | 1.00 |`,
    `| whole secure-update session (host pre-flight, transfer, device check of each block on arrival, verify, activate, release, receipt), image in memory, the NIC's default 4 KiB transfers | ${(session / 1000).toFixed(2)} s | ${(session / hash).toFixed(2)} (target ≤ 3) |`,
    `| the same session from a file on disk, as \`trustflash update\` reads it (each hash block read again and checked before it is sent) | ${(median(fromFile) / 1000).toFixed(2)} s | ${(median(fromFile) / hash).toFixed(2)} (target ≤ 3) |`,
    `| the same session (image in memory) with the NIC announcing ${WIDE_TRANSFER / 1024} KiB transfers (wTransferSize ${WIDE_TRANSFER}) | ${(median(wide) / 1000).toFixed(2)} s | ${(median(wide) / hash).toFixed(2)} (target ≤ 3) |`,
    '',
    `Resume: a power loss after ${taken} bytes (50 %), then the same update again:`,
    '',
    '| what | value |',
    '|---|---:|',
    `| resumed at (image offset; head + whole verified hash blocks) | ${again.result.download.resumedAt} |`,
    `| bytes sent again (taken before the cut, minus the resume offset) | ${resent} (${((resent / MiB) * 100).toFixed(0)} % of one hash block) |`,
    `| bytes the resumed run sent | ${again.result.download.bytesSent} of ${bytes.length} |`,
    `| resumed run / uncut run | ${(again.ms / 1000).toFixed(2)} s / ${(session / 1000).toFixed(2)} s = ${(again.ms / session).toFixed(2)} |`,
    '',
    'Early refusal: one byte flipped in the middle hash block, sent straight to the device (the host pre-flight would refuse it first):',
    '',
    '| what | time |',
    '|---|---:|',
    `| until the device refuses the block (MCC 0x${refused.code.toString(16).padStart(2, "0")}, at the transfer that completes it) | ${(refused.ms / 1000).toFixed(2)} s |`,
    `| the whole download of the good image (baseline) | ${(whole.ms / 1000).toFixed(2)} s (${(refused.ms / whole.ms).toFixed(2)} of it) |`,
  ];
}
