#!/bin/busybox sh
# PID 1 of the VM tier's initramfs (built by scripts/vm/prepare.sh, booted by test/vm/vm.ts).
#
# The guest has no disk: the host's / is shared read-only over 9p ("hostroot") and a tmpfs
# overlay makes it writable, so the guest runs the host's node, iproute2 and checkout at the
# same paths. Two writable 9p shares come from the host:
#   ctl  -> /vmctl    per-boot control dir: cmd.sh to run, status (exit code) written back
#   work -> /vmshare  caller's directory that survives reboots (state dirs, results)
# Kernel cmdline: hostnetd.kver=<uname -r> hostnetd.moddir=<host path of lib/modules/kver>
# Anything that goes wrong here powers the VM off; the host reports "no status".

/bin/busybox mkdir -p /bin /proc /sys /dev /lower /rw /newroot
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "vm-init: $*" > /dev/console; }
die() { say "FATAL: $*"; sync; poweroff -f; sleep 5; }

mount -t proc proc /proc || die "mount /proc"
mount -t sysfs sysfs /sys || die "mount /sys"
mount -t devtmpfs devtmpfs /dev || die "mount /dev"

kver=
moddir=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    hostnetd.kver=*) kver=${arg#hostnetd.kver=} ;;
    hostnetd.moddir=*) moddir=${arg#hostnetd.moddir=} ;;
  esac
done

# Modules in dependency order (prepare.sh derives it from depmod); bonding and dummy get
# parameters so that they do not create bond0/dummy0 on their own.
while read -r ko params; do
  [ -n "$ko" ] || continue
  insmod "/modules/$ko" $params || die "insmod $ko $params"
done < /modules/load.list
# Keep kernel chatter (bonding/bridge state changes) off the console the host parses.
dmesg -n 1

p9=trans=virtio,version=9p2000.L,msize=512000
# cache=loose: the host root is read-only for the guest and lives one boot; caching its
# pages and dentries makes node/vitest start several times faster than uncached 9p.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /lower || die "mount hostroot"
mount -t tmpfs -o mode=0755 tmpfs /rw || die "mount tmpfs /rw"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
  || die "mount overlay"

R=/newroot
mkdir -p $R/vmctl $R/vmshare
# The writable shares stay uncached so every write lands on the host at once.
mount -t 9p -o "$p9" ctl $R/vmctl || die "mount ctl share"
mount -t 9p -o "$p9" work $R/vmshare || die "mount work share"

for d in proc sys dev; do
  mount --move /$d $R/$d || die "move /$d"
done
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts || die "mount devpts"
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm || die "mount /dev/shm"
mount -t tmpfs -o mode=1777 tmpfs $R/tmp || die "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs $R/run || die "mount /run"

# The host's /lib/modules has no tree for this kernel: bind the unpacked one, so that the
# kernel's module autoload (veth, htb, ...) and modprobe work inside. /lib is a relative
# symlink on Debian, so resolve it inside the new root.
if [ -n "$kver" ] && [ -n "$moddir" ]; then
  chroot $R /bin/sh -c 'mkdir -p "/lib/modules/$1" && mount --bind "$2" "/lib/modules/$1"' \
    sh "$kver" "$moddir" || die "bind modules $moddir"
fi
# The kernel's module autoload runs its helper in PID 1's root (this initramfs), not in the
# chroot: point it at a wrapper that runs the guest's real modprobe.
printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' "$R" > /bin/modprobe-in-root
chmod 0755 /bin/modprobe-in-root
echo /bin/modprobe-in-root > $R/proc/sys/kernel/modprobe
mkdir -p $R/etc/modprobe.d
printf 'options bonding max_bonds=0\noptions dummy numdummies=0\n' \
  > $R/etc/modprobe.d/hostnetd-vm.conf

hostname hostnetd-vm
echo hostnetd-vm > $R/etc/hostname
ip link set lo up

env_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ -e $R/vmctl/systemd ]; then
  # systemd as PID 1 (test/vm/systemd.test.ts): a minimal boot to multi-user.target of the
  # host's own systemd. The host's enabled units (libvirtd, postgresql, timers, ...) are not
  # this guest's: their links go (in the tmpfs overlay only). /vmctl/pre.sh runs first, in the
  # new root before systemd, e.g. to install a package (its postinst enables units offline).
  # /vmctl/cmd.sh runs as hostnetd-vm-run.service once multi-user.target and
  # network-online.target are reached; it powers the VM off when done.
  find $R/etc/systemd/system -path '*.wants/*' -type l -exec rm -f {} + 2>/dev/null
  ln -sf /dev/null $R/etc/systemd/system/serial-getty@ttyS0.service
  if [ -e $R/vmctl/pre.sh ]; then
    chroot $R /usr/bin/env -i HOME=/root PATH=$env_path HOSTNETD_VM=1 HOSTNETD_VM_SHARE=/vmshare \
      /bin/sh /vmctl/pre.sh < $R/dev/null > /dev/console 2>&1 || die "/vmctl/pre.sh failed"
  fi
  cat > $R/etc/systemd/system/hostnetd-vm-run.service <<UNIT
[Unit]
Description=VM tier command (/vmctl/cmd.sh)
Wants=network-online.target
After=multi-user.target network-online.target

[Service]
Type=oneshot
Environment=HOME=/root TERM=dumb HOSTNETD_VM=1 PATH=$env_path
ExecStart=/bin/sh -c 'echo @@HOSTNETD-VM-BEGIN@@ > /dev/console; /bin/sh /vmctl/cmd.sh < /dev/null > /dev/console 2>&1; rc=\$\$?; echo \$\$rc > /vmctl/status; echo "@@HOSTNETD-VM-END rc=\$\$rc@@" > /dev/console; sync'
ExecStartPost=/bin/systemctl poweroff --force --force
ExecStopPost=/bin/systemctl poweroff --force --force
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
  mkdir -p $R/etc/systemd/system/multi-user.target.wants
  ln -sf ../hostnetd-vm-run.service $R/etc/systemd/system/multi-user.target.wants/hostnetd-vm-run.service
  # the initramfs (and its modprobe wrapper) is gone after switch_root: the root's own modprobe
  echo /sbin/modprobe > $R/proc/sys/kernel/modprobe
  say "systemd starts at uptime $(cut -d' ' -f1 $R/proc/uptime)s"
  exec switch_root $R /lib/systemd/systemd --log-level=warning --show-status=false
fi
if [ -e $R/vmctl/interactive ]; then
  # Humans (scripts/vm/run.sh with no command): a login-ish shell on the serial console.
  setsid -c chroot $R /usr/bin/env -i HOME=/root PATH=$env_path TERM=${TERM:-vt100} \
    HOSTNETD_VM=1 /bin/bash -l < /dev/console > /dev/console 2>&1
  echo $? > $R/vmctl/status
else
  say "command starts at uptime $(cut -d' ' -f1 $R/proc/uptime)s"
  echo "@@HOSTNETD-VM-BEGIN@@" > /dev/console
  chroot $R /usr/bin/env -i HOME=/root PATH=$env_path TERM=dumb HOSTNETD_VM=1 \
    /bin/sh /vmctl/cmd.sh < $R/dev/null > /dev/console 2>&1
  rc=$?
  echo $rc > $R/vmctl/status
  echo "@@HOSTNETD-VM-END rc=$rc@@" > /dev/console
  say "command ended at uptime $(cut -d' ' -f1 $R/proc/uptime)s"
fi
sync
poweroff -f
