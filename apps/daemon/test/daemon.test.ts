import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { basicAuth, putState, testStream } from '@camd/core/testing';
import { childPids, runCamd, startDaemon, type DaemonProcess } from './daemon-process.js';

const operator = { username: 'op', password: 'op-pass', permissions: ['Media_rw'] };
const viewer = { username: 'view', password: 'view-pass', permissions: ['Media_r'] };
const users = [operator, viewer];
const running: DaemonProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function daemon(config: Record<string, unknown>, stateDir?: string) {
  const d = await startDaemon(config, { stateDir });
  running.push(d);
  return d;
}

describe('camd CLI', () => {
  it('rejects a malformed config with one line naming the field, and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'camd-cfg-'));
    dirs.push(dir);
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ rtsp: { streams: [{ path: '/s', resolution: '640x480', fps: 'sixty', bitrate: 1_000_000 }] } }));
    const r = await runCamd(['--config', file, '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`camd: config error: ${file}: config.rtsp.streams[0].fps: must be integer`]);
    writeFileSync(file, '{ "http": { "port": 80,, } }');
    const r2 = await runCamd(['--config', file]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/not valid JSON/);
    const r3 = await runCamd(['--config', join(dir, 'missing.json')]);
    expect(r3.stderr).toMatch(/missing.json: cannot read: ENOENT/);
    const r4 = await runCamd(['--bogus']);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/unknown option "--bogus"/);
  });

  it('refuses to start with a missing plugin, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'camd-cfg-'));
    dirs.push(dir);
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ users, plugins: ['camd-plugin-does-not-exist'], streams: [testStream()] }));
    const r = await runCamd(['--config', file, '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plugin "camd-plugin-does-not-exist" is not installed/);
  });

  it('refuses to start with a stream beyond what the machine can do, naming it and what its source delivers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'camd-cfg-'));
    dirs.push(dir);
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ users, streams: [testStream({ resolution: '7680x7680' })] }));
    const r = await runCamd(['--config', file, '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'camd: startup failed: config streams[0] "stream1": 7680x7680 at 15 fps (h264): test pattern smpte (videotestsrc) delivers at most 3840x2160 up to 30 fps, 1920x1080 up to 60 fps, 1280x720 up to 120 fps',
    );
  });

  it('hashes a password for the config', async () => {
    const r = await runCamd(['hash-password'], 's3cret\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(r.stdout).not.toContain('s3cret');
  });
});

describe('camd daemon process', () => {
  it('serves the HTTP API, streams changes, keeps state across a restart, and stops cleanly', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'camd-state-'));
    dirs.push(stateDir);
    const config = { users, streams: [testStream()] };
    let d = await daemon(config, stateDir);
    const auth = { authorization: basicAuth(operator) };
    expect((await fetch(`${d.baseUrl}/api/health`)).status).toBe(200);
    expect((await fetch(`${d.baseUrl}/api/state/streamBitrate`)).status).toBe(401);
    expect((await fetch(`${d.baseUrl}/api/state/streamBitrate`, { headers: { authorization: basicAuth({ ...operator, password: 'x' }) } })).status).toBe(401);
    const put = (value: unknown, who = operator) => putState(d, 'streamBitrate', value, who);
    expect((await put(700_000, viewer)).status).toBe(403);
    expect((await put('lots')).status).toBe(400);

    // The change feed sees the change the PUT makes.
    const feed = await fetch(`${d.baseUrl}/api/events`, { headers: auth });
    const reader = feed.body!.getReader();
    expect((await put(700_000)).status).toBe(200);
    let text = '';
    while (!text.includes('event: state')) text += Buffer.from((await reader.read()).value!).toString();
    await reader.cancel();
    expect(text).toMatch(/event: state\ndata: \{"key":"streamBitrate","value":700000,"by":"op"\}/);

    const stats = (await (await fetch(`${d.baseUrl}/api/stats`, { headers: auth })).json()) as Record<string, Record<string, unknown>>;
    expect(stats.stream1).toMatchObject({ clientCount: expect.any(Number), currentBitrate: expect.any(Number), uptime: expect.any(Number) });

    // SIGTERM: clean exit, no media process left behind.
    const workers = childPids(d.child.pid!);
    expect(workers.length).toBeGreaterThan(0);
    expect(await d.stop()).toBe(0);
    running.splice(running.indexOf(d), 1);
    for (const pid of workers) expect(existsSync(`/proc/${pid}`), `worker ${pid} outlived the daemon`).toBe(false);
    expect(d.output()).not.toContain(operator.password);

    d = await daemon(config, stateDir);
    const after = await fetch(`${d.baseUrl}/api/state/streamBitrate`, { headers: auth });
    expect(await after.json()).toEqual({ key: 'streamBitrate', value: 700_000 });
  });

  it('leaves no media process behind when the daemon is killed with SIGKILL', async () => {
    const d = await daemon({ users, streams: [testStream()] });
    const workers = childPids(d.child.pid!);
    expect(workers.length).toBeGreaterThan(0);
    await d.stop('SIGKILL');
    running.splice(running.indexOf(d), 1);
    const deadline = Date.now() + 10_000;
    while (workers.some((p) => existsSync(`/proc/${p}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const pid of workers) expect(existsSync(`/proc/${pid}`), `worker ${pid} outlived the daemon`).toBe(false);
  });
});
