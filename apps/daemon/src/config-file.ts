import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { CamdError, ErrorCodes, parseConfig, type CamdConfig } from '@camd/core';

/** The embedded default: the default streams (/stream1 1080p60 H.264 high 8 Mbit/s, /stream2 720p30 main 4 Mbit/s), a test pattern when there is no /dev/video0. */
export const DEFAULT_CONFIG_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../config/default.json');

/** `.yaml` and `.yml` files are YAML (1.2), everything else JSON. */
export function isYamlPath(path: string): boolean {
  return /^\.ya?ml$/i.test(extname(path));
}

/**
 * Reads and validates a config file; errors are one line naming the file and the bad field, and for
 * YAML also the line (`camd.yaml:7: config.rtsp.streams[0].fps: must be integer`).
 */
export function loadConfigFile(path: string): CamdConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CamdError(ErrorCodes.CONFIG, `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfigText(path, text);
}

/** A config file's text, parsed (YAML or JSON, by the name of `path`) and validated; `path` only names it in errors. */
export function parseConfigText(path: string, text: string): CamdConfig {
  if (isYamlPath(path)) return loadYaml(path, text);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CamdError(ErrorCodes.CONFIG, `${path}: not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseConfig(doc);
  } catch (err) {
    if (err instanceof CamdError) throw new CamdError(err.code, `${path}: ${err.message}`, { details: err.details });
    throw err;
  }
}

function loadYaml(path: string, text: string): CamdConfig {
  const lines = new LineCounter();
  // YAML 1.2 core schema: `no`/`yes`/`on` stay strings, duplicate keys are errors, aliases are capped.
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    // The parser recurses per nesting level: thousands of nested `key: key: …` overflow its stack (found by `pnpm fuzz`).
    throw new CamdError(ErrorCodes.CONFIG, `${path}: not valid YAML: ${(err as Error).message}`);
  }
  const bad = doc.errors[0];
  if (bad) {
    const line = lines.linePos(bad.pos[0]).line;
    throw new CamdError(ErrorCodes.CONFIG, `${path}:${line}: not valid YAML: ${bad.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new CamdError(ErrorCodes.CONFIG, `${path}: not valid YAML: ${(err as Error).message}`);
  }
  try {
    return parseConfig(data);
  } catch (err) {
    if (!(err instanceof CamdError)) throw err;
    const first = Array.isArray(err.details) ? (err.details[0] as AjvErrorLike | undefined) : undefined;
    const offset = first ? offsetOf(doc, first) : undefined;
    const where = offset === undefined ? '' : `:${lines.linePos(offset).line}`;
    throw new CamdError(err.code, `${path}${where}: ${err.message}`, { details: err.details });
  }
}

interface AjvErrorLike {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}

/**
 * Where in the YAML text a schema error points: the offending key for an unknown field, the value
 * for a bad scalar, else the key that holds the object or list at fault.
 */
function offsetOf(doc: Document, err: AjvErrorLike): number | undefined {
  const segments = err.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (err.keyword === 'additionalProperties') segments.push(String(err.params.additionalProperty));
  let node: unknown = doc.contents;
  let key: Node | undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === seg);
      if (!pair) break;
      key = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)];
      key = undefined;
    } else break;
  }
  if (err.keyword === 'additionalProperties') return key?.range?.[0];
  if (isScalar(node) && node.range) return node.range[0];
  return key?.range?.[0] ?? (node as Node | undefined)?.range?.[0];
}
