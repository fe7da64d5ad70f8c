/** The strict JSON reader used for manifests and device files: same values as JSON.parse, but a duplicated key or bad syntax is an error with line and column. */
import { describe, expect, it } from 'vitest';
import { JSON_DEPTH_MAX, parseStrictJson } from '../../../src/core/bytes/strict-json.ts';

const err = (text: string) => {
  const r = parseStrictJson(text);
  if (r.ok) throw new Error(`expected an error for ${JSON.stringify(text)}`);
  return r.error;
};

describe('parseStrictJson', () => {
  it('reads what JSON.parse reads, value for value (a generated corpus)', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const gen = (d: number): unknown => {
      const k = rnd(d > 3 ? 5 : 7);
      if (k === 0) return rnd(2) === 0;
      if (k === 1) return null;
      if (k === 2) return [-1.5e-7, 0, 12345678901, -3, 0.25][rnd(5)];
      if (k === 3) return ['', 'é\u2028"\\/\n\t', '\u0000\u001f', '😀', 'plain'][rnd(5)];
      if (k === 4) return `s${rnd(1000)}`;
      if (k === 5) return Array.from({ length: rnd(4) }, () => gen(d + 1));
      return Object.fromEntries(Array.from({ length: rnd(4) }, (_, i) => [`k${i}${rnd(9)}`, gen(d + 1)]));
    };
    for (let i = 0; i < 500; i++) {
      const v = gen(0);
      for (const text of [JSON.stringify(v), JSON.stringify(v, null, 2), ` \r\n${JSON.stringify(v, null, '\t')}\n`]) {
        const r = parseStrictJson(text);
        expect(r).toEqual({ ok: true, value: JSON.parse(text) });
      }
    }
    expect(parseStrictJson('\ufeff{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    const proto = parseStrictJson('{"__proto__": {"x": 1}}');
    expect(proto.ok && Object.keys(proto.value as object)).toEqual(['__proto__']);
  });

  it('refuses a duplicated key, naming it and where the second one is, in every form', () => {
    expect(err('{"securityVersion": 1, "vendor": "A",\n  "securityVersion": 9}')).toEqual({ message: 'the key "securityVersion" appears twice in the same object', line: 2, column: 3 });
    // the same key written with an escape is the same key
    expect(err('{"vendor": "A", "\\u0076endor": "B"}').message).toMatch(/"vendor" appears twice/);
    // nested objects and objects inside lists
    expect(err('{"a": {"b": 1, "b": 2}}').message).toMatch(/"b" appears twice/);
    expect(err('[{"x": 1}, {"y": 1, "y": 1}]').message).toMatch(/"y" appears twice/);
    expect(err('{"": 1, "": 2}').message).toMatch(/"" appears twice/);
    // equal keys in different objects are fine
    expect(parseStrictJson('{"a": {"k": 1}, "b": {"k": 2}}').ok).toBe(true);
  });

  it('names line and column for syntax errors', () => {
    expect(err('{\n  "vendor": "A",\n}')).toMatchObject({ line: 3, column: 1, message: expect.stringMatching(/expected a string/) });
    expect(err('{"a": 1} x')).toMatchObject({ line: 1, column: 10, message: expect.stringMatching(/after the JSON value/) });
    expect(err('{"a": tru}')).toMatchObject({ line: 1, column: 7 });
    expect(err('{"a": "b\nc"}')).toMatchObject({ line: 1, column: 9, message: expect.stringMatching(/control character U\+000A/) });
    expect(err('{"a": "\\x41"}').message).toMatch(/invalid escape \\x/);
    expect(err('{"a": 01}')).toMatchObject({ column: 8 });
    expect(err('{"a": 1e999}').message).toMatch(/out of range/);
    expect(err('')).toMatchObject({ message: 'the file is empty', line: 1, column: 1 });
    expect(err('{"a": [1, 2')).toMatchObject({ message: expect.stringMatching(/end of the file/) });
    expect(err('"abc').message).toMatch(/unterminated/);
  });

  it('bounds nesting depth', () => {
    expect(parseStrictJson('['.repeat(JSON_DEPTH_MAX) + ']'.repeat(JSON_DEPTH_MAX)).ok).toBe(true);
    expect(err('['.repeat(100_000)).message).toMatch(/nested deeper than/);
  });
});
