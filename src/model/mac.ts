/**
 * MAC addresses as hostnetd stores and compares them: six colon-separated pairs of hex digits.
 * Requests may use upper case (VDSM's do); the stored and kernel form is lower case.
 */
export const MAC_RE = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** Six pairs of hex digits, either case. */
export const isMac = (s: string): boolean => MAC_RE.test(s);

/** The lower-case form hostnetd stores (and the kernel reports). */
export const isCanonicalMac = (s: string): boolean => MAC_RE.test(s) && s === s.toLowerCase();

/** The group bit of the first octet: a multicast (or broadcast) address, never a host's own. */
export const isMulticastMac = (mac: string): boolean => (parseInt(mac.slice(0, 2), 16) & 1) === 1;
