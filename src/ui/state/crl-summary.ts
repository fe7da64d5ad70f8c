/** What the Trust panel shows of each kept CRL, read from its file (display only: the verifier decides). */
import { parsePem } from '../../core/crypto/pem.ts';
import type { TrustSource } from '../worker/protocol.ts';

/** What the Trust panel lists for a CRL, read from the file (display only: the worker decides). */
export interface CrlSummary {
  readonly name: string;
  readonly issuer?: string;
  readonly thisUpdate?: string;
  readonly nextUpdate?: string;
  readonly number?: string;
  readonly revokedCount?: number;
  /** Past its nextUpdate by this computer's clock: chains through its issuer fail until a newer one is added. */
  readonly expired?: boolean;
  /** The file does not parse as a CRL (then every verification says so too). */
  readonly problem?: string;
}

/** One row per X509 CRL block of each kept file (pkijs loads only when there is a CRL). */
export async function summarizeCrls(crls: readonly TrustSource[], now: Date): Promise<CrlSummary[]> {
  if (crls.length === 0) return [];
  const { parseCrl, isoSeconds } = await import('../../core/crypto/crl.ts');
  return crls.flatMap((c): CrlSummary[] => {
    const blocks = parsePem(c.text).blocks;
    if (blocks.length === 0) return [{ name: c.name, problem: 'no X509 CRL block' }];
    return blocks.map((b) => {
      const r = parseCrl(b.der);
      if (!r.ok) return { name: c.name, problem: r.reason };
      const v = r.value;
      return {
        name: c.name,
        issuer: v.issuer,
        thisUpdate: isoSeconds(v.thisUpdate),
        nextUpdate: isoSeconds(v.nextUpdate),
        ...(v.number !== undefined ? { number: v.number.toString() } : {}),
        revokedCount: v.revoked.length,
        expired: v.nextUpdate.getTime() < now.getTime(),
      };
    });
  });
}
