/**
 * Ends a transfer because the device left the bus in the middle of it: the cable was pulled (a
 * disconnect fault), or the NIC lost power (nic.run threw DeviceReset). The USB function turns it
 * into the rejection a browser gives (NetworkError) and re-enumerates when the device is back.
 */
export class CablePulled extends Error {
  override name = 'CablePulled';
}
