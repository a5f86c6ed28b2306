// `simclr launch [options] -- pretrain ...`: N local ranks of one data-parallel run (src/distributed/launch.ts).
import { DEFAULT_TIMEOUT_S } from '../../distributed/env.js';
import { commandSchema, num, numOrNull, text } from './fields.js';

export const LAUNCH = commandSchema('launch', {
  nproc: num({ kind: 'int', min: 1, max: 1024 }, 1, {
    arg: '<n>',
    help: 'ranks on this machine; each gets floor(cores/n) threads, or one GPU (default {default})',
  }),
  nnodes: num({ kind: 'int', min: 1, max: 65536 }, 1, {
    arg: '<n>',
    help: 'machines in the job; run the same command on each (default {default})',
  }),
  nodeRank: num({ kind: 'int', min: 0, max: 65535 }, 0, {
    arg: '<i>',
    help: "this machine's index in the job (default {default})",
  }),
  masterAddr: text('127.0.0.1', {
    arg: '<host>',
    help: 'host of rank 0, which hosts the rendezvous store (default {default})',
  }),
  /** null = a free port (single machine only). */
  masterPort: numOrNull(
    { kind: 'int', min: 1, max: 65535, why: 'a TCP port' },
    {
      arg: '<port>',
      help: 'rendezvous port (default: a free one; required with --nnodes > 1)',
      readme: { default: 'a free one', meaning: 'rendezvous port; required with `--nnodes` > 1' },
    },
  ),
  timeout: num(
    { kind: 'number', min: 0, minExclusive: true, max: 7 * 24 * 3600, why: 'seconds, at most a week' },
    DEFAULT_TIMEOUT_S,
    {
      arg: '<s>',
      help: 'seconds a collective or the rendezvous may wait for another rank, then all stop (default {default})',
    },
  ),
});
