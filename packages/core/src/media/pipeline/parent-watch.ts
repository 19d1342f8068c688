import { Worker } from 'node:worker_threads';

/** How often the watchdog looks at the parent (a getppid() each: nothing). */
const WATCH_MS = 200;

/**
 * Ends this process (SIGKILL) when its parent is gone, even while the main thread is stuck in native
 * code. The one-shot media processes (inspect, caps, probe) run GStreamer synchronously: a hardware
 * element whose driver blocks in open() or in its first frame never returns to the event loop, so the
 * IPC `disconnect` event never fires; such a trial of v4l2h264enc once outlived its daemon by 12
 * minutes. A worker thread is not blocked by the main thread: it polls the parent pid (the process is
 * re-parented when its parent dies, whatever killed it). It waits in Atomics.wait, which process.exit
 * interrupts, so it never holds up a normal exit (a blocking read on stdin would).
 */
export function dieWithParent(): void {
  const w = new Worker(
    `const parent = process.ppid;
     const cell = new Int32Array(new SharedArrayBuffer(4));
     while (process.ppid === parent) Atomics.wait(cell, 0, 0, ${WATCH_MS});
     process.kill(process.pid, 'SIGKILL');`,
    { eval: true },
  );
  w.unref();
}
