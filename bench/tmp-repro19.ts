import { createTestHost, testStream } from '../packages/core/src/testing/index.js';
import pip from '../packages/plugin-pip/src/index.js';
import abr from '../packages/plugin-abr/src/index.js';
const which = process.argv[2] ?? 'pip';
const plugins = which === 'pip' ? [pip] : which === 'abr' ? [abr] : [];
const same = 'videotestsrc:smpte';
const h = await createTestHost({ plugins, logLevel: process.env.LOG ?? 'warn', config: { streams: [testStream({ resolution: '1920x1080', fps: 60, bitrate: 8_000_000, profile: 'high', preset: 'fast', source: same }), testStream({ path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'main', preset: 'fast', source: same })] } });
const stats = async () => { const s = await (await h.fetch('/api/stats')).json() as any; return Object.fromEntries(['stream1','stream2'].map((n) => [n, { fps: s[n].fps, running: s[n].running, state: s[n].state, restarts: s[n].restarts, lastError: s[n].lastError }])); };
await new Promise((r) => setTimeout(r, 8000));
console.log('before', JSON.stringify(await stats()));
if (which === 'pip') {
  await h.fetch('/api/state/pipEnabled', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: true }) });
  for (let i = 0; i < 4; i++) { await new Promise((r) => setTimeout(r, 5000)); console.log('pip on', JSON.stringify(await stats())); }
  await h.fetch('/api/state/pipLayout', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: { mainSource: 'secondary', pipSource: 'primary', pipPosition: 'top-left', pipScale: 0.3, pipBorder: false } }) });
  await new Promise((r) => setTimeout(r, 5000)); console.log('layout2', JSON.stringify(await stats()));
}
await h.close();
