// `simclr launch --nproc N -- pretrain ...`: N local ranks of one data-parallel run (see src/distributed/launch.ts).
import type { Command } from 'commander';
import { DEFAULT_TIMEOUT_S } from '../distributed/env.js';
import { type LaunchResult, launch } from '../distributed/launch.js';
import { setCommandExitCode } from './errors.js';
import { UsageError } from '../errors.js';
import { bounded as b } from './options.js';
import { COMMAND_BOUNDS } from '../run/bounds.js';

const L = COMMAND_BOUNDS.launch;

interface LaunchFlags {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort?: number;
  timeout: number;
}

export function registerLaunchCommand(program: Command): void {
  program
    .command('launch')
    .description(
      'run a command as N data-parallel ranks on this machine (multi-node: run once per node with ' +
        '--nnodes/--node-rank)',
    )
    .usage('[options] -- pretrain [pretrain options]')
    .option('--nproc <n>', 'ranks on this machine; the cores are split between them', b(L.nproc), 1)
    .option('--nnodes <n>', 'machines in the job', b(L.nnodes), 1)
    .option('--node-rank <i>', "this machine's index in the job", b(L.nodeRank), 0)
    .option('--master-addr <host>', 'host of rank 0 (it hosts the rendezvous store)', '127.0.0.1')
    .option(
      '--master-port <port>',
      'rendezvous port (default: a free one; required with --nnodes > 1)',
      b(L.masterPort),
    )
    .option(
      '--timeout <s>',
      `seconds a collective or the rendezvous may wait for another rank (default ${DEFAULT_TIMEOUT_S})`,
      b(L.timeout),
      DEFAULT_TIMEOUT_S,
    )
    .argument('<command...>', 'the simclr command each rank runs, after --')
    .action(async (command: string[], o: LaunchFlags) => {
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
          masterPort: o.masterPort ?? null,
          timeoutS: o.timeout,
          argv,
        });
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      setCommandExitCode(result.exitCode);
    });
}
