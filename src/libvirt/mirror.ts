/** LibvirtNetworkManager as the transaction's NetworkMirror: one vdsm-<net> network per bridged network. */
import type { NetworkMirror } from '../apply/types.js';
import type { HostConfig } from '../model/types.js';
import { faultPoint } from '../faults.js';
import { ErrorCode, HostnetError } from '../errors.js';
import { desiredFromConfig, LibvirtApplyError, libvirtFailed, type LibvirtNetworkManager } from './networks.js';

export function libvirtMirror(mgr: LibvirtNetworkManager): NetworkMirror {
  return {
    async sync(config: HostConfig) {
      let result;
      try {
        if (faultPoint('libvirt')) throw new HostnetError(ErrorCode.LIBVIRT_FAILED, 'libvirt refused the change (injected fault)');
        result = await mgr.sync(desiredFromConfig(config));
      } catch (e) {
        throw e instanceof LibvirtApplyError ? libvirtFailed(e) : e;
      }
      return {
        async undo(previous: HostConfig) {
          if (result.applied) await mgr.rollback(result.undo, desiredFromConfig(previous));
          else await mgr.sync(desiredFromConfig(previous));
        },
      };
    },
  };
}
