/** What the host checks an image against, from the device's own QUERY answer (pure: used by the session and by the page's report). */
import type { DeviceIdentity } from '../verify/verify-image.ts';
import { FAMILY_ALGORITHMS } from '../verify/algorithms.ts';
import type { DeviceQuery } from './query.ts';

/**
 * Everything the device's QUERY lets the host know about what it will refuse (issue #10): the
 * pre-flight checks run against this, so that the device refuses nothing after LOCK that the host
 * could have seen coming (docs/verification.md §13, the prediction rule).
 */
export function identityFromQuery(q: DeviceQuery): DeviceIdentity {
  const pending = q.fwVersionPending ?? (q.banks?.pending != null);
  return {
    psid: q.psid ?? '',
    ...(q.deviceId !== undefined ? { deviceId: q.deviceId } : {}),
    ...(q.fwVersionRunning ? { version: q.fwVersionRunning } : {}),
    ...(q.efuseSecurityVer !== undefined ? { fusedSvn: q.efuseSecurityVer } : {}),
    ...(q.imageSecurityVer !== undefined ? { runningSvn: q.imageSecurityVer } : {}),
    ...(q.minSecurityVer !== undefined ? { runningMinSvn: q.minSecurityVer } : {}),
    forbiddenVersions: q.forbiddenVersions ?? [],
    keyIds: q.keyIds ?? [],
    ...(q.maxComponentSize !== undefined ? { maxImageSize: q.maxComponentSize } : {}),
    pending,
    ...(q.securityAttributes ? { devDevice: q.securityAttributes.dev } : {}),
    // an older device without tag 25 verifies exactly this NIC family's algorithm (bit 0)
    verifiableAlgorithms: q.verifiableAlgorithms ?? FAMILY_ALGORITHMS,
  };
}
