/** USB DFU 1.1 numbers, spelled as the specification spells them, with name tables for logs. */
import { nameTable } from '../bytes/names.ts';

export const DFU_REQUEST = {
  DFU_DETACH: 0,
  DFU_DNLOAD: 1,
  DFU_UPLOAD: 2,
  DFU_GETSTATUS: 3,
  DFU_CLRSTATUS: 4,
  DFU_GETSTATE: 5,
  DFU_ABORT: 6,
} as const;

/** bState (DFU 1.1 §6.1.2). */
export const DFU_STATE = {
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
export const DFU_STATE_NAMES: Record<number, string> = {
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

/** bStatus (DFU 1.1 §6.1.2), with the meaning as dfu-util words it. */
export const DFU_STATUS = {
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
export const DFU_STATUS_NAMES: Record<number, string> = nameTable(DFU_STATUS);
export const DFU_STATUS_TEXT: Record<number, string> = {
  0x00: 'no error',
  0x01: 'the file is not meant for this device',
  0x02: 'the file is for this device but fails a vendor-specific check',
  0x03: 'the device cannot write its memory',
  0x04: 'memory erase failed',
  0x05: 'memory erase check failed',
  0x06: 'program memory function failed',
  0x07: 'programmed memory failed verification',
  0x08: 'received an address out of range',
  0x09: 'received the end of download before all data',
  0x0a: 'the device firmware is corrupt and cannot return to run-time',
  0x0b: 'vendor-specific error',
  0x0c: 'unexpected USB reset',
  0x0d: 'unexpected power-on reset',
  0x0e: 'unknown error',
  0x0f: 'the device stalled an unexpected request',
};

/** DFU interface class codes (DFU 1.1 §4.2.1, §4.2.3). */
export const DFU_CLASS = { bInterfaceClass: 0xfe, bInterfaceSubClass: 0x01, protocolRuntime: 0x01, protocolDfuMode: 0x02 } as const;
export const DFU_FUNCTIONAL_DESCRIPTOR = 0x21;
/** Standard device requests the host sends (USB 2.0 §9.4, Table 9-4). */
export const USB_REQUEST = { GET_DESCRIPTOR: 6 } as const;
/** The language the host asks string descriptors in (USB LANGIDs: English, United States). */
export const LANGID_EN_US = 0x0409;
export const DFU_ATTR = { bitCanDnload: 1, bitCanUpload: 2, bitManifestationTolerant: 4, bitWillDetach: 8 } as const;
