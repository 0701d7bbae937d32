/** hostnetctl's help texts: one overview and one per command. */
import { DEFAULT_SOCKET } from './args.js';

const CONNECTION = `Connection (any command):
  --socket PATH          the daemon's unix socket (default ${DEFAULT_SOCKET})
  --url URL              tcp://127.0.0.1:PORT or tls://HOST:PORT (ws://, wss:// too) instead of the socket
  --tls-cert FILE        client certificate (PEM) for tls://, signed by the daemon's --tls-ca
  --tls-key FILE         its private key
  --tls-ca FILE          CA that signed the daemon's certificate
  --json                 print the JSON-RPC result as JSON instead of tables
  -h, --help             help (also: hostnetctl COMMAND --help)`;

export const OVERVIEW = `Usage: hostnetctl [options] COMMAND [args]

Talks to hostnetd (JSON-RPC over WebSocket) on this host.

Commands:
  caps                   host network capabilities: nics, bridges (ports and flags), networks, bonds, vlans
  stats                  interface statistics
  setup FILE | --net ... change networks (Host.setupNetworks); confirms connectivity itself
  persist                make the running network config the one restored at boot
  confirm                confirm connectivity for a setup waiting on it (Host.confirmConnectivity)
  ping                   check that hostnetd answers (Host.ping2)
  events                 print the daemon's notifications live (|net|host_conn|no_id, ...)
  call METHOD [JSON]     call any verb; JSON params as an object or positional array

${CONNECTION}

Exit status: 0 success, 1 hostnetd answered an error (code and message on stderr),
2 usage or connection error.
`;

export const HELP: Record<string, string> = {
  caps: `Usage: hostnetctl caps [--json]

Shows Host.getCapabilities: NICs (hwaddr, mtu, speed, addresses), bridges with their ports
(flags that differ from the defaults are shown: isolated, no-learning, no-flood), networks,
bonds, VLANs, nameservers and whether the running config differs from the safe one.
`,
  stats: `Usage: hostnetctl stats [--json]

Shows Host.getNetworkStatistics: per-interface state, speed, byte counters, drops and errors.
`,
  events: `Usage: hostnetctl events [--json]

Subscribes to the daemon's notifications (Host.subscribeEvents) and prints each as it comes,
until Ctrl-C. '|net|host_conn|no_id' means a device of a managed network changed (carrier,
operstate, an address): the engine re-reads the capabilities when it gets one. At most one a
second. With --json, each notification is printed as one JSON-RPC line.

  hostnetctl events
  2026-12-02T08:00:01.000Z  |net|host_conn|no_id  a managed network's device changed ...
`,
  ping: `Usage: hostnetctl ping

Calls Host.ping2 (liveness only; it does not confirm connectivity) and prints the round trip.
`,
  confirm: `Usage: hostnetctl confirm

Calls Host.confirmConnectivity: tells a setupNetworks that is waiting for its connectivity
check that this host is still reachable. 'hostnetctl setup' does this by itself.
`,
  persist: `Usage: hostnetctl persist

Calls Host.setSafeNetworkConfig: the running network config becomes the safe one, which
hostnetd-restore.service applies at boot. Until then a reboot returns to the previous safe config.
`,
  call: `Usage: hostnetctl call METHOD [JSON]

Calls any verb and prints its result as JSON. JSON is the params: a named object or a
positional array, e.g.
  hostnetctl call Host.getNetworkCapabilities
  hostnetctl call Host.setupNetworks '{"networks": {"net1": {"nic": "veth_0"}}, "options": {"connectivityCheck": false}}'
`,
  setup: `Usage: hostnetctl setup FILE|- [options]
       hostnetctl setup --net NAME [network flags] [--net NAME ...] [--remove NAME ...]
                        [--bond-def NAME [bond flags] ...] [--remove-bond NAME ...] [options]

Changes networks with Host.setupNetworks. FILE ('-' for stdin) holds
{"networks": {...}, "bondings": {...}, "options": {...}} in VDSM's shapes. Each --net starts a
network; the flags after it describe that network. A named network is replaced whole:
attributes left out take their defaults.

Network flags (after --net NAME):
  --nic NIC              the NIC that carries it
  --bond BOND            the bond that carries it (instead of --nic)
  --vlan ID              VLAN id on the nic or bond
  --ip ADDR/PREFIX       static address (IPv4, or IPv6 such as 2001:db8::10/64)
  --gateway ADDR         gateway (IPv4 or IPv6)
  --mtu MTU              MTU (default 1500)
  --bridged              a Linux bridge named after the network carries it (the default)
  --bridgeless           the address goes straight on the nic/bond/vlan
  --default-route        this network holds the host's default route
  --nameserver ADDR      repeatable; only with --default-route
  --stp                  bridge STP on
  --port-isolation       VM ports of the bridge cannot reach each other, only the uplink
                         (fixed when the network is created)
  --mac-table-manager M  kernel (default) or libvirt: the host owns the bridge's MAC table
  --qos-out-ls CURVE     host QoS (HFSC) link share on the nic or bond: M2 in Mbit/s, or
  --qos-out-ul CURVE       m1=N,d=N,m2=N in VDSM's hostQos units (bits/s, microseconds);
  --qos-out-rt CURVE       upper limit and real time likewise (ls is required with them)
  --dhcp                 IPv4 from DHCP (bootproto dhcp; instead of an IPv4 --ip)
  --dhcpv6               IPv6 address from DHCPv6
  --autoconf             IPv6 from router advertisements (ipv6autoconf, the kernel's SLAAC)
  --blocking-dhcp        the answer waits for the leases (daemon's --dhcp-timeout), else 29
  --remove NAME          remove a network (repeatable)

Bond flags (after --bond-def NAME):
  --slaves NIC,NIC       its slave NICs (one is allowed)
  --options 'K=V ...'    bonding options, e.g. 'mode=4 miimon=100' (mode by name or number)
  --bond-hwaddr MAC      the bond's MAC address
  --remove-bond NAME     remove a bond no network uses (repeatable)

Options:
  --timeout SECONDS      connectivity check timeout (daemon default 4)
  --commit               also make the result the safe config (commitOnSuccess)
  --no-confirm           do not confirm connectivity from here: someone else (the engine)
                         must call Host.confirmConnectivity, or the change is rolled back
  --no-check             no connectivity check at all (connectivityCheck: false)

On a terminal, a change that takes more than a second shows its phases as hostnetd reports
them (planning, applying N kernel operations, verifying, waiting for confirmation or DHCP
leases with a countdown, committing or rolling back); never on a pipe or with --json.

Examples:
  hostnetctl setup --net mgmt --nic veth_0 --ip 192.0.2.10/24 --gateway 192.0.2.1 --default-route
  hostnetctl setup --net vms --nic veth_1 --mtu 9000 --net storage --nic veth_2 --bridgeless --ip 198.51.100.5/24
  hostnetctl setup --net mgmt --nic veth_0 --dhcp --dhcpv6 --default-route --blocking-dhcp
  hostnetctl setup --net lab --nic veth_3 --bridgeless --dhcp --autoconf
  hostnetctl setup --remove vms
  hostnetctl setup --bond-def bond0 --slaves eth1,eth2 --options 'mode=802.3ad miimon=100' \\
                   --net vmnet --bond bond0 --vlan 100 --port-isolation --mac-table-manager libvirt
  hostnetctl setup --net mgmt --nic eth0 --qos-out-ls 50 --qos-out-ul m2=100000000
  hostnetctl setup --remove vmnet --remove-bond bond0
  hostnetctl setup networks.json --commit
`,
};

export function helpFor(topic: string | undefined): string {
  if (topic === undefined || topic === 'help' || !(topic in HELP)) return OVERVIEW;
  return `${HELP[topic]}\n${CONNECTION}\n`;
}
