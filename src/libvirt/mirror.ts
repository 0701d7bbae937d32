/** LibvirtNetworkManager as the transaction's NetworkMirror: one vdsm-<net> network per bridged network. */
import type { NetworkMirror } from '../model/changer.js';
import type { HostConfig } from '../model/types.js';
import { faultPoint } from '../faults.js';
import { ErrorCode, HostnetError } from '../errors.js';
import { desiredFromConfig, type LibvirtNetworkManager } from './networks.js';

export function libvirtMirror(mgr: LibvirtNetworkManager): NetworkMirror {
  return {
    async sync(config: HostConfig) {
      if (faultPoint('libvirt')) throw new HostnetError(ErrorCode.LIBVIRT_FAILED, 'libvirt refused the change (injected fault)');
      const result = await mgr.sync(desiredFromConfig(config));
      return {
        async undo(previous: HostConfig) {
          if (result.applied) await mgr.rollback(result.undo, desiredFromConfig(previous));
          else await mgr.sync(desiredFromConfig(previous));
        },
      };
    },
  };
}
