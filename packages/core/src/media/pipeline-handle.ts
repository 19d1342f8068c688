/**
 * Live control of a running pipeline, handed to a fragment's `live` appliers. Calls go to the
 * pipeline's media process; they reject with GStreamer's message when an element or property is unknown.
 */
export interface PipelineHandle {
  readonly stream: string;
  /** Pipeline base time on the realtime clock (ns since the epoch): capture time = base + PTS. */
  readonly baseTimeNs: bigint;
  /** Sets a property of a named element, e.g. `setProperty('encoder', 'bitrate', 4000)`. */
  setProperty(element: string, property: string, value: string | number | boolean): Promise<void>;
  /** Sets a property of a pad of a named element, e.g. `setPadProperty('pip', 'sink_1', 'xpos', 1440)`. */
  setPadProperty(element: string, pad: string, property: string, value: string | number | boolean): Promise<void>;
  /** Asks the encoder for a keyframe as soon as possible. */
  requestKeyframe(): void;
}
