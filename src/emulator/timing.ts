/**
 * Timing models, so demos show realistic durations. Per control transfer: the EP0 wire time from the
 * overhead model in reference/usb-dfu-and-webusb.md §4.1 (full speed: 45 bytes per transfer plus 13
 * per extra 64-byte packet, 1500 bytes per 1 ms frame; high speed: 173 + 55 per extra packet, 7500
 * bytes per 125 µs microframe) plus a host round trip (§4.2: ~1 ms at full speed, ~0.25 ms native
 * high speed); flash erase and program times for a NOR part.
 */
export type TimingName = 'instant' | 'full-speed' | 'high-speed';

export interface TimingModel {
  readonly name: TimingName;
  /** Milliseconds one control transfer of `dataBytes` takes on the wire and through the host stack. */
  transferMs(dataBytes: number): number;
  readonly eraseMsPerSector: number;
  readonly programMsPerKiB: number;
}

function wire(overhead: number, perExtraPacket: number, bytesPerMs: number, roundTripMs: number) {
  return (dataBytes: number) => {
    const packets = Math.max(1, Math.ceil(dataBytes / 64));
    const bytes = overhead + (packets - 1) * perExtraPacket + dataBytes;
    return bytes / bytesPerMs + roundTripMs;
  };
}

export const TIMING: Record<TimingName, TimingModel> = {
  instant: { name: 'instant', transferMs: () => 0, eraseMsPerSector: 0, programMsPerKiB: 0 },
  'full-speed': { name: 'full-speed', transferMs: wire(45, 13, 1500, 1), eraseMsPerSector: 0.5, programMsPerKiB: 0.05 },
  'high-speed': { name: 'high-speed', transferMs: wire(173, 55, 7500 * 8, 0.25), eraseMsPerSector: 0.5, programMsPerKiB: 0.02 },
};
