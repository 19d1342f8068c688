import { createHash, randomBytes } from 'node:crypto';

/** A SOAP 1.2 request as ONVIF clients send it, with a WS-UsernameToken PasswordDigest when `user` is given. */
export function soapRequest(body: string, user?: { username: string; password: string }, opts: { created?: string; nonce?: Buffer } = {}): string {
  let header = '';
  if (user) {
    const nonce = opts.nonce ?? randomBytes(16);
    const created = opts.created ?? new Date().toISOString();
    const digest = createHash('sha1')
      .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(user.password)]))
      .digest('base64');
    header =
      '<s:Header><Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>' +
      `<Username>${user.username}</Username><Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</Password>` +
      `<Nonce>${nonce.toString('base64')}</Nonce><Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">${created}</Created>` +
      '</UsernameToken></Security></s:Header>';
  }
  return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">${header}<s:Body>${body}</s:Body></s:Envelope>`;
}

/** POSTs a SOAP request to a camd ONVIF service; status and text. */
export async function soap(
  baseUrl: string,
  service: 'device' | 'media' | 'media2',
  body: string,
  user?: { username: string; password: string },
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${baseUrl}/onvif/${service}_service`, {
    method: 'POST',
    headers: { 'content-type': 'application/soap+xml', ...headers },
    body: soapRequest(body, user),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** The values of every `<tag>` (namespace prefix ignored) in an XML text. */
export function values(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<(?:\\w+:)?${tag}(?:\\s[^>]*)?>([^<]*)</(?:\\w+:)?${tag}>`, 'g'))].map((m) => m[1]!);
}
