/**
 * Name rules. Every name that reaches iproute2 passes one of these first: iproute2's batch
 * format is whitespace-separated words, so a name with a space, a quote or a newline could
 * smuggle a second command into a batch.
 */

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAME_MAX_BYTES = 15;

/** A valid kernel interface name (dev_valid_name), further limited to a safe character set. */
export function isValidIfname(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0) return false;
  if (Buffer.byteLength(name) > IFNAME_MAX_BYTES) return false;
  if (name === '.' || name === '..') return false;
  return /^[A-Za-z0-9_][A-Za-z0-9_.\-]*$/.test(name);
}

/** The reason a network (bridge) name is refused (code 27), or null if it is fine. */
export function bridgeNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (Buffer.byteLength(name) > IFNAME_MAX_BYTES) return `is longer than ${IFNAME_MAX_BYTES} bytes`;
  if (name.startsWith('-')) return "starts with '-'";
  if (/[:.\/\s]/.test(name)) return "contains one of ':', '.', '/' or whitespace";
  if (!/^[A-Za-z0-9_\-]+$/.test(name)) return 'contains characters other than letters, digits, _ and -';
  return null;
}

export const BOND_NAME_RE = /^bond\w+$/;
