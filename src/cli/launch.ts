// `simclr launch --nproc N -- pretrain ...`: N local ranks of one data-parallel run (see src/distributed/launch.ts).
import type { Command } from 'commander';
import { type LaunchResult, launch } from '../distributed/launch.js';
import { setCommandExitCode } from './errors.js';
import { UsageError } from '../errors.js';
import { schemaCommand } from './options.js';
import { LAUNCH } from '../run/options/launch.js';

export function registerLaunchCommand(program: Command): void {
  schemaCommand(
    program,
    LAUNCH,
    'run a command as N data-parallel ranks on this machine (multi-node: run once per node with ' +
      '--nnodes/--node-rank)',
    async (o, cmd) => {
      const command = cmd.processedArgs[0] as string[];
      if (command[0] !== 'pretrain')
        throw new UsageError(
          `launch runs 'pretrain' (got '${command[0]}'): simclr launch --nproc 2 -- pretrain --data ...`,
        );
      // Each rank runs this same CLI entry under the same Node flags (a TypeScript loader, say).
      const argv = [process.execPath, ...process.execArgv, process.argv[1]!, ...command];
      let result: LaunchResult;
      try {
        result = await launch({
          nproc: o.nproc,
          nnodes: o.nnodes,
          nodeRank: o.nodeRank,
          masterAddr: o.masterAddr,
          masterPort: o.masterPort,
          timeoutS: o.timeout,
          argv,
        });
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      setCommandExitCode(result.exitCode);
    },
  )
    .usage('[options] -- pretrain [pretrain options]')
    .argument('<command...>', 'the simclr command each rank runs, after --');
}
