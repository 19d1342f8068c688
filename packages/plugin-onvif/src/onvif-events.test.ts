import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, testStream, type TestHost } from '@camd/core/testing';
import onvif from './index.js';
import { parseTermination } from './events.js';
import { soapRequest, values } from './onvif-test-utils.js';

const { Cam } = createRequire(import.meta.url)('onvif') as { Cam: new (opts: Record<string, unknown>, cb: (err: Error | null) => void) => any };

describe('ONVIF events: video loss through a pull point', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ plugins: [{ def: onvif, options: { discoveryPort: 0 } }], config: { streams: [testStream()] } });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  /** POSTs a SOAP request (WS-UsernameToken of `user`) to any path of the daemon. */
  const _post = async (url: string, body: string, user = h.users.viewer) => {
    const res = await fetch(url.startsWith('http') ? url : `${h.baseUrl}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: soapRequest(body, user),
    });
    return { status: res.status, text: await res.text() };
  };
  const _TEV = 'xmlns="http://www.onvif.org/ver10/events/wsdl"';
  const _WSNT = 'xmlns="http://docs.oasis-open.org/wsn/b-2"';

  it('the onvif library subscribes and sees SignalLoss raised when the pipeline dies and cleared when it is back', async () => {
    const cam = await new Promise<any>((resolve, reject) => {
      const c = new Cam(
        { hostname: '127.0.0.1', port: h.httpPort, username: 'viewer', password: 'viewer-secret', timeout: 10_000, preserveAddress: true },
        (err) => (err ? reject(err) : resolve(c)),
      );
    });
    const seen: Array<{ topic: string; operation: string; source: string; state: string }> = [];
    cam.on('event', (m: any) => {
      const msg = m.message.message;
      seen.push({ topic: m.topic._, operation: msg.$.PropertyOperation, source: msg.source.simpleItem.$.Value, state: String(msg.data.simpleItem.$.Value) });
    });
    try {
      // The current state first (Initialized), then changes; pictures are flowing here.
      await expect.poll(() => seen[0]?.operation, { timeout: 10_000 }).toBe('Initialized');
      await expect.poll(() => seen.at(-1)?.state, { timeout: 10_000 }).toBe('false');
      const before = seen.length;
      expect(h.killPipeline('stream1')).toBe(true);
      await expect
        .poll(() => seen.slice(before), { timeout: 10_000 })
        .toContainEqual({ topic: 'tns1:VideoSource/SignalLoss', operation: 'Changed', source: 'vs_stream1', state: 'true' });
      await expect
        .poll(() => seen.at(-1), { timeout: 20_000 })
        .toEqual({ topic: 'tns1:VideoSource/SignalLoss', operation: 'Changed', source: 'vs_stream1', state: 'false' });
    } finally {
      cam.removeAllListeners('event');
    }
  });

  it('reads durations and times as ONVIF clients write them', () => {
    expect(parseTermination('PT1M')).toBe(60_000);
    expect(parseTermination('PT0.5S')).toBe(500);
    expect(parseTermination('P1DT2H')).toBe(26 * 3_600_000);
    expect(parseTermination('2026-01-01T00:01:00Z', Date.parse('2026-01-01T00:00:00Z'))).toBe(60_000);
    expect(parseTermination('PT')).toBeUndefined();
    expect(parseTermination('soon')).toBeUndefined();
  });
});

describe('ONVIF events: the PullPoint protocol', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ media: false, plugins: [{ def: onvif, options: { discoveryPort: 0 } }], config: { streams: [testStream()] } });
  });
  afterAll(async () => h?.close());

  /** POSTs a SOAP request (WS-UsernameToken of `user`) to any path of the daemon. */
  const post = async (url: string, body: string, user = h.users.viewer) => {
    const res = await fetch(url.startsWith('http') ? url : `${h.baseUrl}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: soapRequest(body, user),
    });
    return { status: res.status, text: await res.text() };
  };
  const TEV = 'xmlns="http://www.onvif.org/ver10/events/wsdl"';
  const WSNT = 'xmlns="http://docs.oasis-open.org/wsn/b-2"';

  it('properties, a pull point of one user, renew, unsubscribe, and refusals', async () => {
    const props = await post('/onvif/event_service', `<GetEventProperties ${TEV}/>`);
    expect(props.text).toMatch(/<tns1:VideoSource><SignalLoss wstop:topic="true"><tt:MessageDescription IsProperty="true">/);

    const created = await post(
      '/onvif/event_service',
      `<CreatePullPointSubscription ${TEV}><InitialTerminationTime>PT30S</InitialTerminationTime></CreatePullPointSubscription>`,
    );
    expect(created.status).toBe(200);
    const [address] = values(created.text, 'Address');
    expect(address).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${h.httpPort}/onvif/event_service/subscription/[0-9a-f-]{36}$`));
    const pull = (user = h.users.viewer, timeout = 'PT0S') =>
      post(address!, `<PullMessages ${TEV}><Timeout>${timeout}</Timeout><MessageLimit>10</MessageLimit></PullMessages>`, user);
    const first = await pull();
    // No pipelines on this host: the source has no signal, and nothing changes while the test runs.
    expect(first.text).toMatch(
      /PropertyOperation="Initialized"><tt:Source><tt:SimpleItem Name="Source" Value="vs_stream1"\/><\/tt:Source><tt:Data><tt:SimpleItem Name="State" Value="true"\/>/,
    );
    // Nothing new: a long poll waits its timeout and answers without messages.
    const t0 = Date.now();
    const empty = await pull(h.users.viewer, 'PT1S');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(empty.text).not.toMatch(/NotificationMessage/);
    // Another user's pull point does not exist for this one.
    expect((await pull(h.users.operator)).text).toMatch(/ter:ResourceUnknown/);

    const renewed = await post(address!, `<Renew ${WSNT}><TerminationTime>PT10M</TerminationTime></Renew>`);
    const [termination] = values(renewed.text, 'TerminationTime');
    expect(Date.parse(termination!) - Date.now()).toBeGreaterThan(9 * 60_000);
    await post(address!, `<SetSynchronizationPoint ${TEV}/>`);
    expect((await pull()).text).toMatch(/PropertyOperation="Initialized"/);
    expect((await post(address!, `<Unsubscribe ${WSNT}/>`)).status).toBe(200);
    expect((await pull()).text).toMatch(/ter:ResourceUnknown/);

    expect(
      (
        await post(
          '/onvif/event_service',
          `<CreatePullPointSubscription ${TEV}><InitialTerminationTime>yesterday</InitialTerminationTime></CreatePullPointSubscription>`,
        )
      ).text,
    ).toMatch(/UnacceptableInitialTerminationTime/);
    // At most 16 pull points (the library's from the test above may still hold one until its pull ends).
    const made = [];
    let over: { status: number; text: string } | undefined;
    while (!over && made.length <= 16) {
      const r = await post('/onvif/event_service', `<CreatePullPointSubscription ${TEV}/>`);
      if (r.status === 200) made.push(r);
      else over = r;
    }
    expect(made.length).toBeGreaterThanOrEqual(15);
    expect(over?.status).toBe(503);
    expect(over?.text).toMatch(/at most 16 pull points/);
    for (const r of made) await post(values(r.text, 'Address')[0]!, `<Unsubscribe ${WSNT}/>`);
    // Without credentials: 401, as for every operation that is not pre-auth.
    expect(
      (
        await fetch(`${h.baseUrl}/onvif/event_service`, {
          method: 'POST',
          headers: { 'content-type': 'application/soap+xml' },
          body: soapRequest(`<CreatePullPointSubscription ${TEV}/>`),
        })
      ).status,
    ).toBe(401);
  });
});
