/**
 * A strict JSON reader (RFC 8259) for files a person writes: manifests and device files.
 * `JSON.parse` silently keeps the last of two equal keys, so `{"securityVersion": 1, …,
 * "securityVersion": 9}` signs something other than what a reviewer reads first; here a duplicated
 * key is an error naming it. Every error carries the line and column (1-based) where it was found.
 * Untrusted text is a result, never an exception (STYLE.md). Depth is bounded.
 */
import type { Failed } from './result.ts';

export interface JsonError {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}
export type StrictJsonResult = { ok: true; value: unknown } | Failed<{ error: JsonError }>;

/** Deeper nesting than this is refused: no manifest needs it, and recursion must be bounded. */
export const JSON_DEPTH_MAX = 64;

class Fail extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses `text` as one JSON value; a duplicated object key, trailing text or a lone surrogate escape are errors. */
export function parseStrictJson(text: string): StrictJsonResult {
  let i = 0;
  const ws = () => {
    while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  };
  const describe = (at: number) => (at >= text.length ? 'the end of the file' : `${JSON.stringify(text[at])}`);
  const expect = (ch: string, what: string) => {
    if (text[i] !== ch) throw new Fail(`expected ${what}, found ${describe(i)}`, i);
    i++;
  };

  const string = (): string => {
    const start = i;
    expect('"', 'a string');
    let out = '';
    for (;;) {
      if (i >= text.length) throw new Fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) throw new Fail(`control character U+${c.toString(16).padStart(4, '0').toUpperCase()} inside a string (write it as an escape such as \\n)`, i);
      if (c !== 0x5c) {
        out += text[i++];
        continue;
      }
      const e = text[i + 1];
      if (e === undefined) throw new Fail('unterminated string', start);
      if (e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
        continue;
      }
      if (e !== 'u') throw new Fail(`invalid escape \\${e}`, i);
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Fail('invalid \\u escape: four hex digits expected', i);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 6;
    }
  };

  const number = (): number => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') throw new Fail(`expected a value, found ${describe(i)}`, i);
    const v = Number(m[0]);
    if (!Number.isFinite(v)) throw new Fail(`the number ${m[0]} is out of range`, i);
    i += m[0].length;
    return v;
  };

  const value = (depth: number): unknown => {
    if (depth > JSON_DEPTH_MAX) throw new Fail(`nested deeper than ${JSON_DEPTH_MAX} levels`, i);
    ws();
    const c = text[i];
    if (c === '{') {
      const obj: Record<string, unknown> = {};
      const seen = new Set<string>();
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const keyAt = i;
        const key = string();
        if (seen.has(key)) throw new Fail(`the key ${JSON.stringify(key)} appears twice in the same object`, keyAt);
        seen.add(key);
        ws();
        expect(':', '":" after a key');
        const v = value(depth + 1);
        // own data property even for "__proto__", so the parsed object is exactly what the text says
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        expect('}', '"," or "}"');
        return obj;
      }
    }
    if (c === '[') {
      const arr: unknown[] = [];
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        expect(']', '"," or "]"');
        return arr;
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return number();
  };

  try {
    // a UTF-8 byte-order mark is what some editors write first; it is not part of the JSON
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    ws();
    if (i >= text.length) throw new Fail('the file is empty', i);
    const v = value(0);
    ws();
    if (i < text.length) throw new Fail(`unexpected ${describe(i)} after the JSON value`, i);
    return { ok: true, value: v };
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    const error = { message: e.message, ...lineColumn(text, e.at) };
    return { ok: false, reason: `line ${error.line}, column ${error.column}: ${error.message}`, error };
  }
}

/** 1-based line and column of offset `at` (columns count UTF-16 code units, as editors mostly do). */
export function lineColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < at && k < text.length; k++) {
    if (text.charCodeAt(k) === 0x0a) {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}

/** "FILE:LINE:COLUMN: message", the shape compilers and editors understand. */
export function formatJsonError(file: string, e: JsonError): string {
  return `${file}:${e.line}:${e.column}: ${e.message}`;
}
