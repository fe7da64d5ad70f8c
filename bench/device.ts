/**
 * Device-side figures (issue #3): the emulated NIC's firmware (AssemblyScript/WASM) receiving and
 * verifying a 64 MiB image through its MCC interface in the instant timing model — its own SHA-256
 * over every byte, the flash model's writes, the RSA check of the head — next to hash-wasm and
 * WebCrypto hashing the same bytes on the host, in the same run.
 */
import { readFile } from 'node:fs/promises';
import { EmulatedNic } from '../src/emulator/nic.ts';
import { sha256Chunked, sha256WebCrypto } from '../src/core/crypto/sha256.ts';
import { importSigningKey } from '../src/core/crypto/private-key.ts';
import { signImage } from '../src/core/sign/sign-image.ts';
import { demoPayload } from '../src/cli/make-samples.ts';

const MiB = 1024 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

async function deviceUpdate(nic: EmulatedNic, image: Uint8Array, block: number): Promise<{ ms: number; error: number; transfers: number }> {
  const fw = nic.firmware;
  const t = performance.now();
  fw.mcc(0, 0, 0);
  const h = fw.status().handle;
  fw.mcc(1, h, 0);
  fw.mcc(3, h, image.length);
  let transfers = 3;
  for (let at = 0; at < image.length; at += block) {
    fw.writeBlock(h, at, image.subarray(at, at + block));
    transfers++;
  }
  fw.mcc(4, h, 0);
  const error = fw.status().error;
  fw.mcc(8, h, 0);
  fw.mcc(2, h, 0);
  return { ms: performance.now() - t, error, transfers: transfers + 3 };
}

export async function deviceBench(runs = 3): Promise<string[]> {
  const size = 64 * MiB;
  const key = await importSigningKey(await readFile('src/assets/demo-keys/signer/key.pem', 'utf8'));
  if (!key.ok) throw new Error(key.reason);
  const draft = {
    vendor: 'TrustFlash Demo', product: 'Emulated ConnectX NIC firmware', psids: ['TF_0000000001'], deviceIds: [4129], version: '28.41.1000', securityVersion: 2,
    releaseDate: 1_790_000_000, forbiddenVersions: [], nextKeys: [key.value.spki], secured: true, dev: false,
  };
  const image = await signImage(draft, demoPayload('bench 64 MiB', size), [{ key: key.value }]);
  const factory = new Uint8Array(await readFile('public/samples/factory.tfw'));
  const nic = await EmulatedNic.create({ factoryImage: factory, bankSize: 66 * MiB });
  const rows: { name: string; ms: number[] }[] = [];
  for (const block of [65536, 4096]) {
    const ms: number[] = [];
    let transfers = 0;
    for (let i = 0; i <= runs; i++) {
      const r = await deviceUpdate(nic, image, block);
      if (r.error !== 0) throw new Error(`the NIC rejected the bench image: MCC error 0x${r.error.toString(16)}`);
      if (i > 0) ms.push(r.ms); // the first run warms up
      transfers = r.transfers;
    }
    rows.push({ name: `NIC firmware (WASM): receive + hash + verify, ${block / 1024} KiB blocks (${transfers} calls)`, ms });
  }
  const host: { name: string; ms: number[] }[] = [
    { name: 'host hash-wasm SHA-256 (sha256Chunked, 2 MiB chunks) — baseline', ms: [] },
    { name: 'host WebCrypto SHA-256 (one-shot)', ms: [] },
  ];
  for (let i = 0; i <= runs; i++) {
    let t = performance.now();
    await sha256Chunked(image);
    const a = performance.now() - t;
    t = performance.now();
    await sha256WebCrypto(image);
    const b = performance.now() - t;
    if (i > 0) {
      host[0]!.ms.push(a);
      host[1]!.ms.push(b);
    }
  }
  const base = mbps(image.length, median(host[0]!.ms));
  return [
    `64 MiB signed image (${image.length} bytes), median of ${runs} runs after a warm-up, instant timing model (no emulated USB or flash delays).`,
    '',
    '| what | MB/s | vs hash-wasm |',
    '|---|---:|---:|',
    ...[...host, ...rows].map((r) => {
      const v = mbps(image.length, median(r.ms));
      return `| ${r.name} | ${v.toFixed(0)} | ${(v / base).toFixed(2)} |`;
    }),
  ];
}
