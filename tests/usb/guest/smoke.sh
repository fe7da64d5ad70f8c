#!/bin/sh
# Harness smoke test; runs INSIDE the usbvm guest: sh tests/usb/vm/run.sh tests/usb/guest/smoke.sh
# Proves the guest has what the real USB tests need: the USB gadget modules (dummy_hcd,
# libcomposite, FunctionFS), configfs, a UDC, usbfs device nodes, the host's tools, and Node's
# `usb` package (native addon) loading from the repo's node_modules.
# Writes $USBVM_RESULTS/summary.txt and $USBVM_RESULTS/rc (0 = every check passed).
REPO=${USBVM_REPO:-$PWD}
R=${USBVM_RESULTS:-$REPO/.cache/usbvm/results}
mkdir -p "$R"
cd "$REPO" || exit 1
# Under TCG every exec costs ~0.1 s, so the bookkeeping below uses shell built-ins only.
now() { read -r NOW _ < /proc/uptime; }
cs() { c=${1%.*}${1#*.}; echo "${c#0}"; }   # uptime "12.34" -> 1234 (centiseconds)
FAILS=0; N=0
: > "$R/summary.txt"; : > "$R/smoke.log"
# check NAME CMD...: runs CMD, keeps its output in smoke.log, one PASS/FAIL line in summary.txt
check() {
  name=$1; shift; N=$((N + 1))
  echo "== $name: $*" >> "$R/smoke.log"
  now; t0=$NOW
  if out=$("$@" 2>&1); then res=PASS; else res=FAIL; FAILS=$((FAILS + 1)); fi
  now; dt=$(( $(cs "$NOW") - $(cs "$t0") ))
  printf '%s\n' "$out" >> "$R/smoke.log"
  set -f; detail=$(echo $out); set +f
  line="$res  $name${detail:+  ($detail)}  [$((dt / 100)).$((dt / 10 % 10))s]"
  echo "$line"; echo "$line" >> "$R/summary.txt"
}
now
echo "[smoke ${NOW}s] start: kernel $(uname -r), cwd $PWD"
check "kernel modules dummy_hcd libcomposite usb_f_fs" modprobe -a dummy_hcd libcomposite usb_f_fs
check "configfs mounted" sh -c 'grep -q " /sys/kernel/config configfs " /proc/mounts || mount -t configfs none /sys/kernel/config; [ -d /sys/kernel/config/usb_gadget ] && echo /sys/kernel/config/usb_gadget'
check "UDC present in /sys/class/udc" sh -c 'ls /sys/class/udc | grep .'
check "/dev/bus/usb exists" sh -c 'ls -d /dev/bus/usb/*/* | tr "\n" " " | grep .'
check "lsusb sees the dummy_hcd root hub" sh -c 'lsusb | grep -i "root hub"'
check "dfu-util runs" sh -c 'dfu-util --version | head -n1'
check "node loads usb from $REPO/node_modules" node -e "
const { WebUSB } = require('usb');
const p = require.resolve('usb');
if (!p.startsWith(process.cwd() + '/node_modules/')) throw new Error('usb resolved outside the repo: ' + p);
new WebUSB({ allowAllDevices: true }).getDevices().then((d) => console.log('node', process.version,
  'usb', require('usb/package.json').version, 'getDevices:', d.map((x) => x.vendorId.toString(16) + ':' + x.productId.toString(16)).join(' ') || 'none'));
"
now; line="smoke: $((N - FAILS)) passed, $FAILS failed (guest uptime ${NOW}s)"
echo "$line"; echo "$line" >> "$R/summary.txt"
rc=0; [ "$FAILS" -eq 0 ] || rc=1
dmesg > "$R/dmesg.txt" 2>/dev/null
echo "$rc" > "$R/rc"
exit "$rc"
