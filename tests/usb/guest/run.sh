#!/bin/sh
# The real-USB tests; runs INSIDE the usbvm guest (tests/usb/vm/run.sh boots it): loads the gadget
# side (dummy_hcd, libcomposite, FunctionFS) and runs checks.mjs, which serves the emulated NIC as
# a gadget and drives it with lsusb, dfu-util and the trustflash CLI through the kernel's USB host
# stack. Writes $USBVM_RESULTS/summary.txt and $USBVM_RESULTS/rc.
REPO=${USBVM_REPO:-$PWD}
R=${USBVM_RESULTS:-$REPO/.cache/usbvm/results}
mkdir -p "$R"
cd "$REPO" || exit 1
fail() { echo "FAIL  $*" | tee -a "$R/summary.txt"; echo 1 > "$R/rc"; exit 1; }
modprobe -a dummy_hcd libcomposite usb_f_fs || fail "modprobe dummy_hcd libcomposite usb_f_fs"
grep -q " /sys/kernel/config configfs " /proc/mounts || mount -t configfs none /sys/kernel/config || fail "mount configfs"
# libusb built with udev (Debian's: dfu-util, lsusb) hears of a device that re-enumerates (DFU
# DETACH) only through udevd's netlink group; without udevd, dfu-util says "Lost device after RESET?"
/lib/systemd/systemd-udevd --daemon 2>> "$R/udevd.log" || fail "start systemd-udevd"
# loopback, for the page served on localhost (Chromium calls a down lo "no internet")
ip link set lo up 2>/dev/null || busybox ip link set lo up || fail "bring up lo"
[ -f dist-node/trustflash.js ] || fail "dist-node/trustflash.js missing: run npm run build:node first"
[ -f public/samples/good.tfw ] || fail "public/samples missing: run npm run samples first"
# USB_GUEST=bench runs the throughput benchmark (bench.mjs) instead of the checks
node "tests/usb/guest/${USB_GUEST:-checks}.mjs" "$@"
RC=$?
dmesg > "$R/dmesg.txt" 2>/dev/null
echo $RC > "$R/rc"
exit $RC
