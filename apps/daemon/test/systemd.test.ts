import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@camd/core';
import { testStream } from '@camd/core/testing';
import { notifyWhenHealthy } from '../src/notify.js';
import { startDaemon } from './daemon-process.js';

const UNIT = resolve(import.meta.dirname, '../../../packaging/camd.service');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'camd-systemd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('packaging/camd.service', () => {
  it('passes systemd-analyze verify, and its exposure score stays below 2.0', async () => {
    const v = await run('systemd-analyze', ['verify', UNIT]);
    expect(v.stdout + v.stderr).toBe('');
    const s = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', UNIT]);
    const score = Number(/Overall exposure level for camd\.service: ([\d.]+)/.exec(s.stdout)?.[1]);
    expect(score).toBeLessThan(2.0);
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      'DynamicUser=yes',
      'StateDirectory=camd',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
      'PrivateTmp=yes',
      'DevicePolicy=closed',
      'DeviceAllow=char-video4linux rw',
      'SupplementaryGroups=video',
      'Restart=on-failure',
    ]) {
      expect(unit.split('\n'), line).toContain(line);
    }
  });
});

/**
 * A stand-in for PID 1's notification socket: records each datagram and closes the file descriptors
 * that come with it, which is how systemd answers `BARRIER=1` (systemd-notify waits for that).
 */
function notifySocket(path: string, log: string): ChildProcess {
  const py = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i')
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    with open(sys.argv[2], 'a') as f:
        f.write(msg.decode() + '\\n--\\n')
`;
  return spawn('/usr/bin/python3', ['-c', py, path, log], { stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('systemd readiness (Type=notify)', () => {
  // `node`: started as `node bin/camd.js`, the daemon that sends it is the launcher's child (NotifyAccess=all).
  it.each(['program', 'node'] as const)('sends READY=1 through systemd-notify once /api/health is healthy (started as %s)', async (launch) => {
    const sock = join(dir, `notify-${launch}.sock`);
    const log = join(dir, `notify-${launch}.log`);
    const listener = notifySocket(sock, log);
    try {
      await new Promise((r) => listener.stdout!.once('data', r));
      const d = await startDaemon({ streams: [testStream()] }, { env: { NOTIFY_SOCKET: sock }, launch });
      try {
        const deadline = Date.now() + 10_000;
        while (!(existsSync(log) && readFileSync(log, 'utf8').includes('READY=1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const messages = readFileSync(log, 'utf8').split('\n--\n').filter(Boolean);
        const ready = messages.find((m) => m.includes('READY=1'))!;
        expect(ready.split('\n')).toEqual(expect.arrayContaining(['READY=1', 'STATUS=healthy: streams playing']));
        // systemd-notify waited for the barrier (the listener closed its fd) and exited 0.
        await expect.poll(() => d.output()).toContain('systemd: ready');
        expect(d.output()).not.toContain('systemd-notify failed');
        expect((await fetch(`${d.baseUrl}/api/health`)).status).toBe(200);
      } finally {
        expect(await d.stop()).toBe(0);
      }
    } finally {
      listener.kill();
    }
  });

  it('waits for health, reports ready anyway after the deadline with what fails, and does nothing without NOTIFY_SOCKET', async () => {
    const logger = createLogger({ level: 'silent' });
    const sent: string[][] = [];
    const send = async (args: string[]) => void sent.push(args);
    let healthy = false;
    const health = () => ({ healthy, checks: [{ name: 'stream:stream1', healthy, detail: healthy ? undefined : 'no frames (starting)' }] });
    const stop = notifyWhenHealthy({ health, logger, send, env: { NOTIFY_SOCKET: '/run/x' } });
    await new Promise((r) => setTimeout(r, 600));
    expect(sent).toEqual([]);
    healthy = true;
    await expect.poll(() => sent).toEqual([['--ready', '--status=healthy: streams playing']]);
    stop();

    healthy = false;
    const late: string[][] = [];
    notifyWhenHealthy({ health, logger, send: async (a) => void late.push(a), env: { NOTIFY_SOCKET: '/run/x' }, deadlineMs: 300 });
    await expect.poll(() => late).toEqual([['--ready', '--status=running, not healthy after 0.3 s: stream:stream1: no frames (starting)']]);

    const none: string[][] = [];
    notifyWhenHealthy({ health: () => ({ healthy: true, checks: [] }), logger, send: async (a) => void none.push(a), env: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(none).toEqual([]);
  });
});
