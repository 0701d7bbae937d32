#!/usr/bin/env bash
# Prepare the VM tier: host packages, a Debian 6.1 kernel and a busybox initramfs.
#
# Idempotent and fast when cached (well under a second: no apt call once a kernel is cached;
# a cold run or --refresh picks the newest kernel apt offers). Everything lands in $HOSTNETD_VM_CACHE, by default
# <repo>/.cache/vm (git-ignored, outside the tracked tree):
#   <kver>/vmlinuz, <kver>/initramfs.cpio.gz, <kver>/root/lib/modules/<kver>/  (unpacked .deb)
#   current.env   KVER=, KERNEL=, INITRD=, MODDIR= for test/vm/vm.ts
# The initramfs is rebuilt when scripts/vm/init.sh or this script changes.
#
# Usage: scripts/vm/prepare.sh [--refresh] [--print]
#   --refresh  ask apt for the newest kernel even if one is cached (the warm path skips apt)
#   --print    show current.env at the end
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${HOSTNETD_VM_CACHE:-$repo/.cache/vm}

# Modules the initramfs loads, in this order unless depmod says a dependency comes first.
# Everything else stays loadable on demand (the unpacked tree is bound into the guest).
wanted_modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
  9pnet 9pnet_virtio netfs fscache 9p overlay failover net_failover virtio_net tls
  bonding llc stp garp mrp 8021q bridge dummy sch_hfsc veth)
declare -A module_params=([bonding]="max_bonds=0" [dummy]="numdummies=0")

log() { echo "vm-prepare: $*" >&2; }

apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq "$@"
}

ensure_packages() {
  local missing=() pkg
  # systemd: test/vm/systemd.test.ts boots it as PID 1 (the host root is the guest's root)
  for pkg in qemu-system-x86 busybox-static cpio kmod systemd; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt_get update
  apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null
}

# Newest linux-image-6.1.0-<abi>-amd64 (generic flavour, signed or unsigned) that apt can
# install. Prints the package name, or nothing. One apt-cache call per step: each costs
# seconds on a busy machine.
newest_kernel_package() {
  local names
  names=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null \
    | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' || true)
  [ -n "$names" ] || return 0
  # shellcheck disable=SC2086
  apt-cache policy $names 2>/dev/null \
    | awk '/^[^ ]/ { pkg = $1; sub(/:$/, "", pkg) }
           /^ +Candidate: [0-9]/ { abi = pkg; sub(/^linux-image-6\.1\.0-/, "", abi);
                                   sub(/-.*/, "", abi); print abi, pkg }' \
    | sort -k1,1n -k2,2 | tail -n1 | cut -d' ' -f2
}

pick_kernel() {
  local pkg
  pkg=$(newest_kernel_package)
  if [ -z "$pkg" ]; then
    log "no linux-image-6.1.0-*-amd64 in the apt lists; running apt-get update"
    apt_get update || true
    pkg=$(newest_kernel_package)
  fi
  echo "$pkg"
}

# Newest kernel already unpacked in the cache: the fallback when apt cannot be asked.
cached_kver() {
  ls -d "$cache"/6.1.0-*-amd64 2>/dev/null | xargs -r -n1 basename | sort -V | tail -n1
}

unpack_kernel() {
  local pkg=$1 kver=$2 dir=$cache/$2 tmp
  tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
  log "downloading $pkg"
  (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null) || {
    # apt's sandbox user may lack access to the cache folder; retry from a readable place.
    (cd /tmp && apt-get download -qq "$pkg" && mv /tmp/"$pkg"_*.deb "$tmp"/)
  }
  log "unpacking $(basename "$tmp"/*.deb)"
  dpkg-deb -x "$tmp"/*.deb "$tmp/root"
  rm -f "$tmp"/*.deb
  # Drop module trees a network test never needs: a smaller cache, faster depmod.
  local m=$tmp/root/lib/modules/$kver/kernel
  rm -rf "$m"/drivers/{gpu,media,infiniband,staging,net/wireless,iio,bluetooth,isdn} \
    "$m"/sound "$m"/net/{wireless,mac80211,bluetooth}
  depmod -b "$tmp/root" "$kver"
  cp "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

# Module load list "file.ko params" in dependency order, from the unpacked tree's modules.dep.
module_load_list() {
  local root=$1 kver=$2 mod path seen=" "
  for mod in "${wanted_modules[@]}"; do
    while read -r _ path _; do
      local name
      name=$(basename "$path"); name=${name%.ko*}
      case "$seen" in *" $name "*) continue ;; esac
      seen="$seen$name "
      echo "$path ${module_params[$name]:-}"
    done < <(modprobe -d "$root" -S "$kver" --show-depends "$mod" | grep '^insmod ')
  done
}

build_initramfs() {
  local kver=$1 dir=$cache/$1 stage list
  stage=$(mktemp -d "$cache/.initramfs.XXXXXX")
  mkdir -p "$stage"/{bin,modules,proc,sys,dev}
  cp /bin/busybox "$stage/bin/busybox"
  install -m 0755 "$here/init.sh" "$stage/init"
  list=$(module_load_list "$dir/root" "$kver")
  while read -r path params; do
    case "$path" in
      *.ko) cp "$path" "$stage/modules/" ;;
      *.ko.xz) xz -dc "$path" > "$stage/modules/$(basename "${path%.xz}")" ;;
      *.ko.zst) zstd -qdc "$path" > "$stage/modules/$(basename "${path%.zst}")" ;;
      *) log "unexpected module file $path"; exit 1 ;;
    esac
    local ko
    ko=$(basename "$path"); ko=${ko%.xz}; ko=${ko%.zst}
    echo "$ko $params" >> "$stage/modules/load.list"
  done <<< "$list"
  cp "$stage/modules/load.list" "$dir/.load.list"
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) \
    > "$dir/initramfs.cpio.gz.tmp"
  mv "$dir/initramfs.cpio.gz.tmp" "$dir/initramfs.cpio.gz"
  rm -rf "$stage"
  log "initramfs built; modules: $(cut -d' ' -f1 "$dir/.load.list" | tr '\n' ' ')"
}

inputs_hash() {
  cat "$here/init.sh" "${BASH_SOURCE[0]}" /bin/busybox | sha256sum | cut -d' ' -f1
}

main() {
  local refresh=0 print=0 arg
  for arg in "$@"; do
    case "$arg" in
      --refresh) refresh=1 ;;
      --print) print=1 ;;
      *) log "unknown argument $arg"; exit 2 ;;
    esac
  done
  mkdir -p "$cache"
  # One preparer at a time (parallel test workers, several shells).
  exec 9> "$cache/.lock"
  flock 9

  ensure_packages

  # Warm path: keep the kernel chosen before (no apt call) unless asked to look again.
  local pkg= kver=
  if [ "${refresh}" = 0 ] && [ -f "$cache/current.env" ]; then
    kver=$(sed -n 's/^KVER=//p' "$cache/current.env")
    [ -f "$cache/$kver/vmlinuz" ] && [ -d "$cache/$kver/root/lib/modules/$kver" ] || kver=
  fi
  if [ -z "$kver" ]; then
    pkg=$(pick_kernel)
    if [ -n "$pkg" ]; then
      kver=${pkg#linux-image-}; kver=${kver%-unsigned}
    else
      kver=$(cached_kver)
      [ -n "$kver" ] || { log "no kernel package available and none cached"; exit 1; }
      log "apt offers no kernel; using cached $kver"
    fi
  fi

  local dir=$cache/$kver
  if [ ! -f "$dir/vmlinuz" ] || [ ! -d "$dir/root/lib/modules/$kver" ]; then
    unpack_kernel "$pkg" "$kver"
  fi
  local hash
  hash=$(inputs_hash)
  if [ ! -f "$dir/initramfs.cpio.gz" ] || [ "$(cat "$dir/initramfs.inputs" 2>/dev/null)" != "$hash" ]; then
    build_initramfs "$kver"
    echo "$hash" > "$dir/initramfs.inputs"
  fi

  cat > "$cache/current.env.tmp" <<EOF
KVER=$kver
KERNEL=$dir/vmlinuz
INITRD=$dir/initramfs.cpio.gz
MODDIR=$dir/root/lib/modules/$kver
EOF
  mv "$cache/current.env.tmp" "$cache/current.env"
  # Older kernels are 300+ MB each; keep only the one in use.
  local old
  for old in "$cache"/6.1.0-*-amd64; do
    [ "$old" = "$dir" ] || [ ! -d "$old" ] || { log "removing old $(basename "$old")"; rm -rf "$old"; }
  done
  if [ "$print" = 1 ]; then cat "$cache/current.env"; fi
}

main "$@"
