/**
 * Project Wycheproof RSASSA-PKCS1-v1_5 / SHA-256 verification vectors (tests/vectors/wycheproof,
 * C2SP/wycheproof testvectors_v1; see SOURCES.md), every test through
 * verifySignature(SIG_ALG.RSA_PKCS1_SHA256, publicKeyDer, sig, msg).
 *
 * Expected outcome per test:
 * - e = 65537 group, result "valid"      → ok.
 * - e = 65537 group, result "invalid"    → not ok.
 * - e = 65537 group, result "acceptable" → not ok. The only acceptable case is MissingNull (a
 *   DigestInfo whose AlgorithmIdentifier omits the NULL parameter); Wycheproof allows either
 *   answer, WebCrypto rejects it, and we want the one canonical encoding only.
 * - e = 3 groups (flag SmallPublicKey) → not ok, *including the tests Wycheproof marks "valid"*:
 *   the key policy (keys.ts checkKeyPolicy) requires e = 65537 before any signature math, because
 *   small exponents are what Bleichenbacher-style PKCS#1 v1.5 forgeries need. The reason must name
 *   the exponent, proving the policy and not the signature check rejected them.
 *
 * A file's table is checked as a whole: a failure lists every mismatching tcId with its comment,
 * flags and our reason, and then the exact outcome counts are asserted.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/core/bytes/hex.ts';
import { verifySignature } from '../../../src/core/crypto/signature.ts';
import { SIG_ALG } from '../../../src/core/image/layout.ts';

interface WycheproofTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly msg: string;
  readonly sig: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
}
interface WycheproofGroup {
  readonly keySize: number;
  readonly sha: string;
  readonly publicKey: { readonly modulus: string; readonly publicExponent: string };
  readonly publicKeyDer: string;
  readonly tests: readonly WycheproofTest[];
}
interface WycheproofFile {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly WycheproofGroup[];
}

const load = (name: string): WycheproofFile => JSON.parse(readFileSync(new URL(`../../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as WycheproofFile;

type Outcome = 'accepted' | 'rejected' | 'rejected by exponent policy';

interface Row {
  readonly tcId: number;
  readonly e: bigint;
  readonly result: WycheproofTest['result'];
  readonly got: Outcome;
  readonly want: Outcome;
  readonly line: string;
}

async function runFile(file: WycheproofFile): Promise<Row[]> {
  const rows: Row[] = [];
  for (const g of file.testGroups) {
    const e = BigInt('0x' + g.publicKey.publicExponent);
    const spki = fromHex(g.publicKeyDer);
    for (const t of g.tests) {
      const r = await verifySignature(SIG_ALG.RSA_PKCS1_SHA256, spki, fromHex(t.sig), fromHex(t.msg));
      const got: Outcome = r.ok ? 'accepted' : /exponent/.test(r.reason) ? 'rejected by exponent policy' : 'rejected';
      const want: Outcome = e !== 65537n ? 'rejected by exponent policy' : t.result === 'valid' ? 'accepted' : 'rejected';
      const line = `tcId ${t.tcId} (${g.keySize}-bit, e=${e}, ${t.result}${t.flags.length ? ' ' + t.flags.join('+') : ''}, "${t.comment}"): want ${want}, got ${got}${r.ok ? '' : ` — ${r.reason}`}`;
      rows.push({ tcId: t.tcId, e, result: t.result, got, want, line });
    }
  }
  return rows;
}

const count = (rows: readonly Row[], f: (r: Row) => boolean) => rows.filter(f).length;

/** Expected counts per file, checked against the policy above (see tests/vectors/SOURCES.md for the file's composition). */
const FILES = [
  {
    name: 'rsa_signature_2048_sha256_test.json',
    tests: 259,
    // e = 65537: 7 valid → ok; 249 invalid + 1 acceptable (MissingNull) → reject.
    // e = 3: two one-test groups, tcId 258 (SmallSignature) and 259 (EdgeCaseSignature), both "valid" → policy reject.
    accepted: 7,
    rejectedE65537: 250,
    exponentPolicy: [258, 259],
  },
  {
    name: 'rsa_signature_3072_sha256_test.json',
    tests: 259,
    // e = 65537: 7 valid → ok; 250 invalid + 1 acceptable → reject. e = 3: tcId 259 ("valid", SmallSignature) → policy reject.
    accepted: 7,
    rejectedE65537: 251,
    exponentPolicy: [259],
  },
  {
    name: 'rsa_signature_4096_sha256_test.json',
    tests: 258,
    // e = 65537 only: 7 valid → ok; 250 invalid + 1 acceptable → reject.
    accepted: 7,
    rejectedE65537: 251,
    exponentPolicy: [],
  },
] as const;

describe.each(FILES)('Wycheproof $name', (spec) => {
  const file = load(spec.name);
  let rows: Row[] | undefined;
  const all = async () => (rows ??= await runFile(file));

  it(`has ${spec.tests} RSASSA-PKCS1-v1_5 SHA-256 tests`, () => {
    expect(file.algorithm).toBe('RSASSA-PKCS1-v1_5');
    expect(file.numberOfTests).toBe(spec.tests);
    expect(file.testGroups.every((g) => g.sha === 'SHA-256')).toBe(true);
    expect(file.testGroups.reduce((n, g) => n + g.tests.length, 0)).toBe(spec.tests);
  });

  it('e = 65537: valid → ok, invalid → reject, acceptable (MissingNull) → reject', async () => {
    const mine = (await all()).filter((r) => r.e === 65537n);
    expect(mine.filter((r) => r.got !== r.want).map((r) => r.line)).toEqual([]);
    expect(count(mine, (r) => r.got === 'accepted')).toBe(spec.accepted);
    expect(count(mine, (r) => r.got === 'rejected')).toBe(spec.rejectedE65537);
    expect(count(mine, (r) => r.result === 'acceptable' && r.got === 'rejected')).toBe(1);
  });

  it(
    spec.exponentPolicy.length > 0
      ? `e = 3 groups: all ${spec.exponentPolicy.length} tests, including Wycheproof "valid" ones, rejected by the key policy (exponent must be 65537)`
      : 'has no e = 3 group (nothing for the exponent policy to reject)',
    async () => {
      const small = (await all()).filter((r) => r.e !== 65537n);
      expect(small.filter((r) => r.got !== r.want).map((r) => r.line)).toEqual([]);
      expect(small.map((r) => r.tcId)).toEqual(spec.exponentPolicy);
      expect(small.every((r) => r.result === 'valid' && r.e === 3n)).toBe(true);
    },
  );
});
