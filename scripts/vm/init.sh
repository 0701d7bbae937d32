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
