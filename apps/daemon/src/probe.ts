import type { DeviceEntry, ElementEntry, ProbeReport, SourceMode } from '@camd/core';

/**
 * `camd probe`: what this machine offers camd, as text for a person at a new board. Each section is
 * one entry of PROBE_SECTIONS, so another finding (a TLS certificate's fingerprint, say) is one more
 * section here, fed by its own field of the report.
 */
export interface ProbeSection {
  readonly title: string;
  lines(report: ProbeReport): string[];
}

const fps = (f: number) => (Number.isInteger(f) ? String(f) : f.toFixed(2));
const mode = (m: SourceMode) => `${m.format} ${m.width}x${m.height} ${m.rates ? `at ${m.rates.map(fps).join('/')}` : `up to ${fps(m.maxFps)}`} fps`;

function camera(d: DeviceEntry): string[] {
  return [
    `${d.path ?? '(no node)'}  ${d.name}${d.api ? ` (${d.api})` : ''}`,
    `    opened with: ${d.element ?? `cannot be opened: ${d.error}`}`,
    ...d.modes.map((m) => `    ${mode(m)}`),
    `    controls: ${d.controls ? d.controls.join(', ') || 'none' : 'not known (v4l2-ctl, Debian v4l-utils, reads them)'}`,
    `    read by: ${d.streams.join(', ') || 'no stream'}`,
  ];
}

function element(e: ElementEntry): string {
  const what = !e.present
    ? `absent${e.package ? ` (Debian ${e.package})` : ''}`
    : !e.trial
      ? e.hardware
        ? 'present, not tried'
        : 'present'
      : e.trial.ok
        ? `trial passed (${e.trial.ms} ms)`
        : `trial FAILED: ${e.trial.reason}`;
  const kind = e.hardware ? `hardware, ${e.family ?? 'plugin'}` : 'software';
  return `${e.format.padEnd(5)} ${e.element.padEnd(14)} ${kind.padEnd(18)} ${what}`;
}

export const PROBE_SECTIONS: readonly ProbeSection[] = [
  {
    title: 'Cameras (GstDeviceMonitor, Video/Source)',
    lines: (r) => (r.devices.length ? r.devices.flatMap(camera) : ['none found']),
  },
  { title: 'Encoders (hardware first; a trial encodes two frames)', lines: (r) => r.encoders.map(element) },
  { title: "Decoders (for a camera's JPEG or H.264)", lines: (r) => r.decoders.map(element) },
  {
    title: 'Streams of the config: what each would get',
    lines: (r) =>
      r.streams.flatMap((s) => [
        `${s.name}: ${s.source} → ${s.picture}`,
        ...(s.error
          ? [`    cannot be built: ${s.error}`]
          : [
              `    source path: ${s.path} (${s.why})`,
              `    encoder: ${s.encoder}${s.hardware ? ' (hardware)' : ''}: ${s.reason}`,
              `    bounded by: ${s.bounds.source}; ${s.bounds.encoder}`,
              `    pipeline: ${s.launch}`,
            ]),
      ]),
  },
];

export function formatProbe(report: ProbeReport, sections: readonly ProbeSection[] = PROBE_SECTIONS): string {
  return sections.map((s) => [s.title, ...s.lines(report).map((l) => `  ${l}`)].join('\n')).join('\n\n') + '\n';
}
