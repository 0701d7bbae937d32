/*
 * Runs inside a test guest (built static by test/integration/dataplane-nwfilter.test.ts): sends,
 * on IFACE, two frames a MAC-spoofing guest would send, both broadcast so that any port could
 * receive them:
 *   1. an IPv4/UDP datagram whose Ethernet source is FORGED (no-mac-spoofing must drop it);
 *   2. an ARP reply with the guest's real Ethernet source but FORGED as sender MAC, claiming
 *      SRCIP (no-arp-mac-spoofing must drop it).
 * usage: spoof IFACE REALMAC FORGED SRCIP DSTIP
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int mac(const char *s, unsigned char *m) {
  return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6 ? 0 : -1;
}

static unsigned short csum(const unsigned char *p, int n) {
  unsigned long s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (unsigned short)~s;
}

int main(int argc, char **argv) {
  unsigned char real[6], forged[6], frame[128];
  struct in_addr src, dst;
  if (argc != 6 || mac(argv[2], real) || mac(argv[3], forged) || !inet_aton(argv[4], &src) || !inet_aton(argv[5], &dst)) {
    fprintf(stderr, "usage: spoof IFACE REALMAC FORGED SRCIP DSTIP\n");
    return 2;
  }
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  struct sockaddr_ll to = {0};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = if_nametoindex(argv[1]);
  to.sll_halen = 6;
  memset(to.sll_addr, 0xff, 6);
  if (fd < 0 || to.sll_ifindex == 0) {
    perror("spoof");
    return 1;
  }
  /* 1: IPv4/UDP to port 9, Ethernet source forged */
  memset(frame, 0, sizeof frame);
  memset(frame, 0xff, 6);
  memcpy(frame + 6, forged, 6);
  frame[12] = 0x08; frame[13] = 0x00;
  unsigned char *ip = frame + 14;
  const char payload[] = "HNPSPOOF";
  int udplen = 8 + (int)sizeof payload, iplen = 20 + udplen;
  ip[0] = 0x45; ip[2] = iplen >> 8; ip[3] = iplen & 0xff; ip[8] = 64; ip[9] = 17;
  memcpy(ip + 12, &src, 4); memcpy(ip + 16, &dst, 4);
  unsigned short c = csum(ip, 20); ip[10] = c >> 8; ip[11] = c & 0xff;
  unsigned char *udp = ip + 20;
  udp[0] = 0x30; udp[1] = 0x39; udp[2] = 0; udp[3] = 9; udp[4] = udplen >> 8; udp[5] = udplen & 0xff;
  memcpy(udp + 8, payload, sizeof payload);
  if (sendto(fd, frame, 14 + iplen, 0, (struct sockaddr *)&to, sizeof to) < 0) perror("spoof: ip");
  /* 2: ARP reply, real Ethernet source, forged sender MAC */
  memset(frame, 0, sizeof frame);
  memset(frame, 0xff, 6);
  memcpy(frame + 6, real, 6);
  frame[12] = 0x08; frame[13] = 0x06;
  unsigned char *arp = frame + 14;
  arp[1] = 1; arp[2] = 0x08; arp[4] = 6; arp[5] = 4; arp[7] = 2;
  memcpy(arp + 8, forged, 6); memcpy(arp + 14, &src, 4);
  memcpy(arp + 24, &dst, 4);
  if (sendto(fd, frame, 60, 0, (struct sockaddr *)&to, sizeof to) < 0) perror("spoof: arp");
  close(fd);
  return 0;
}
