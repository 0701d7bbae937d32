/**
 * Every error code hostnetd answers with, in one table (as VDSM's errors.py).
 * 10..40 are VDSM's network codes; 100+ are hostnetd's own for failures VDSM has no code for.
 * The JSON-RPC standard codes are used only by the rpc layer for shape errors.
 */
export const ErrorCode = {
  LOST_CONNECTION: 10,
  BAD_PARAMS: 21,
  BAD_ADDR: 22,
  BAD_NIC: 23,
  USED_NIC: 24,
  BAD_BONDING: 25,
  BAD_VLAN: 26,
  BAD_BRIDGE: 27,
  USED_BOND: 31,
  /** VDSM's ERR_FAILED_IFUP: a blockingdhcp network got no lease within --dhcp-timeout; rolled back. */
  FAILED_IFUP: 29,
  UNAVAIL: 40,
  /** iproute2 refused a line of the plan; the host was rolled back. */
  APPLY_FAILED: 100,
  /** The kernel did not reach the desired state after applying; the host was rolled back. */
  VERIFY_FAILED: 101,
  /** libvirt refused a network change while it was reachable; the host was rolled back. */
  LIBVIRT_FAILED: 102,
  /** Reading or writing the running/safe config or the journal failed. */
  STORE_FAILED: 103,
  /** Rollback itself failed: the host may be in a mixed state; details in the message and log. */
  ROLLBACK_FAILED: 104,

  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
} as const;

/** An error meant for the client: its code and message go on the wire unchanged. */
export class HostnetError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'HostnetError';
  }
}

export const badParams = (msg: string) => new HostnetError(ErrorCode.BAD_PARAMS, msg);
export const badAddr = (msg: string) => new HostnetError(ErrorCode.BAD_ADDR, msg);
export const badNic = (msg: string) => new HostnetError(ErrorCode.BAD_NIC, msg);
export const usedNic = (msg: string) => new HostnetError(ErrorCode.USED_NIC, msg);
export const badBonding = (msg: string) => new HostnetError(ErrorCode.BAD_BONDING, msg);
export const badVlan = (msg: string) => new HostnetError(ErrorCode.BAD_VLAN, msg);
export const badBridge = (msg: string) => new HostnetError(ErrorCode.BAD_BRIDGE, msg);
export const usedBond = (msg: string) => new HostnetError(ErrorCode.USED_BOND, msg);
