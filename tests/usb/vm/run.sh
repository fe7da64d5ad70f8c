#!/bin/sh
# Usage: tests/usb/vm/run.sh [VAR=val ...] [guest-script] [args...]
# Boots the QEMU guest prepared by prepare.sh (a real Linux USB stack: dummy_hcd, libcomposite,
# FunctionFS, usbfs) and runs guest-script inside it (default tests/usb/guest/run.sh; a path
# relative to the repo, run with the repo as cwd). VAR=val words before the script become its
# environment. The guest sees the host's / read-only (so host tools: dfu-util, lsusb, node...)
# and the repo read-write at the same path as here.
#
# Contract with the guest script: it writes $USBVM_RESULTS (= .cache/usbvm/results, emptied
# before boot) /summary.txt (printed here) and /rc (a number; this script's exit status).
# No rc file = the guest never finished: exit 99 and print the tail of the console log.
# Guest environment: USBVM_REPO, USBVM_RESULTS, USBVM_SCRIPT, USBVM_HOST (the host machine, for
# benchmark reports), the host's PATH (+ sbin), CI.
# The results folder is its own uncached 9p share, so what the guest wrote there survives a
# timeout kill, but it is slow for many small writes: keep scratch files in the guest's /tmp.
# The rest of the repo is mounted cache=loose (fast; written back at the guest's final sync).
#
# Env: USBVM_TIMEOUT (s, default 300), USBVM_MEM (MiB, 1024), USBVM_SMP (2), USBVM_ACCEL
# (tcg; kvm only where KVM can boot a stock kernel), USBVM_APPEND (extra kernel command-line
# words; VAR=val ones reach the guest script as env), USBVM_CONSOLE=1 (stream the console here),
# USBVM_REPOCACHE (9p cache mode of the repo mount, default loose).
set -u
VM=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$VM/../../.." && pwd)
C=$REPO/.cache/usbvm
K=$C/kernel
LOG=$C/console.log
R=$C/results
T0=$(date +%s.%N)
el() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
say() { echo "[usbvm $(el)s] $*"; }
die() { echo "[usbvm] ERROR: $*" >&2; exit 2; }
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# leading VAR=val words: environment for the guest script
ENVLINES=
while [ $# -gt 0 ]; do
  case $1 in
    [A-Za-z_]*=*)
      n=${1%%=*}
      case $n in *[!A-Za-z0-9_]*) break;; esac
      ENVLINES="${ENVLINES}export $n=$(q "${1#*=}")
"
      shift;;
    *) break;;
  esac
done
SCRIPT=${1:-tests/usb/guest/run.sh}
[ $# -gt 0 ] && shift
case $SCRIPT in "$REPO"/*) SCRIPT=${SCRIPT#"$REPO"/};; esac
SCRIPT=${SCRIPT#./}
case $SCRIPT in /*) SP=$SCRIPT;; *) SP=$REPO/$SCRIPT;; esac
[ -f "$SP" ] || die "guest script not found: $SP"
case "$REPO$SCRIPT" in *[[:space:]]*) die "the repo path and the script path must not contain white space (they go on the kernel command line)";; esac

# prepared? (prepare.sh is quick when everything is there; run it when something is missing or stale)
KV=$(cat "$K/.version" 2>/dev/null || true)
if [ -z "$KV" ] || [ ! -f "$K/initramfs.gz" ] || [ -n "$(find "$VM/init" -newer "$K/initramfs.gz" 2>/dev/null)" ]; then
  sh "$VM/prepare.sh" || die "prepare.sh failed"
  KV=$(cat "$K/.version")
fi
command -v qemu-system-x86_64 >/dev/null 2>&1 || die "qemu-system-x86_64 missing: run tests/usb/vm/prepare.sh"

mkdir -p "$C"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$C/run.lock"
  if ! flock -n 9; then   # one VM per checkout: it shares .cache/usbvm/results and console.log
    say "another run.sh is using $C; waiting for it (at most ${USBVM_TIMEOUT:-300}s)"
    flock -w "${USBVM_TIMEOUT:-300}" 9 || die "another run.sh is still using $C"
  fi
fi
rm -rf "$R"; mkdir -p "$R"; : > "$LOG"
{
  echo "# written by tests/usb/vm/run.sh for the guest; read by tests/usb/vm/init"
  echo "export PATH=$(q "$PATH"):\$PATH"
  [ -n "${CI:-}" ] && echo "export CI=$(q "$CI")"
  # the machine the guest runs on, for benchmark reports
  echo "export USBVM_HOST=$(q "$(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/{printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), Linux $(uname -r)")"
  printf '%s' "$ENVLINES"
  printf 'set --'; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
} > "$C/guest.env"

ACCEL=${USBVM_ACCEL:-tcg}
if [ "$ACCEL" = tcg ]; then CPU=max; else CPU=host; fi
TMO=${USBVM_TIMEOUT:-300}
MEM=${USBVM_MEM:-1024}
SMP=${USBVM_SMP:-2}
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 usbvm.repo=$REPO usbvm.script=$SCRIPT"
[ -n "${USBVM_REPOCACHE:-}" ] && APPEND="$APPEND usbvm.repocache=$USBVM_REPOCACHE"
[ -n "${USBVM_APPEND:-}" ] && APPEND="$APPEND $USBVM_APPEND"
qp() { printf '%s' "$1" | sed 's/,/,,/g'; }   # QEMU option values: a comma is written ",,"

# Under TCG with 2 vCPUs the guest kernel now and then dies patching its own code (an "Oops: int3"
# from a static-key/alternatives update racing the other vCPU: a QEMU multi-threaded TCG effect,
# seen about once in ten boots here). That is the emulator, not the code under test: when the
# kernel crashed and the guest script never finished, boot again (at most USBVM_BOOTS times).
BOOTS=${USBVM_BOOTS:-3}
ATTEMPT=1
while :; do
say "booting Debian kernel $KV (QEMU $ACCEL, $SMP vCPU, $MEM MiB; timeout ${TMO}s): $SCRIPT${*:+ $*}"
timeout -k 10 "$TMO" qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m "$MEM" \
  -M q35 -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
  -kernel "$K/boot/vmlinuz-$KV" -initrd "$K/initramfs.gz" -append "$APPEND" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$(qp "$REPO"),mount_tag=repo,security_model=none,multidevs=remap" \
  -virtfs "local,path=$(qp "$R"),mount_tag=results,security_model=none,multidevs=remap" \
  </dev/null >>"$LOG" 2>&1 &
QPID=$!
STOP=
trap 'STOP=1; kill -TERM $QPID 2>/dev/null' INT TERM HUP
TPID=
if [ "${USBVM_CONSOLE:-0}" = 1 ]; then
  tail -n +1 -f --pid=$QPID "$LOG" 2>/dev/null | tr -d '\r' &
  TPID=$!
fi
wait $QPID; QRC=$?
[ -n "$STOP" ] && { wait $QPID; echo "[usbvm] interrupted" >&2; exit 130; }
[ -n "$TPID" ] && wait $TPID 2>/dev/null
trap - INT TERM HUP
case $QRC in
  0) say "VM powered off";;
  124|137) say "VM TIMED OUT after ${TMO}s (USBVM_TIMEOUT) and was killed";;
  *) say "qemu exited with status $QRC";;
esac
if [ ! -f "$R/rc" ] && [ "$ATTEMPT" -lt "$BOOTS" ] && grep -q -E 'Kernel panic|Oops: ' "$LOG"; then
  cp "$LOG" "$C/console-crashed-$ATTEMPT.log"
  echo "[usbvm] the guest kernel crashed ($(grep -m1 -o -E 'Oops: [^[]*|Kernel panic - [^:]*' "$LOG" | tr -d '\r'); console log kept as $C/console-crashed-$ATTEMPT.log): booting again"
  ATTEMPT=$((ATTEMPT + 1))
  rm -rf "$R"; mkdir -p "$R"; : > "$LOG"
  continue
fi
break
done
echo "[usbvm] console log: $LOG; results: $R"

if [ -f "$R/summary.txt" ]; then
  echo "----- guest summary ($R/summary.txt) -----"
  cat "$R/summary.txt"
  echo "------------------------------------------"
fi
RC=$(cat "$R/rc" 2>/dev/null | tr -d ' \r\n')
case $RC in
  ''|*[!0-9]*)
    if [ -f "$R/script-rc" ]; then
      echo "[usbvm] the guest script exited $(cat "$R/script-rc") without writing results/rc"
    fi
    echo "[usbvm] no results/rc: the guest test did not finish (exit 99). Last console lines:"
    tail -n 40 "$LOG" | tr -d '\r' | sed 's/^/  | /'
    exit 99;;
esac
if [ "$RC" -ne 0 ]; then
  echo "[usbvm] guest rc $RC. Last console lines:"
  tail -n 25 "$LOG" | tr -d '\r' | sed 's/^/  | /'
fi
say "guest rc $RC"
exit "$RC"
