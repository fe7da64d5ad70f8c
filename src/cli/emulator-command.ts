/**
 * `trustflash emulator init|reboot|gadget`: the emulated NIC's factory (a NIC trusting the demo keys
 * or the operator's own, refused in production mode when it would trust only demo keys), its power
 * cycle, and the USB gadget that serves it through a real kernel USB stack.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NicClient } from '../core/update/nic-client.ts';
import { bootStatusText } from '../core/update/protocol.ts';
import { journalPath } from './state-journal.ts';
import { loadNic, loadState, saveNic } from './nic-state.ts';
import { lockState } from './state-lock.ts';
import { checkLandingPage, createEmulatedNic, type EmulatedUSBDevice } from '../emulator/index.ts';
import { bool, list, need, parseArgs, str, UsageError } from './args.ts';
import { IoError, type Io } from './io.ts';
import { closest, flagSpec, subcommands } from './help.ts';
import { factoryImageTrustingPems } from '../core/sign/factory-image.ts';
import { describeFormatError, parseImage } from '../core/image/parse.ts';
import { demoNicProblem } from '../core/verify/production.ts';
import { productionMode } from './production-flag.ts';
import { demoDeviceCaIssuer } from '../service/demo-device-ca.ts';
import { decodeQueryFromNic, faultsOf, openHost } from './device-commands.ts';

const MiB = 1024 * 1024;

/**
 * The demo factory image: public/samples/factory.tfw if built, else made from the committed demo
 * keys; looked for in the working directory, then in the clone the CLI runs from (so the README's
 * recipes work from any folder).
 */
async function demoFactory(io: Io): Promise<Uint8Array> {
  const roots = [io.cwd, packageRoot()].filter((r): r is string => r !== undefined);
  for (const root of roots) {
    const built = join(root, 'public/samples/factory.tfw');
    if (await io.exists(built)) return io.readBytes(built);
  }
  const keysRoot = roots.find((r) => existsSync(join(r, 'src/assets/demo-keys/signer/key.pem')));
  if (!keysRoot) throw new IoError('no demo factory image here: pass --image FACTORY.tfw (or run from a clone after npm run samples)');
  const { makeSamples } = await import('./make-samples.ts');
  const dir = await mkdtemp(join(tmpdir(), 'trustflash-factory-'));
  try {
    await makeSamples(dir, { big: false, keysDir: join(keysRoot, 'src/assets/demo-keys') });
    return await io.readBytes(join(dir, 'factory.tfw'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The clone or package this CLI runs from: the nearest folder above this module whose package.json is trustflash's. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'trustflash') return dir;
    } catch {
      /* not here */
    }
    dir = dirname(dir);
  }
  return undefined;
}

/** The factory image with its nextKeys replaced by the operator's public keys (PEM: PUBLIC KEY or CERTIFICATE). */
async function trustingFactory(io: Io, base: Uint8Array, paths: readonly string[]): Promise<Uint8Array> {
  const r = await factoryImageTrustingPems(base, await Promise.all(paths.map(async (name) => ({ name, text: await io.readText(name) }))));
  if (!r.ok) throw new IoError(`--trust-key: ${r.reason}`);
  return r.image;
}

/** `emulator init --production`: a NIC that trusts a demo key is not made (production.ts). */
async function productionNicCheck(image: Uint8Array, withTrustKeys: boolean): Promise<void> {
  const parsed = parseImage(image);
  if (!parsed.ok) throw new IoError(`the factory image does not parse: ${describeFormatError(parsed.error)}`);
  const problem = await demoNicProblem(parsed.value.manifest.nextKeys);
  if (problem) throw new IoError(`cannot manufacture the NIC, ${problem}${withTrustKeys ? '' : ': pass --trust-key YOUR.pub (or --image with a factory image whose nextKeys are your keys)'}`);
}

export async function cmdEmulator(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'init') {
    const p = parseArgs(rest, flagSpec('emulator init'));
    const path = need(p, 'state');
    lockState(io, path);
    if (!bool(p, 'force') && (await io.exists(path))) throw new IoError(`${path} already exists (pass --force to replace it: that is a factory reset)`);
    const bankMiB = Number(str(p, 'bank-size') ?? 64);
    if (!Number.isInteger(bankMiB) || bankMiB < 1 || bankMiB > 256) throw new UsageError('--bank-size is in MiB, 1..256');
    const base = str(p, 'image') ? await io.readBytes(str(p, 'image')!) : await demoFactory(io);
    const trustKeys = list(p, 'trust-key');
    const image = trustKeys.length ? await trustingFactory(io, base, trustKeys) : base;
    if (productionMode(p)) await productionNicCheck(image, trustKeys.length > 0);
    let dev: EmulatedUSBDevice;
    try {
      dev = await createEmulatedNic({
        factoryImage: image,
        // the factory's device CA certifies the NIC's attestation key (issue #14): the DEMO one
        attestationIssuer: await demoDeviceCaIssuer(),
        bankSize: bankMiB * MiB,
        identity: { ...(str(p, 'serial') ? { serial: str(p, 'serial')! } : {}), ...(str(p, 'psid') ? { psid: str(p, 'psid')! } : {}) },
      });
    } catch (e) {
      throw new IoError(`cannot manufacture the NIC: ${(e as Error).message}`);
    }
    await saveNic(io, path, dev);
    const q = await new NicClient(await openHost(dev)).query();
    io.out(`${path}: emulated NIC ${q.serial} (PSID ${q.psid}) manufactured; ${bootStatusText(dev.nic.firmware.status().bootStatus)}; running ${q.fwVersionRunning ?? 'nothing'}`);
    if (trustKeys.length) io.out(`it accepts updates signed by ${trustKeys.join(', ')} (key id${q.keyIds && q.keyIds.length > 1 ? 's' : ''} ${(q.keyIds ?? []).map((k) => k.slice(0, 16)).join(', ')}), and nothing signed by the demo keys`);
    return q.fwVersionRunning ? 0 : 1;
  }
  if (sub === 'reboot') {
    const p = parseArgs(rest, flagSpec('emulator reboot'));
    const path = need(p, 'state');
    const dev = await loadNic(io, path);
    const boot = await dev.nic.reset();
    await saveNic(io, path, dev);
    const q = decodeQueryFromNic(dev);
    io.out(`${path}: reset: ${bootStatusText(boot)}; running ${q ?? 'nothing'}`);
    // 3 no manufacturing data, 4 no boot record, 6 no valid image: the NIC is not running firmware
    return boot === 3 || boot === 4 || boot === 6 ? 1 : 0;
  }
  if (sub === 'gadget') return cmdGadget(rest, io);
  const guess = sub ? closest(sub, subcommands('emulator')) : undefined;
  throw new UsageError(`emulator takes init, reboot or gadget, got ${JSON.stringify(sub ?? '')}${guess ? ` (did you mean "${guess}"?)` : ''}`);
}

/**
 * `emulator gadget`: serves the NIC in state file S on a real USB bus (a Linux configfs gadget on a
 * UDC, FunctionFS on ep0) until SIGTERM or SIGINT. Every flash change is written through to S, so a
 * killed process is a power cut and starting it again is the next power-on.
 */
async function cmdGadget(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('emulator gadget'));
  const path = need(p, 'state');
  const faults = faultsOf(p);
  const landingPage = str(p, 'landing-page');
  if (landingPage !== undefined) {
    try {
      checkLandingPage(landingPage);
    } catch (e) {
      throw new UsageError(`--landing-page: ${(e as Error).message}`);
    }
  }
  const state = { value: (await loadState(io, path)).state };
  const t0 = performance.now();
  const stamp = () => `+${((performance.now() - t0) / 1000).toFixed(3)}s`;
  const [{ EmulatedNic }, { NicUsbFunction }, { GadgetBridge }, { WriteThroughState }] = await Promise.all([
    import('../emulator/index.ts'),
    import('../emulator/index.ts'),
    import('../gadget/bridge.ts'),
    import('../gadget/state-file.ts'),
  ]);
  // the gadget process is the NIC's power: starting it is a power-on (a pending image is applied)
  const nic = await EmulatedNic.create({ state: state.value, start: 'boot', faults });
  if (nic.migrated) io.err(`gadget: ${path}: ${nic.migrated}`);
  const store = WriteThroughState.open(path, nic);
  // the dense rewrite holds what a journal left by a killed command had: it is done with
  rmSync(journalPath(resolve(io.cwd, path)), { force: true });
  const fn = new NicUsbFunction(nic, { vendorRequests: !bool(p, 'generic'), ...(landingPage !== undefined ? { landingPage } : {}) });
  let bridge: InstanceType<typeof GadgetBridge>;
  try {
    bridge = new GadgetBridge(fn, { ...(str(p, 'udc') ? { udc: str(p, 'udc')! } : {}), ...(str(p, 'name') ? { name: str(p, 'name')! } : {}), verbose: bool(p, 'verbose'), log: (l) => io.err(`gadget ${stamp()}: ${l}`) });
  } catch (e) {
    store.close();
    throw new IoError((e as Error).message);
  }
  nic.on((e) => io.err(`gadget: NIC ${e.kind === 'boot' ? `booted: ${e.text}` : e.kind === 'power-loss' ? `power lost during ${e.where}` : `fault: ${e.fault}`}`));
  const ready = str(p, 'ready');
  let first = true;
  bridge.onBound(() => {
    if (first && ready) void io.writeBytes(ready, new TextEncoder().encode(`${process.pid}\n`));
    first = false;
  });
  const stop = () => bridge.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  io.err(`gadget: NIC powered on: ${bootStatusText(nic.firmware.bootStatus())}`);
  io.err(`gadget: serving ${nic.identity.serial} from ${path} on ${bridge.udc}${bool(p, 'generic') ? ' as a generic DFU device' : ''}`);
  try {
    await bridge.run();
  } finally {
    bridge.tearDown();
    store.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  const s = bridge.stats;
  io.err(`gadget: stopped after ${s.enumerations} enumerations, ${s.requests} requests (${s.stalls} stalled, ${s.lateStalls} refused after their data stage), ${s.resets} USB resets, ${s.cablePulls} cable pulls, ${s.ep0Errors} ep0 errors; ${store.written} bytes written through`);
  return 0;
}
