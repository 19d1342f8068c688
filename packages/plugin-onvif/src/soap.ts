import { XMLParser } from 'fast-xml-parser';

/**
 * Largest SOAP request accepted. ONVIF requests are a few KiB (the largest, CreateUsers or
 * SetVideoEncoderConfiguration, well under 16 KiB); WS-Security sits inside the envelope, so a body is
 * parsed before its credentials can be checked: the limit bounds what an anonymous caller can cost.
 */
export const MAX_BODY = 64 * 1024;

export const NS = {
  env: 'http://www.w3.org/2003/05/soap-envelope',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tr2: 'http://www.onvif.org/ver20/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
  ter: 'http://www.onvif.org/ver10/error',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  wstop: 'http://docs.oasis-open.org/wsn/t-1',
  wsa: 'http://www.w3.org/2005/08/addressing',
  tns1: 'http://www.onvif.org/ver10/topics',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
};

export interface SoapRequest {
  operation: string;
  params: Record<string, unknown>;
  security?: { username: string; password: string; passwordType?: string; nonce?: string; created?: string };
}

export class SoapFault extends Error {
  constructor(
    readonly status: number,
    readonly code: 'env:Sender' | 'env:Receiver',
    readonly subcode: string,
    readonly reason: string,
    /** Seconds for a `Retry-After` header (a refused login: locked out, or the server is busy). */
    readonly retryAfterS?: number,
  ) {
    super(reason);
  }
}

/**
 * The one XML parser of the plugin (SOAP requests and WS-Discovery datagrams). Only XML's predefined
 * entities are decoded (`R&amp;D` is the scope `R&D`, as its answers escape it): a document with a
 * DOCTYPE or an entity declaration is refused before it reaches the parser (see `parseSoap`), so no
 * declared entity can expand.
 */
export const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  processEntities: true,
  htmlEntities: false,
  parseTagValue: false,
  trimValues: true,
});

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v && typeof v === 'object' && '#text' in v ? String((v as Record<string, unknown>)['#text']) : undefined;

/**
 * Parses a SOAP 1.2 request. Documents with a DOCTYPE or entity declaration are refused outright:
 * no external entities, no entity expansion.
 */
export function parseSoap(body: string): SoapRequest {
  if (body.length > MAX_BODY) throw new SoapFault(413, 'env:Sender', 'ter:InvalidArgVal', 'request too large');
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) throw new SoapFault(400, 'env:Sender', 'ter:WellFormed', 'DTDs and entity declarations are not accepted');
  let doc: Record<string, unknown>;
  try {
    doc = xmlParser.parse(body, true) as Record<string, unknown>;
  } catch (err) {
    throw new SoapFault(400, 'env:Sender', 'ter:WellFormed', `malformed XML: ${(err as Error).message.split('\n')[0]}`);
  }
  const env = doc.Envelope as Record<string, unknown> | undefined;
  const bodyEl = env?.Body as Record<string, unknown> | undefined;
  if (!env || !bodyEl || typeof bodyEl !== 'object') throw new SoapFault(400, 'env:Sender', 'ter:WellFormed', 'not a SOAP envelope');
  const operation = Object.keys(bodyEl).find((k) => !k.startsWith('@_'));
  if (!operation) throw new SoapFault(400, 'env:Sender', 'ter:WellFormed', 'empty SOAP body');
  const params = (typeof bodyEl[operation] === 'object' && bodyEl[operation] !== null ? bodyEl[operation] : {}) as Record<string, unknown>;
  const token = ((env.Header as Record<string, unknown> | undefined)?.Security as Record<string, unknown> | undefined)?.UsernameToken as
    | Record<string, unknown>
    | undefined;
  let security: SoapRequest['security'];
  if (token) {
    const pw = token.Password as Record<string, unknown> | string | undefined;
    security = {
      username: text(token.Username) ?? '',
      password: text(pw) ?? '',
      passwordType: typeof pw === 'object' ? (pw['@_Type'] as string | undefined) : undefined,
      nonce: text(token.Nonce),
      created: text(token.Created),
    };
  }
  return { operation, params, security };
}

export function envelope(body: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env="${NS.env}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tr2="${NS.tr2}" xmlns:tt="${NS.tt}" xmlns:ter="${NS.ter}" ` +
    `xmlns:tev="${NS.tev}" xmlns:wsnt="${NS.wsnt}" xmlns:wstop="${NS.wstop}" xmlns:wsa="${NS.wsa}" xmlns:tns1="${NS.tns1}">` +
    `<env:Body>${body}</env:Body></env:Envelope>`
  );
}

export function faultEnvelope(f: SoapFault): string {
  return envelope(
    // `ter:InvalidArgVal/ter:NoProfile` nests the second subcode in the first (ONVIF Core 5.11.2).
    `<env:Fault><env:Code><env:Value>${f.code}</env:Value>${f.subcode
      .split('/')
      .reduceRight((inner, code) => `<env:Subcode><env:Value>${code}</env:Value>${inner}</env:Subcode>`, '')}</env:Code>` +
      `<env:Reason><env:Text xml:lang="en">${xmlEscape(f.reason)}</env:Text></env:Reason></env:Fault>`,
  );
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
