#!/usr/bin/env bash
# hostnetd sandbox: a network namespace with four fake NICs, and hostnetd managing it.
#
#   bash scripts/sandbox.sh up       install what is missing, build, create the namespaces,
#                                    run hostnetd in the FOREGROUND (Ctrl-C stops it)
#   bash scripts/sandbox.sh down     stop hostnetd, delete both namespaces and .sandbox/
#   bash scripts/sandbox.sh status   what exists and runs
#
# Namespace hostnetd-sandbox holds veth_0..veth_3 (the NICs). Their far ends sw_0..sw_3 sit in
# hostnetd-sandbox-sw on bridge `sw`, which plays switch and gateway: 192.0.2.1/24, 2001:db8::1/64.
# State, socket and resolver file live under .sandbox/ in the checkout (git-ignored).
# The host's own network namespace is never changed: every ip command names a namespace.
set -euo pipefail

NS=hostnetd-sandbox
SW=hostnetd-sandbox-sw
NICS=4
GW4=192.0.2.1/24
GW6=2001:db8::1/64

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BOX="$ROOT/.sandbox"
SOCKET="$BOX/run/hostnetd.sock"
PIDFILE="$BOX/hostnetd.pid"

say() { printf '%s\n' "$*"; }
die() { printf 'sandbox: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root (network namespaces need it): sudo npm run sandbox"
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

daemon_pid() {
  # the pid in the pidfile, if that process is still our hostnetd
  [ -f "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "dist/daemon/main.js" || return 1
  printf '%s\n' "$pid"
}

install_prereqs() {
  if ! command -v ip >/dev/null 2>&1 || ! command -v bridge >/dev/null 2>&1; then
    say "installing iproute2 ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
  fi
  command -v node >/dev/null 2>&1 || die "node is not installed: hostnetd needs Node.js 20 or later"
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "node $(node --version) is too old: hostnetd needs Node.js 20 or later"
  if [ ! -d "$ROOT/node_modules" ]; then
    say "installing npm dependencies (npm ci) ..."
    (cd "$ROOT" && npm ci --no-audit --no-fund)
  fi
  say "building (tsc) ..."
  (cd "$ROOT" && npx tsc -p tsconfig.json)
}

make_namespaces() {
  ns_exists "$SW" || ip netns add "$SW"
  ns_exists "$NS" || ip netns add "$NS"
  ip -n "$SW" link set lo up
  ip -n "$NS" link set lo up
  if ! ip -n "$SW" link show sw >/dev/null 2>&1; then
    ip -n "$SW" link add sw type bridge
    ip -n "$SW" addr add "$GW4" dev sw
    ip -n "$SW" addr add "$GW6" dev sw nodad
  fi
  ip -n "$SW" link set sw up
  local i
  for ((i = 0; i < NICS; i++)); do
    if ! ip -n "$NS" link show "veth_$i" >/dev/null 2>&1; then
      # a far end left without its pair (half-torn sandbox) would block the name
      ip -n "$SW" link del "sw_$i" >/dev/null 2>&1 || true
      ip -n "$NS" link add "veth_$i" type veth peer name "sw_$i" netns "$SW"
    fi
    ip -n "$SW" link set "sw_$i" master sw up
    ip -n "$NS" link set "veth_$i" up
  done
}

usage_text() {
  local ctl="$ROOT/bin/hostnetctl --socket $SOCKET"
  cat <<EOF

hostnetd sandbox is starting in namespace $NS (NICs veth_0..veth_$((NICS - 1)); switch and
gateway ${GW4%/*} / ${GW6%/*} in $SW). In another terminal, as root:

  $ctl ping
  $ctl caps
  $ctl stats
  $ctl setup --net mgmt --nic veth_0 --ip 192.0.2.10/24 --gateway 192.0.2.1 --default-route --nameserver 192.0.2.1
  $ctl setup --net vms --nic veth_1 --mtu 9000 --net lab
  $ctl persist
  $ctl setup --remove vms
  $ctl call Host.getNetworkCapabilities
  $ctl events                               # |net|host_conn|no_id when a managed NIC changes

The engine's protocol (JSON-RPC in STOMP 1.2 frames) is served on the same socket and on
tcp://127.0.0.1:54321 inside the namespace, for example with Debian's python3-stomp:

  ip netns exec $NS /usr/bin/python3 -c 'import stomp, time
c = stomp.Connection12([("127.0.0.1", 54321)])
c.set_listener("", type("L", (stomp.ConnectionListener,), {"on_message": lambda s, f: print(f.body)})())
c.connect(wait=True); c.subscribe("r", "1")
c.send("jms.topic.vdsm_requests", "{\\"jsonrpc\\":\\"2.0\\",\\"id\\":1,\\"method\\":\\"Host.ping2\\"}", headers={"reply-to": "r"})
time.sleep(1)'

  ip -n $NS -br addr                        # what the kernel has
  ip netns exec $NS ping -c1 192.0.2.1      # reach the gateway through the mgmt bridge

State: $BOX/state   resolver file: $BOX/resolv.conf   log: below (JSON lines)
Ctrl-C stops hostnetd; 'npm run sandbox:down' (bash scripts/sandbox.sh down) removes everything.

EOF
}

cmd_up() {
  need_root
  if pid=$(daemon_pid); then
    die "hostnetd is already running in the sandbox (pid $pid); stop it with Ctrl-C there, or: bash scripts/sandbox.sh down"
  fi
  install_prereqs
  make_namespaces
  mkdir -p "$BOX/state" "$BOX/run"
  [ -f "$BOX/resolv.conf" ] || printf '# written by hostnetd (sandbox)\n' > "$BOX/resolv.conf"
  usage_text
  echo $$ > "$PIDFILE"
  # exec twice (ip netns exec execs node): the pid in the pidfile becomes the daemon's
  exec ip netns exec "$NS" node "$ROOT/dist/daemon/main.js" \
    --state-dir "$BOX/state" \
    --run-dir "$BOX/run" \
    --listen "unix:$SOCKET" \
    --listen tcp://127.0.0.1:54321 \
    --resolv-conf "$BOX/resolv.conf" \
    --libvirt-uri none \
    --fake-nics 'veth_*,dummy_*' \
    --log-level info
}

cmd_down() {
  need_root
  if pid=$(daemon_pid); then
    say "stopping hostnetd (pid $pid) ..."
    kill -TERM "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  fi
  ns_exists "$NS" && ip netns del "$NS" && say "deleted namespace $NS"
  ns_exists "$SW" && ip netns del "$SW" && say "deleted namespace $SW"
  rm -rf "$BOX"
  say "sandbox is down"
}

cmd_status() {
  local pid
  if ns_exists "$NS"; then
    say "namespace $NS: present"
    ip -n "$NS" -br link | sed 's/^/  /'
  else
    say "namespace $NS: absent"
  fi
  if ns_exists "$SW"; then say "namespace $SW: present"; else say "namespace $SW: absent"; fi
  if pid=$(daemon_pid); then
    say "hostnetd: running (pid $pid), socket $SOCKET"
  else
    say "hostnetd: not running"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) say "usage: bash scripts/sandbox.sh up|down|status"; exit 2 ;;
esac
