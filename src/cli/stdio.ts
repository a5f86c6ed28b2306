// Output that nobody reads any more must not end a run. A killed `tee`, a dead `simclr launch` holding a rank's
// pipes, or a closed terminal makes the next write fail (EPIPE, EIO); unhandled, that 'error' event throws on the
// main thread and loses the step in progress and its checkpoint. Every simclr process installs this first.

/** From the first error on process.stdout or process.stderr, writes to that stream are dropped (their callbacks still
 * run). */
export function dropOutputOnStreamErrors(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => {
      stream.write = ((_chunk: unknown, encodingOrDone?: unknown, done?: unknown): boolean => {
        const cb = typeof encodingOrDone === 'function' ? encodingOrDone : done;
        if (typeof cb === 'function') process.nextTick(cb as () => void);
        return true;
      }) as typeof stream.write;
    });
  }
}
