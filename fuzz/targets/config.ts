/**
 * Config files as the daemon reads them (apps/daemon config-file.ts `parseConfigText`: JSON or YAML,
 * then core's schema and checks in config.ts). A refusal is a `CamdError` with `CAMD_ERR_CONFIG`; a
 * config that passes must give streams `configuredStreams` can build.
 */
import fc from 'fast-check';
import { parseConfigText } from '../../apps/daemon/src/config-file.js';
import { CamdError, configuredStreams, ErrorCodes, pluginEntries } from '../../packages/core/src/index.js';
import { Finding, type FuzzTarget } from '../harness.js';
import { mutated, showBytes, token, type Mutated } from '../mutate.js';

/** Sometimes a value of the wrong type: what a hand-edited file gets wrong. */
const wrong = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.constant([]), fc.constant({}));
// Rare enough that whole configs still pass the schema often, and the checks after it run.
const maybe = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 30, arbitrary: good }, { weight: 1, arbitrary: wrong });

const stream = fc.record(
  {
    name: maybe(token(undefined, 70)),
    path: maybe(
      fc.oneof(
        fc.constantFrom('/stream1', '/stream2', '/cam/a'),
        token(undefined, 20).map((t) => `/${t}`),
      ),
    ),
    resolution: maybe(fc.constantFrom('1920x1080', '1280x720', '320x240', '640x480', '641x480', '0x0', '99999x2')),
    fps: maybe(fc.integer({ min: 0, max: 250 })),
    bitrate: maybe(fc.integer({ min: 60_000, max: 51_000_000 })),
    profile: maybe(fc.constantFrom('baseline', 'main', 'high', 'high', 'extended')),
    codec: maybe(fc.constantFrom('h264', 'h264', 'h265', 'mjpeg', 'vp8')),
    preset: maybe(fc.constantFrom('ultrafast', 'fast', 'medium', 'slow', 'placebo')),
    gop: maybe(fc.integer({ min: 0, max: 2000 })),
    source: maybe(
      fc.oneof(fc.constantFrom('videotestsrc', 'videotestsrc:ball', '/dev/video9', ''), fc.record({ device: token() }), fc.record({ pattern: token() })),
    ),
  },
  { requiredKeys: ['path', 'resolution', 'fps', 'bitrate'] },
);

const config = fc.record(
  {
    http: maybe(
      fc.record({ port: maybe(fc.integer({ min: 0, max: 66000 })), host: maybe(fc.constantFrom('127.0.0.1', '0.0.0.0', '::')) }, { requiredKeys: [] }),
    ),
    users: maybe(
      fc.array(
        fc.record(
          {
            username: maybe(token(undefined, 70)),
            password: maybe(fc.string({ maxLength: 20 })),
            passwordHash: maybe(fc.constantFrom('scrypt$16384$8$1$c2FsdA==$a2V5', 'scrypt$16384$8$1$c2FsdA==$a2V5', 'md5$x')),
            permissions: maybe(fc.array(fc.constantFrom('Media_r', 'Media_rw', 'Admin', 'Admin', 'Root'), { maxLength: 3 })),
          },
          { requiredKeys: ['username', 'permissions'] },
        ),
        { maxLength: 2 },
      ),
    ),
    plugins: maybe(
      fc.array(
        fc.oneof(
          fc.constantFrom('@camd/plugin-rtsp', '@camd/plugin-webrtc', '@camd/plugin-onvif', ''),
          fc.record(
            { name: maybe(token()), options: maybe(fc.object({ maxDepth: 1, maxKeys: 3 })), required: maybe(fc.boolean()), optional: maybe(fc.boolean()) },
            { requiredKeys: [] },
          ),
        ),
        { maxLength: 3 },
      ),
    ),
    rtsp: maybe(
      fc.record(
        { enabled: maybe(fc.boolean()), port: maybe(fc.integer({ min: 0, max: 70000 })), streams: maybe(fc.array(stream, { minLength: 1, maxLength: 2 })) },
        { requiredKeys: [] },
      ),
    ),
    streams: maybe(fc.array(stream, { minLength: 1, maxLength: 3 })),
    log: maybe(fc.record({ level: maybe(fc.constantFrom('info', 'debug', 'silent', 'loud')) })),
    media: maybe(fc.record({ isolation: maybe(fc.constantFrom('shared', 'pipeline', 'none')) })),
    metrics: maybe(fc.record({ auth: maybe(fc.boolean()) })),
    onvif: maybe(fc.object({ maxDepth: 1, maxKeys: 3 })),
  },
  { requiredKeys: [] },
);

/** Configs that pass the schema (as in the README), so that the checks after it (duplicate streams, odd sizes) and configuredStreams run. */
const goodStream = fc.record(
  {
    name: token(undefined, 20),
    path: token(undefined, 20).map((t) => `/${t}`),
    resolution: fc.constantFrom('1920x1080', '1280x720', '320x240', '641x480', '1x1'),
    fps: fc.integer({ min: 1, max: 240 }),
    bitrate: fc.integer({ min: 64_000, max: 50_000_000 }),
    profile: fc.constantFrom('baseline', 'main', 'high'),
    codec: fc.constantFrom('h264', 'h265', 'mjpeg'),
    gop: fc.integer({ min: 1, max: 1000 }),
    source: fc.constantFrom('videotestsrc', 'videotestsrc:ball', '/dev/video9'),
  },
  { requiredKeys: ['path', 'resolution', 'fps', 'bitrate'] },
);
const goodConfig = fc.record(
  {
    http: fc.record({ port: fc.integer({ min: 0, max: 65535 }), host: fc.constantFrom('127.0.0.1', '0.0.0.0') }),
    users: fc.array(fc.record({ username: token(), password: token(), permissions: fc.subarray(['Media_r', 'Media_rw', 'Admin']) }), { maxLength: 2 }),
    plugins: fc.array(
      fc.oneof(fc.constantFrom('@camd/plugin-rtsp', '@camd/plugin-onvif'), fc.record({ name: token(), options: fc.object({ maxDepth: 1, maxKeys: 3 }) })),
      { maxLength: 3 },
    ),
    streams: fc.array(goodStream, { minLength: 1, maxLength: 3 }),
    log: fc.record({ level: fc.constantFrom('info', 'debug', 'silent') }),
  },
  { requiredKeys: [] },
);

/** Block-style YAML of a JSON value (what people write by hand), keys and strings quoted when needed. */
function toYaml(v: unknown, indent = ''): string {
  const scalar = (x: unknown) =>
    typeof x === 'string' ? (/^[A-Za-z_/][A-Za-z0-9_./@-]*$/.test(x) && !/^(true|false|null|~|\d.*)$/i.test(x) ? x : JSON.stringify(x)) : JSON.stringify(x);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v.map((x) => `\n${indent}- ${typeof x === 'object' && x !== null ? toYaml(x, `${indent}  `).trimStart() : scalar(x)}`).join('');
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    return entries
      .map(
        ([k, x]) =>
          `\n${indent}${scalar(k)}:${typeof x === 'object' && x !== null && (Array.isArray(x) ? x.length : Object.keys(x).length) ? toYaml(x, `${indent}  `) : ` ${toYaml(x, indent)}`}`,
      )
      .join('');
  }
  return scalar(v);
}

/** YAML's own hazards, spliced in at the start: aliases (the "billion laughs"), tags, merge keys, deep nesting. */
const yamlHazard = fc.oneof(
  { weight: 30, arbitrary: fc.constant('') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n',
      'x: !!binary aGVsbG8=\n',
      'x: !!js/function "function(){}"\n',
      'base: &base {fps: 30}\nextra:\n  <<: *base\n',
      `deep: ${'['.repeat(2000)}${']'.repeat(2000)}\n`,
      `deep: ${'{a: '.repeat(500)}1${'}'.repeat(500)}\n`,
      '%YAML 1.1\n---\n',
      '---\n...\n---\n',
      '? [a, b]\n: c\n',
      '__proto__: {polluted: true}\n',
    ),
  },
);

type Input = Mutated<{ yaml: boolean }>;

export const configFile: FuzzTarget<Input> = {
  name: 'config-file',
  what: 'parseConfigText (apps/daemon config-file.ts) + parseConfig/configuredStreams (core config.ts): JSON and YAML',
  arbitrary: mutated(
    fc
      .tuple(fc.boolean(), yamlHazard, fc.oneof(goodConfig, config))
      .map(([yaml, hazard, c]) => ({ bytes: Buffer.from(yaml ? `${hazard}${toYaml(c).trimStart()}\n` : JSON.stringify(c, null, 1), 'utf8'), meta: { yaml } })),
  ),
  show: (x) => `${x.meta.yaml ? 'yaml' : 'json'} ${showBytes(x.bytes)}`,
  refusal: (err) => err instanceof CamdError && err.code === ErrorCodes.CONFIG,
  // Read once at startup, from the operator: a 40 KB deeply nested YAML file takes ~130 ms here, fine
  // for a file; a hang (seconds) is still a finding.
  slowMs: 1000,
  // A YAML parse costs ~10× an RTSP request: 1,000 inputs keep CI's pass short (the full run does 1,000,000).
  ciRuns: 1000,
  run(x) {
    const cfg = parseConfigText(x.meta.yaml ? 'camd.yaml' : 'camd.json', x.bytes.toString('utf8'));
    if (({} as Record<string, unknown>).polluted !== undefined) throw new Finding('Object.prototype polluted');
    for (const s of configuredStreams(cfg)) {
      if (!(s.width > 0 && s.height > 0 && s.width % 2 === 0 && s.height % 2 === 0)) throw new Finding(`stream ${s.name} ${s.width}x${s.height}`);
      if (!/^[A-Za-z0-9_-]+$/.test(s.name)) throw new Finding(`stream name ${JSON.stringify(s.name)}`);
    }
    pluginEntries(cfg);
  },
};
