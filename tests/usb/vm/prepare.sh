#!/bin/sh
# Prepares the real-USB test VM (idempotent; a second run takes about a second):
#  1. host tools, installed with apt-get only when a command is missing. The guest's root is the
#     host's own / (virtio-9p, read-only), so the tools the guest uses come from the host:
#     qemu-system-x86 dfu-util usbutils busybox-static kmod cpio xz-utils zstd udev.
#  2. a Debian kernel 6.* from bookworm-backports (bookworm's 6.1 rejects the DFU functional
#     descriptor in FunctionFS), fetched with a PRIVATE apt configuration (nothing in /etc/apt
#     changes), unpacked with dpkg-deb -x into .cache/usbvm/kernel/ and never installed.
#     Delete .cache/usbvm/kernel to fetch the newest one again.
#  3. the initramfs (static busybox + the virtio/9p/overlay modules + tests/usb/vm/init).
# Then tests/usb/vm/run.sh boots it.
set -eu
VM=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$VM/../../.." && pwd)
C=$REPO/.cache/usbvm
K=$C/kernel
T0=$(date +%s.%N)
say() { echo "[usbvm prepare $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%5.1fs", b-a}')] $*"; }
die() { echo "[usbvm prepare] ERROR: $*" >&2; exit 1; }

mkdir -p "$C"
if command -v flock >/dev/null 2>&1; then   # two prepares at once (two run.sh) must not race
  exec 8>"$C/prepare.lock"
  flock -w 900 8 || die "another prepare.sh holds $C/prepare.lock"
fi
[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported (the guest kernel is Debian's amd64 one)"
ROOT=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then ROOT="sudo -n"; else ROOT=none; fi
fi

# --- 1. host packages -------------------------------------------------------------------------
need=
miss() { command -v "$1" >/dev/null 2>&1 || need="$need $2"; }
miss qemu-system-x86_64 qemu-system-x86
miss dfu-util dfu-util
miss lsusb usbutils
miss modprobe kmod
miss depmod kmod
miss cpio cpio
miss xz xz-utils
miss zstd zstd
miss dpkg-deb dpkg
# libusb (dfu-util, lsusb) learns of re-enumerated devices from udev's netlink group: the guest runs udevd
[ -x /lib/systemd/systemd-udevd ] || need="$need udev"
# the initramfs needs a *static* busybox (ldd fails on a static binary)
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then need="$need busybox-static"; fi
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need="$need debian-archive-keyring"
need=$(echo $need | tr ' ' '\n' | awk 'NF && !s[$0]++' | tr '\n' ' ')
if [ -n "$need" ]; then
  if [ "$ROOT" = none ]; then
    die "missing packages:$need
  install them, then run this again:  sudo apt-get update && sudo apt-get install -y --no-install-recommends $need"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing packages ($need) and no apt-get to install them"
  say "apt-get install $need"
  $ROOT env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  # shellcheck disable=SC2086
  $ROOT env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends $need >/dev/null
  say "apt packages installed"
else
  say "host tools present"
fi

# --- 2. kernel from bookworm-backports ----------------------------------------------------------
KV=$(cat "$K/.version" 2>/dev/null || true)
if [ -n "$KV" ] && [ -f "$K/boot/vmlinuz-$KV" ] && [ -f "$K/lib/modules/$KV/modules.dep" ]; then
  say "kernel $KV cached in .cache/usbvm/kernel"
else
  A=$C/apt
  mkdir -p "$A/sp" "$A/lists/partial" "$A/cache/archives/partial" "$A/deb"
  cat > "$A/sp/bookworm-backports.sources" <<'EOS'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
  # Private lists/cache/sources; the host's apt.conf.d (proxies) still applies. As root, apt's
  # _apt sandbox user may not be able to enter the repo's folder (e.g. under /root), so stay root.
  set -- -o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$A/sp" \
    -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o APT::Architecture=amd64 \
    -o APT::Default-Release=bookworm-backports
  [ "$(id -u)" -eq 0 ] && set -- "$@" -o APT::Sandbox::User=root
  say "apt-get update (bookworm-backports only, private lists in .cache/usbvm/apt)"
  apt-get "$@" update -qq
  # the package the backports meta-package linux-image-amd64 points at, e.g. linux-image-6.12.95+deb12-amd64
  KPKG=$(apt-cache "$@" depends linux-image-amd64 | awk '$1=="Depends:" && $2 ~ /^linux-image-6\./ {print $2; exit}')
  [ -n "$KPKG" ] || die "could not find the backports kernel package (apt-cache depends linux-image-amd64)"
  KV=${KPKG#linux-image-}
  say "downloading $KPKG"
  rm -f "$A/deb/"*.deb
  (cd "$A/deb" && apt-get "$@" download -qq "$KPKG")
  DEB=$(ls "$A/deb/${KPKG}"_*.deb 2>/dev/null | head -n1)
  [ -n "$DEB" ] || die "apt-get download $KPKG produced no .deb"
  say "extracting $(basename "$DEB") ($(du -m "$DEB" | cut -f1) MB)"
  rm -rf "$K" "$K.tmp"; mkdir -p "$K.tmp"
  dpkg-deb -x "$DEB" "$K.tmp"
  # kmod looks for <root>/lib/modules; a merged-/usr package ships usr/lib/modules
  if [ ! -d "$K.tmp/lib/modules/$KV" ] && [ -d "$K.tmp/usr/lib/modules/$KV" ]; then
    mkdir -p "$K.tmp/lib/modules"; mv "$K.tmp/usr/lib/modules/$KV" "$K.tmp/lib/modules/$KV"
  fi
  [ -f "$K.tmp/boot/vmlinuz-$KV" ] || die "no boot/vmlinuz-$KV in $DEB"
  depmod -b "$K.tmp" "$KV"
  echo "$KV" > "$K.tmp/.version"
  mv "$K.tmp" "$K"
  rm -f "$DEB"
  say "kernel $KV ready in .cache/usbvm/kernel"
fi

# --- 3. initramfs -------------------------------------------------------------------------------
INITRD=$K/initramfs.gz
if [ -f "$INITRD" ] && [ -z "$(find "$VM/init" "$VM/prepare.sh" -newer "$INITRD" 2>/dev/null)" ]; then
  say "initramfs up to date"
else
  D=$C/initramfs.d
  rm -rf "$D"; mkdir -p "$D/bin" "$D/mods" "$D/proc" "$D/sys" "$D/dev" "$D/host" "$D/newroot" "$D/rw"
  cp /bin/busybox "$D/bin/busybox"
  : > "$D/mods/order"
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$K" -S "$KV" --show-depends "$m"
  done | awk '$1=="insmod" && !s[$2]++ {print $2}' | while read -r f; do
    b=$(basename "$f")
    case $f in
      *.xz)  b=${b%.xz};  xz -dc "$f" > "$D/mods/$b";;
      *.zst) b=${b%.zst}; zstd -qdc "$f" > "$D/mods/$b";;
      *.gz)  b=${b%.gz};  gzip -dc "$f" > "$D/mods/$b";;
      *)     cp "$f" "$D/mods/$b";;
    esac
    echo "$b" >> "$D/mods/order"
  done
  cp "$VM/init" "$D/init"; chmod 755 "$D/init"
  (cd "$D" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  say "initramfs built ($(du -k "$INITRD" | cut -f1) KiB; modules: $(tr '\n' ' ' < "$D/mods/order"))"
  rm -rf "$D"
fi
say "ready: kernel $KV"
