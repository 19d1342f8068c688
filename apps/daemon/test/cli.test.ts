import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { basicAuth, testStream } from '@camd/core/testing';
import { CAMD_BIN, runCamd, startDaemon, type DaemonProcess } from './daemon-process.js';

const VERSION = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;
const dir = mkdtempSync(join(tmpdir(), 'camd-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const running: DaemonProcess[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop('SIGKILL');
});

describe('camd --help, --version, unknown options', () => {
  it('prints the usage and the version of @camd/daemon, and exits 2 with the usage on an unknown flag', async () => {
    const help = await runCamd(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: camd /);
    expect(help.stdout).toContain('--log-format');
    expect((await runCamd(['-h'])).stdout).toBe(help.stdout);

    const version = await runCamd(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: `camd ${VERSION}\n` });

    for (const bad of [['--bogus'], ['--log-format', 'xml'], ['frobnicate']]) {
      const r = await runCamd(bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^camd: .+\nusage: camd /);
    }
  });
});

describe('log format', () => {
  // `camd plugins` sets up the plugins (logging "plugin ready", on stderr: its stdout is the report) and exits: no pipeline needed.
  const config = join(dir, 'plugins.json');
  writeFileSync(
    config,
    JSON.stringify({ users: [{ username: 'a', password: 'pw-not-logged', permissions: ['Admin'] }], plugins: ['@camd/plugin-rtsp'], streams: [testStream()] }),
  );
  const camd = (args: string[], tty: boolean, env: NodeJS.ProcessEnv = {}) => {
    const cmd = [process.execPath, CAMD_BIN, 'plugins', '--config', config, '--state-dir', join(dir, 'state'), ...args];
    // `script` runs the command on a pseudo-terminal (util-linux): stdout is then a TTY.
    const [file, argv] = tty ? ['script', ['-qec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null']] : [cmd[0]!, cmd.slice(1)];
    return new Promise<string>((done, fail) =>
      execFile(file as string, argv as string[], { env: { ...process.env, CAMD_LOG_FORMAT: '', ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
        err ? fail(err) : done(stdout + stderr),
      ),
    );
  };
  const readyLine = (out: string) => out.split(/\r?\n/).find((l) => l.includes('plugin ready'))!;
  const isJson = (line: string) => JSON.parse(line).msg === 'plugin ready';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: pino-pretty's colours are ANSI escapes.
  const isPretty = (line: string) => /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (\x1b\[\d+m)?INFO(\x1b\[\d+m)?: (\x1b\[\d+m)?plugin ready/.test(line);

  it('is human-readable on a terminal and JSON otherwise', async () => {
    const onTty = readyLine(await camd([], true));
    expect(isPretty(onTty), onTty).toBe(true);
    expect(onTty).toContain('\x1b['); // coloured on a terminal
    expect(onTty).toContain('"plugin":"@camd/plugin-rtsp"');
    const piped = readyLine(await camd([], false));
    expect(isJson(piped), piped).toBe(true);
  });

  it('--log-format (or CAMD_LOG_FORMAT) forces either', async () => {
    expect(isJson(readyLine(await camd(['--log-format', 'json'], true)))).toBe(true);
    const pretty = readyLine(await camd(['--log-format=pretty'], false));
    expect(isPretty(pretty), pretty).toBe(true);
    expect(pretty).not.toContain('\x1b['); // no colours into a pipe
    expect(isJson(readyLine(await camd([], true, { CAMD_LOG_FORMAT: 'json' })))).toBe(true);
    expect(await camd(['--log-format', 'pretty'], false)).not.toContain('pw-not-logged');
  });
});

describe('YAML config', () => {
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const error = async (file: string) => {
    const r = await runCamd(['--config', file, '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    return r.stderr.trim();
  };
  const streams = (stream: string) => `# camd
http:
  port: 8080
rtsp:
  port: 8554
  streams:
    - path: /s
${stream}`;

  it('rejects a malformed YAML config with one line naming the file, the line and the field', async () => {
    let file = write('c.yaml', streams('      resolution: 640x480\n      fps: sixty\n      bitrate: 1000000\n'));
    expect(await error(file)).toBe(`camd: config error: ${file}:9: config.rtsp.streams[0].fps: must be integer`);
    file = write('unknown.yml', streams('      resolution: 640x480\n      fps: 30\n      bitrate: 1000000\n      colour: red\n'));
    expect(await error(file)).toBe(`camd: config error: ${file}:11: config.rtsp.streams[0].colour: unknown field`);
    file = write('required.yaml', streams('      fps: 30\n      bitrate: 1000000\n'));
    expect(await error(file)).toBe(`camd: config error: ${file}:7: config.rtsp.streams[0].resolution: is required`);
    file = write('enum.yaml', 'log:\n  level: loud\n');
    expect(await error(file)).toBe(`camd: config error: ${file}:2: config.log.level: must be one of fatal, error, warn, info, debug, trace, silent`);
    file = write('dup.yaml', 'http:\n  port: 1\n  port: 2\n');
    expect(await error(file)).toMatch(new RegExp(`^camd: config error: ${file}:3: not valid YAML: Map keys must be unique`));
    file = write('syntax.yaml', 'http:\n  port: [80\nusers: []\n');
    expect(await error(file)).toMatch(new RegExp(`^camd: config error: ${file}:\\d: not valid YAML: `));
    // YAML 1.2: `no` is a string, not false, so it is caught rather than read as a boolean.
    file = write('bool.yaml', 'rtsp:\n  enabled: no\n');
    expect(await error(file)).toBe(`camd: config error: ${file}:2: config.rtsp.enabled: must be boolean`);
  });

  it('runs the daemon from a YAML config as from JSON', async () => {
    const viewer = { username: 'view', password: 'view-pass', permissions: ['Media_r'] };
    const d = await startDaemon({ users: [viewer], streams: [testStream({ bitrate: 600_000 })] }, { yaml: true });
    running.push(d);
    expect((await fetch(`${d.baseUrl}/api/health`)).status).toBe(200);
    expect((await fetch(`${d.baseUrl}/api/state/streamBitrate`)).status).toBe(401);
    const r = await fetch(`${d.baseUrl}/api/state/streamBitrate`, { headers: { authorization: basicAuth(viewer) } });
    expect(await r.json()).toEqual({ key: 'streamBitrate', value: 600_000 });
  });
});
