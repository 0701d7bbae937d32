#!/usr/bin/env bash
# npm run package: builds pkg/hostnetd_<version>_amd64.deb with Debian's dpkg-deb (no debhelper
# source tree). Contents:
#   /usr/lib/hostnetd/{package.json,bin,dist,build/Release/*.node,native/netlink/build/Release/*.node,
#   node_modules (production only)}
#   /usr/bin/hostnetd, /usr/bin/hostnetctl   relative symlinks into /usr/lib/hostnetd/bin
#   /lib/systemd/system/hostnetd{,-restore}.service
#   /etc/hostnetd/config.json                a conffile (packaging/config.json)
#   /usr/share/doc/hostnetd/{README.md,copyright,changelog.gz}
#   /usr/share/man/man8/{hostnetd,hostnetctl}.8.gz   packaging/man, the package's version stamped in
# Maintainer scripts are packaging/debian/{postinst,prerm,postrm}. Needs the built TypeScript
# and both native addons; builds them when missing. Runs lintian when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# The DHCP client hostnetd runs for bootproto dhcp (issue 12) is a run-time dependency:
# the DHCP client hostnetd supervises (src/dhcp): dhcpcd-base, without a system service of its own
DHCP_CLIENT_DEPENDS=${DHCP_CLIENT_DEPENDS:-dhcpcd-base}

version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || { echo "package: only amd64 is built (this is $arch)" >&2; exit 1; }
out=pkg/hostnetd_${version}_${arch}.deb

log() { echo "package: $*" >&2; }

npm run --silent build
for addon in hostnet_libvirt hostnet_notify; do
  if [ ! -f build/Release/$addon.node ] || [ -n "$(find native binding.gyp -newer build/Release/$addon.node 2>/dev/null)" ]; then
    HOSTNETD_ADDON_REQUIRED=1 bash scripts/build-addon.sh
    break
  fi
done
# the rtnetlink reader (the kernel view): rebuilt only when its source is newer
bash scripts/build-netlink.sh

stage=$(mktemp -d "${TMPDIR:-/tmp}/hostnetd-pkg.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
lib=$root/usr/lib/hostnetd
mkdir -p "$lib/bin" "$lib/build/Release" "$lib/native/netlink/build/Release" "$root/usr/bin" "$root/lib/systemd/system" \
  "$root/etc/hostnetd" "$root/usr/share/doc/hostnetd" "$root/usr/share/man/man8" "$root/DEBIAN"

cp package.json package-lock.json "$lib/"
install -m 0755 bin/hostnetd bin/hostnetctl "$lib/bin/"
# dhcpcd's script (dist/dhcp/clients.js runs it from ../../scripts): without it no lease reaches hostnetd
install -D -m 0755 scripts/dhcp-hook.sh "$lib/scripts/dhcp-hook.sh"
# the JavaScript only: no source maps (they point at src/, which is not shipped)
# only what the current sources build (tsc leaves the output of a deleted or renamed source in dist/)
(cd dist && find . -name '*.js' -print0 | while IFS= read -r -d '' f; do [ -f "../src/${f%.js}.ts" ] && printf '%s\0' "$f"; done \
  | cpio -0 -pdm --quiet "$lib/dist")
install -m 0644 build/Release/hostnet_libvirt.node build/Release/hostnet_notify.node "$lib/build/Release/"
# dist/kernel/addon.js loads it from ../../native/netlink/build/Release
install -m 0644 native/netlink/build/Release/hostnet_netlink.node "$lib/native/netlink/build/Release/"
strip --strip-unneeded "$lib"/build/Release/*.node "$lib"/native/netlink/build/Release/*.node

# production node_modules: a copy of the checkout's, pruned of dev dependencies (offline)
cp -a node_modules "$lib/node_modules"
(cd "$lib" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --offline >/dev/null)
rm -f "$lib/node_modules/.package-lock.json"
# what runs is each module's JavaScript: drop its tests, docs, typings, maps, dotfiles and
# helper scripts (lintian: privacy-breach-generic in pino's docs page, script-not-executable)
find "$lib/node_modules" -mindepth 2 \( -name '.*' -o -name '*.md' -o -name '*.ts' -o -name '*.map' \
  -o -name '*.html' -o -name '*.sh' -o -name 'test' -o -name 'docs' -o -name 'benchmarks' \) \
  -prune -exec rm -rf {} +
find "$lib/node_modules" -type f -exec chmod 0644 {} +
find "$lib/node_modules" -type d -exec chmod 0755 {} +
find "$lib/node_modules" -type d -empty -delete
# module CLIs (pino's bin.js) are not hostnetd's programs: not executable, so no shebang either
find "$lib/node_modules" -type f | while read -r f; do
  [ "$(head -c2 "$f")" != '#!' ] || sed -i '1d' "$f"
done

ln -s ../lib/hostnetd/bin/hostnetd "$root/usr/bin/hostnetd"
ln -s ../lib/hostnetd/bin/hostnetctl "$root/usr/bin/hostnetctl"
install -m 0644 systemd/hostnetd.service systemd/hostnetd-restore.service "$root/lib/systemd/system/"
install -m 0644 packaging/config.json "$root/etc/hostnetd/config.json"
install -m 0644 README.md packaging/debian/copyright "$root/usr/share/doc/hostnetd/"
for page in hostnetd hostnetctl; do
  sed "1s/\"hostnetd\"/\"hostnetd $version\"/" "packaging/man/$page.8" | gzip -9n > "$root/usr/share/man/man8/$page.8.gz"
  chmod 0644 "$root/usr/share/man/man8/$page.8.gz"
done
{
  echo "hostnetd ($version) unstable; urgency=medium"
  echo
  echo "  * Built from $(git rev-parse --short HEAD 2>/dev/null || echo 'a checkout') by npm run package."
  echo
  echo " -- hostnetd developers <hostnetd@example.org>  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n > "$root/usr/share/doc/hostnetd/changelog.gz"

install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/hostnetd/config.json > "$root/DEBIAN/conffiles"

# shared-library dependencies of the addons, as dpkg-shlibdeps computes them
mkdir -p "$stage/src/debian"
printf 'Source: hostnetd\n\nPackage: hostnetd\nArchitecture: any\n' > "$stage/src/debian/control"
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O "$lib"/build/Release/*.node "$lib"/native/netlink/build/Release/*.node 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { log "dpkg-shlibdeps found no libraries"; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s/@SHLIBS@/$shlibs/" \
  -e "s/@DHCP@/${DHCP_CLIENT_DEPENDS:+, $DHCP_CLIENT_DEPENDS}/" \
  packaging/debian/control.in > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
  | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p pkg
dpkg-deb --root-owner-group -Zxz --build "$root" "$out.tmp" >/dev/null
mv "$out.tmp" "$out"
log "built $repo/$out ($(du -h "$out" | cut -f1))"
if command -v lintian >/dev/null 2>&1 && [ "${HOSTNETD_LINTIAN:-1}" = 1 ]; then
  log "lintian (the remaining tags are explained in README, \"Install\"):"
  lintian --no-tag-display-limit "$out" >&2 || true
fi
