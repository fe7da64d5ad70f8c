/**
 * The CLI's manners, as dfu-util, openssl and imgtool users expect them: help for every command,
 * --version, "did you mean", a progress bar only on a terminal, --json that pipes to a JSON parser
 * with notes on stderr, and encrypted keys with openssl's --passin.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, flagSpec, formatCommandHelp } from '../../../src/cli/help.ts';
import { progressBar, type Io, type ProgressLine } from '../../../src/cli/io.ts';
import { run } from '../../../src/cli/main.ts';
import { makeSamples } from '../../../src/cli/make-samples.ts';
import { DEMO_KEYS, NOW, ROOT, ensureBinary, manifestJson, mustOpenssl, releaseBinary, tempDir, tf, tfBin } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let samples: string;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir('manners'));
  samples = join(dir, 'samples');
  await makeSamples(samples, { big: false });
  writeFileSync(join(dir, 'fw.bin'), new Uint8Array(4096).fill(9));
  writeFileSync(join(dir, 'm.json'), manifestJson({ nextKeys: [join(DEMO_KEYS, 'signer/pubkey.pem')] }));
});
afterAll(async () => {
  releaseBinary();
  await cleanup();
});

describe('help and version', () => {
  it('every command and subcommand has --help (and -h) listing exactly the flags it takes', async () => {
    for (const c of COMMANDS) {
      for (const h of ['--help', '-h']) {
        const r = await tf(dir, ...c.name.split(' '), h);
        expect(r.code, `${c.name} ${h}`).toBe(0);
        expect(r.stdout).toBe(formatCommandHelp(c.name) + '\n');
        expect(r.stdout).toMatch(/^Usage:\n  trustflash /);
        for (const f of Object.keys(flagSpec(c.name))) expect(r.stdout, `${c.name} lists ${f}`).toMatch(new RegExp(`^  -{1,2}${f}\\b`, 'm'));
      }
    }
    // help works wherever it is on the line, and as "help CMD"
    expect((await tf(dir, 'verify', 'x.tfw', '--trust', 'r.pem', '--help')).stdout).toBe(formatCommandHelp('verify') + '\n');
    expect((await tf(dir, 'help', 'update')).stdout).toBe(formatCommandHelp('update') + '\n');
    expect((await tf(dir, 'emulator', '--help')).stdout).toMatch(/trustflash emulator init[\s\S]*trustflash emulator reboot[\s\S]*trustflash emulator gadget/);
    // a landing page the device could not announce is a usage error before anything is touched
    const lp = await tf(dir, 'emulator', 'gadget', '--state', join(dir, 'no-such.state'), '--landing-page', `https://${'a'.repeat(260)}`);
    expect(lp.code).toBe(2);
    expect(lp.stderr).toMatch(/--landing-page: "landingPage" is too long: 260 bytes after "https:\/\/"/);
    // after "--" it is a file name
    expect((await tf(dir, 'inspect', '--', '--help')).stderr).toMatch(/cannot use --help: no such file/);
  });

  it('--version prints the package version', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    for (const v of ['--version', '-V', 'version']) expect(await tf(dir, v)).toEqual({ code: 0, stdout: `trustflash ${version}\n`, stderr: '' });
  });

  it('a mistyped flag, command or subcommand gets "did you mean"', async () => {
    const cases: [string[], RegExp][] = [
      [['sign', '--manifst', 'm.json'], /unknown option --manifst \(did you mean --manifest\?\)/],
      [['sign', '--paylaod', 'fw.bin'], /did you mean --payload\?/],
      [['update', 'x', '--trst', 'r.pem'], /did you mean --trust\?/],
      [['update', 'x', '--emulate'], /did you mean --emulated\?/],
      [['keygen', '--ca-kye', 'k'], /did you mean --ca-key\?/],
      [['verify', 'x', '--jsn'], /did you mean --json\?/],
      [['audit', 'verify', 'x', '--haed', 'h'], /did you mean --head\?/],
      [['verfy', 'x'], /unknown command "verfy" \(did you mean "verify"\?\)/],
      [['inspct'], /did you mean "inspect"\?/],
      [['--verison'], /did you mean "version"\?/],
      [['emulator', 'int'], /did you mean "init"\?/],
      [['audit', 'verfy'], /did you mean "verify"\?/],
    ];
    for (const [argv, msg] of cases) {
      const r = await tf(dir, ...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    // nothing close: no guess
    expect((await tf(dir, 'verify', 'x', '--zzzzzz')).stderr).toMatch(/unknown option --zzzzzz\n/);
    expect((await tf(dir, 'verify', 'x', '--constructor')).stderr).toMatch(/unknown option --constructor/);
  });

  it('a missing required flag says it is required and where to read more', async () => {
    const r = await tf(dir, 'sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--payload', 'fw.bin', '-o', 'x.tfw');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('trustflash sign: --manifest is required\n(see trustflash sign --help)\n');
  });
});

describe('progress', () => {
  it('draws a dfu-util-style bar in place, names phases without byte counts, and ends its line', () => {
    let out = '';
    const bar = progressBar((t) => void (out += t), () => 80);
    bar({ label: 'Download', done: 0, total: 1000 });
    bar({ label: 'Download', done: 1000, total: 1000 });
    bar({ label: '', end: true });
    bar({ label: 'Erase the spare bank' });
    bar({ label: '', end: true });
    bar({ label: '', end: true });
    const frames = out.split('\r').filter(Boolean);
    expect(frames[0]).toMatch(/^Download {4}\[ {40}\] {3}0% {12}0 bytes\u001b\[K$/);
    expect(frames[1]).toMatch(/^Download {4}\[={40}\] 100% {9}1000 bytes\u001b\[K\n$/);
    expect(frames[2]).toBe('Erase the spare bank …\u001b[K');
    expect(frames[3]).toBe('\u001b[K'); // a phase name is wiped, not left behind
  });

  const withTerminal = async (...argv: string[]) => {
    const lines: ProgressLine[] = [];
    const out: string[] = [];
    const io: Io = { ...(await import('../../../src/cli/io.ts')).nodeIo(dir), out: (t) => void out.push(t), err: (t) => void out.push(t), progress: (p) => void lines.push(p) };
    const code = await run(argv, io);
    return { code, lines, out: out.join('\n') };
  };

  it('on a terminal, update shows the download and verify shows hashing; --json and --quiet turn it off', async () => {
    const state = join(dir, 'p.state');
    expect((await tf(dir, 'emulator', 'init', '--state', state, '--image', join(samples, 'factory.tfw'), '--bank-size', '1')).code).toBe(0);
    const u = await withTerminal('update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', state, '--now', NOW, '--block-size', '1024');
    expect(u.code, u.out).toBe(0);
    const dl = u.lines.filter((l) => l.label === 'Download');
    expect(dl.length).toBeGreaterThan(3);
    expect(dl.at(-1)).toMatchObject({ done: dl.at(-1)!.total });
    expect(dl.every((l, i) => i === 0 || l.done! >= dl[i - 1]!.done!)).toBe(true);
    expect(u.lines.at(-1)).toMatchObject({ end: true });
    const v = await withTerminal('verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--now', NOW);
    expect(v.lines.some((l) => l.label === 'Hashing' && l.done === l.total)).toBe(true);
    for (const off of ['--json', '--quiet']) {
      const q = await withTerminal('verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--now', NOW, off);
      expect(q.lines, off).toEqual([]);
      expect((await tf(dir, 'emulator', 'reboot', '--state', state)).code).toBe(0);
    }
    const quiet = await withTerminal('update', join(samples, 'good-next.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', state, '--now', NOW, '--quiet');
    expect(quiet.lines).toEqual([]);
    expect(quiet.out).not.toMatch(/^OK  /m);
  });

  it('the real executable, piped, never writes a carriage return or an escape sequence', async () => {
    await ensureBinary();
    const state = join(dir, 'pipe.state');
    expect((await tf(dir, 'emulator', 'init', '--state', state, '--image', join(samples, 'factory.tfw'), '--bank-size', '1')).code).toBe(0);
    for (const argv of [
      ['verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--now', NOW],
      ['update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', state, '--now', NOW],
    ]) {
      const r = await tfBin(dir, ...argv);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/[\r\u001b]/);
    }
  });
});

describe('--json is pipeable', () => {
  it('stdout of every --json command parses as one JSON value, success or rejection', async () => {
    await ensureBinary();
    const state = join(dir, 'json.state');
    expect((await tf(dir, 'emulator', 'init', '--state', state, '--image', join(samples, 'factory.tfw'), '--bank-size', '1')).code).toBe(0);
    const trust = join(samples, 'demo-root.pem');
    for (const argv of [
      ['inspect', join(samples, 'good.tfw')],
      ['inspect', join(samples, 'tampered-manifest.tfw')],
      ['verify', join(samples, 'good.tfw'), '--trust', trust, '--now', NOW],
      ['verify', join(samples, 'wrong-psid.tfw'), '--trust', trust, '--now', NOW, '--device', join(samples, 'device.json')],
      ['query', '--emulated', '--state', state],
      ['update', join(samples, 'wrong-psid.tfw'), '--trust', trust, '--emulated', '--state', state, '--now', NOW, '--log', join(dir, 'j.jsonl')],
      ['update', join(samples, 'good.tfw'), '--trust', trust, '--emulated', '--state', state, '--now', NOW, '--fault', 'power-loss:block=2'],
      ['reset', '--emulated', '--state', state],
      ['audit', 'verify', join(dir, 'j.jsonl')],
    ]) {
      const r = await tfBin(dir, ...argv, '--json');
      expect(() => JSON.parse(r.stdout), `${argv.slice(0, 2).join(' ')}: ${r.stdout.slice(0, 200)}`).not.toThrow();
      // 0 updated/accepted, 1 rejected, 2 a failure such as the injected power loss: JSON in every case
      expect(r.code, argv.join(' ')).toBeLessThanOrEqual(2);
    }
  });
});

describe('encrypted keys (--passin, as openssl)', () => {
  it('signs with keys openssl encrypted in each form, taking the passphrase from pass:, env:, file:, fd: and stdin', async () => {
    await ensureBinary();
    // three encrypted forms of one key: PKCS#8 PBES2 (AES-256-CBC), PKCS#8 with scrypt, traditional RSA with DEK-Info
    const plain = join(DEMO_KEYS, 'signer/key.pem');
    await mustOpenssl(dir, 'pkcs8', '-topk8', '-in', plain, '-v2', 'aes-256-cbc', '-passout', 'pass:s3cret', '-out', 'p8.pem');
    await mustOpenssl(dir, 'pkcs8', '-topk8', '-in', plain, '-scrypt', '-passout', 'pass:s3cret', '-out', 'scrypt.pem');
    await mustOpenssl(dir, 'rsa', '-in', plain, '-aes128', '-traditional', '-passout', 'pass:s3cret', '-out', 'trad.pem');
    writeFileSync(join(dir, 'pass.txt'), 's3cret\nignored second line\n');
    const cert = join(DEMO_KEYS, 'signer/cert.pem');
    const signWith = (key: string, ...more: string[]) => tf(dir, 'sign', '--key', key, '--cert', cert, '--manifest', 'm.json', '--payload', 'fw.bin', '-o', `${key}.tfw`, ...more);
    for (const key of ['p8.pem', 'scrypt.pem', 'trad.pem']) {
      expect(readFileSync(join(dir, key), 'utf8')).toMatch(/ENCRYPTED/);
      for (const passin of ['pass:s3cret', 'file:pass.txt']) {
        const r = await signWith(key, '--passin', passin);
        expect(r.code, `${key} ${passin}: ${r.stderr}`).toBe(0);
      }
      const v = await tf(dir, 'verify', `${key}.tfw`, '--trust', join(DEMO_KEYS, 'root/cert.pem'), '--now', NOW);
      expect(v.code, v.stdout).toBe(0);
    }
    process.env.TF_TEST_PASS = 's3cret';
    expect((await signWith('p8.pem', '--passin', 'env:TF_TEST_PASS')).code).toBe(0);
    delete process.env.TF_TEST_PASS;
    // stdin and fd: through the real executable (stdin is a pipe)
    const { spawnSync } = await import('node:child_process');
    const bin = await ensureBinary();
    for (const passin of ['stdin', 'fd:0']) {
      const r = spawnSync(process.execPath, [bin, 'sign', '--key', 'p8.pem', '--cert', cert, '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'stdin.tfw', '--passin', passin], { cwd: dir, input: 's3cret\n', encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('a wrong, missing or malformed passphrase is a clear error, never a stack trace', async () => {
    const r = await tf(dir, 'sign', '--key', 'p8.pem', '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'w.tfw', '--passin', 'pass:nope');
    expect(r).toMatchObject({ code: 2, stderr: 'trustflash sign: p8.pem: cannot decrypt the key: wrong passphrase\n' });
    const none = await tf(dir, 'sign', '--key', 'trad.pem', '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'w.tfw');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/trad\.pem is encrypted: give its passphrase with --passin/);
    for (const [passin, msg] of [['s3cret', /--passin expects pass:TEXT/], ['env:TF_NOT_SET_ANYWHERE', /environment variable TF_NOT_SET_ANYWHERE is not set/], ['file:missing.txt', /no such file/], ['fd:x', /file descriptor number/]] as const) {
      const e = await tf(dir, 'sign', '--key', 'p8.pem', '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'w.tfw', '--passin', passin);
      expect(e.code, passin).toBe(2);
      expect(e.stderr).toMatch(msg);
    }
    // an encrypted CA key for keygen takes --passin too
    await mustOpenssl(dir, 'pkcs8', '-topk8', '-in', join(DEMO_KEYS, 'root/key.pem'), '-v2', 'aes-256-cbc', '-passout', 'pass:ca', '-out', 'ca-enc.pem');
    const kg = await tf(dir, 'keygen', '--out', 'k2', '--ca-key', 'ca-enc.pem', '--ca-cert', join(DEMO_KEYS, 'root/cert.pem'), '--passin', 'pass:ca');
    expect(kg.code, kg.stderr).toBe(0);
  });
});
