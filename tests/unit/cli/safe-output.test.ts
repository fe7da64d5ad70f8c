/**
 * Text from files never drives the terminal: certificate names, manifest and JSON errors, and file
 * names reach stdout and stderr with ESC, CR, BS, C1 controls and bidi characters escaped, in text
 * and JSON modes alike, while JSON output still parses back to the original strings.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeControls, escapeControlsInline } from '../../../src/core/bytes/safe-text.ts';
import { safeIo } from '../../../src/cli/main.ts';
import type { Io } from '../../../src/cli/io.ts';
import { DEMO_KEYS, NOW, manifestJson, tempDir, tf, type Result } from './helpers.ts';

/** Every hostile character class, each in a place a person would look. */
const HOSTILE = ['\u001b[2J\u001b]0;pwned\u0007', 'OK\rREJECTED', 'ab\bc', '\u009b31m', '\u0085', 'x\u202egnp.exe', '\u2066iso\u2069', '\u200f', '\u007f'];
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function expectClean(r: Result, what: string): void {
  expect(RAW.test(r.stdout), `${what}: raw control in stdout ${JSON.stringify(r.stdout)}`).toBe(false);
  expect(RAW.test(r.stderr), `${what}: raw control in stderr ${JSON.stringify(r.stderr)}`).toBe(false);
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(() => ({ dir, cleanup } = tempDir('safe-out')));
afterAll(() => cleanup());

describe('escapeControls', () => {
  it('escapes each unsafe class visibly and keeps text, tabs and line feeds', () => {
    expect(escapeControls('a\u001b[31mb')).toBe('a\\u001b[31mb');
    expect(escapeControls('ok\r\bx\u0085\u009b\u202e\u2067\u061c')).toBe('ok\\u000d\\u0008x\\u0085\\u009b\\u202e\\u2067\\u061c');
    expect(escapeControls('line 1\n\tline 2 — é 😀')).toBe('line 1\n\tline 2 — é 😀');
    expect(escapeControlsInline('a\nb\tc')).toBe('a\\u000ab\\u0009c');
    for (const h of HOSTILE) {
      expect(RAW.test(h), JSON.stringify(h)).toBe(true);
      expect(RAW.test(escapeControls(h))).toBe(false);
      // inside a JSON string the escape is JSON's own, so the value survives a round trip
      expect(JSON.parse(escapeControls(JSON.stringify({ h }))).h).toBe(h);
    }
  });

  it('safeIo escapes both streams of every command', () => {
    const got: string[] = [];
    const io = safeIo({ out: (t: string) => void got.push(t), err: (t: string) => void got.push(t) } as unknown as Io);
    io.out(HOSTILE.join(' '));
    io.err(HOSTILE.join(' '));
    expect(got.every((t) => !RAW.test(t))).toBe(true);
  });
});

describe('the CLI prints hostile text escaped', () => {
  it('file names in I/O errors', async () => {
    for (const h of HOSTILE) {
      for (const argv of [['verify', `${h}.tfw`, '--trust', join(DEMO_KEYS, 'root/cert.pem')], ['inspect', `${h}.tfw`], ['audit', 'verify', `${h}.jsonl`]]) {
        const r = await tf(dir, ...argv);
        expect(r.code).toBe(2);
        expectClean(r, argv.join(' '));
        expect(r.stderr).toMatch(/no such file/);
      }
    }
  });

  it('certificate names, in verify and inspect, text and --json', async () => {
    const cn = `Evil ${HOSTILE.join(' ')}`.slice(0, 60);
    const k = await tf(dir, 'keygen', '--out', 'evil', '--cn', cn, '--ca-key', join(DEMO_KEYS, 'root/key.pem'), '--ca-cert', join(DEMO_KEYS, 'root/cert.pem'), '--not-before', '2026-01-01');
    expect(k.code, k.stderr).toBe(0);
    expectClean(k, 'keygen');
    writeFileSync(join(dir, 'm.json'), manifestJson({ nextKeys: [join(DEMO_KEYS, 'signer/pubkey.pem')] }));
    writeFileSync(join(dir, 'fw.bin'), new Uint8Array(1000).fill(7));
    const s = await tf(dir, 'sign', '--key', 'evil/key.pem', '--cert', 'evil/cert.pem', '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'evil.tfw');
    expect(s.code, s.stderr).toBe(0);
    expectClean(s, 'sign');
    expect(s.stdout).toContain('\\u001b[2J');
    const trust = join(DEMO_KEYS, 'root/cert.pem');
    for (const argv of [['verify', 'evil.tfw', '--trust', trust, '--now', NOW], ['inspect', 'evil.tfw']]) {
      const text = await tf(dir, ...argv);
      expectClean(text, argv[0]!);
      expect(text.stdout + text.stderr).toContain('\\u202egnp.exe');
      const json = await tf(dir, ...argv, '--json');
      expectClean(json, `${argv[0]} --json`);
      // the JSON still parses, and the subject decodes to exactly what the certificate holds
      const strings: string[] = [];
      const walk = (v: unknown): void => {
        if (typeof v === 'string') strings.push(v);
        else if (v && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(JSON.parse(json.stdout));
      expect(strings.some((x) => x.includes(cn)), `${argv[0]} --json names the signer`).toBe(true);
    }
  });

  it('JSON syntax errors in a manifest or device file quote the offending character escaped', async () => {
    for (const h of ['\u202e', '\u001b', '\u0085', '\u2066']) {
      writeFileSync(join(dir, 'bad.json'), `{\n  "vendor": "A"${h}\n}`);
      const r = await tf(dir, 'sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--manifest', 'bad.json', '--payload', 'fw.bin', '-o', 'x.tfw');
      expect(r.code).toBe(2);
      expectClean(r, 'sign bad.json');
      expect(r.stderr).toMatch(/bad\.json:2:16: /);
      const v = await tf(dir, 'verify', 'evil.tfw', '--trust', join(DEMO_KEYS, 'root/cert.pem'), '--device', 'bad.json');
      expect(v.code).toBe(2);
      expectClean(v, 'verify --device bad.json');
    }
  });
});
