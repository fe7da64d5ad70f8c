/**
 * USB DFU 1.1 numbers on the device side, defined once for the emulator (the host keeps its own copy
 * in src/core/dfu/spec.ts by design: the device model shares no code with the host). A test
 * (tests/unit/update/protocol.test.ts) checks that both sides agree number for number.
 */

// DFU 1.1 §6.1.2 Table 6.2 (bState)
export const DfuState = {
  appIDLE: 0,
  appDETACH: 1,
  dfuIDLE: 2,
  dfuDNLOAD_SYNC: 3,
  dfuDNBUSY: 4,
  dfuDNLOAD_IDLE: 5,
  dfuMANIFEST_SYNC: 6,
  dfuMANIFEST: 7,
  dfuMANIFEST_WAIT_RESET: 8,
  dfuUPLOAD_IDLE: 9,
  dfuERROR: 10,
} as const;
export type DfuState = (typeof DfuState)[keyof typeof DfuState];

/** The states as the spec spells them, for logs. */
export const DFU_STATE_NAMES: Record<DfuState, string> = {
  0: 'appIDLE',
  1: 'appDETACH',
  2: 'dfuIDLE',
  3: 'dfuDNLOAD-SYNC',
  4: 'dfuDNBUSY',
  5: 'dfuDNLOAD-IDLE',
  6: 'dfuMANIFEST-SYNC',
  7: 'dfuMANIFEST',
  8: 'dfuMANIFEST-WAIT-RESET',
  9: 'dfuUPLOAD-IDLE',
  10: 'dfuERROR',
};

// DFU 1.1 §6.1.2 Table 6.1 (bStatus)
export const DfuStatus = {
  OK: 0x00,
  errTARGET: 0x01,
  errFILE: 0x02,
  errWRITE: 0x03,
  errERASE: 0x04,
  errCHECK_ERASED: 0x05,
  errPROG: 0x06,
  errVERIFY: 0x07,
  errADDRESS: 0x08,
  errNOTDONE: 0x09,
  errFIRMWARE: 0x0a,
  errVENDOR: 0x0b,
  errUSBR: 0x0c,
  errPOR: 0x0d,
  errUNKNOWN: 0x0e,
  errSTALLEDPKT: 0x0f,
} as const;
export type DfuStatus = (typeof DfuStatus)[keyof typeof DfuStatus];

export const DFU_STATUS_NAMES: Record<DfuStatus, string> = {
  0x00: 'OK',
  0x01: 'errTARGET',
  0x02: 'errFILE',
  0x03: 'errWRITE',
  0x04: 'errERASE',
  0x05: 'errCHECK_ERASED',
  0x06: 'errPROG',
  0x07: 'errVERIFY',
  0x08: 'errADDRESS',
  0x09: 'errNOTDONE',
  0x0a: 'errFIRMWARE',
  0x0b: 'errVENDOR',
  0x0c: 'errUSBR',
  0x0d: 'errPOR',
  0x0e: 'errUNKNOWN',
  0x0f: 'errSTALLEDPKT',
};

// DFU 1.1 §3 Table 3.2 (bRequest)
export const DfuRequest = {
  DFU_DETACH: 0,
  DFU_DNLOAD: 1,
  DFU_UPLOAD: 2,
  DFU_GETSTATUS: 3,
  DFU_CLRSTATUS: 4,
  DFU_GETSTATE: 5,
  DFU_ABORT: 6,
} as const;
export type DfuRequest = (typeof DfuRequest)[keyof typeof DfuRequest];

export const DFU_REQUEST_NAMES: Record<DfuRequest, string> = {
  0: 'DFU_DETACH',
  1: 'DFU_DNLOAD',
  2: 'DFU_UPLOAD',
  3: 'DFU_GETSTATUS',
  4: 'DFU_CLRSTATUS',
  5: 'DFU_GETSTATE',
  6: 'DFU_ABORT',
};

