import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export type { Page };

const TEST_LINK = 'camdwrtc0';

/**
 * Chromium gathers no ICE candidates on a machine whose only interface is loopback (DESIGN.md), as in
 * some CI sandboxes. There, as root, a veth pair with a private address gives it one; the returned
 * function removes it. A real camera always has a network interface, so this is test plumbing only.
 */
export function ensureBrowserNetwork(): () => void {
  const hasLan = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.family === 'IPv4' && !a.internal));
  if (hasLan) return () => {};
  if (process.getuid?.() !== 0)
    throw new Error(
      'Chromium needs a non-loopback interface for WebRTC; run the tests as root (a veth pair is added) or on a machine with a network interface',
    );
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('link', 'add', TEST_LINK, 'type', 'veth', 'peer', 'name', `${TEST_LINK}p`);
  ip('addr', 'add', '10.213.0.1/24', 'dev', TEST_LINK);
  ip('link', 'set', `${TEST_LINK}p`, 'up');
  ip('link', 'set', TEST_LINK, 'up');
  return () => {
    try {
      ip('link', 'del', TEST_LINK);
    } catch {
      // already gone
    }
  };
}

/**
 * Debian's Chromium, headless, with the flags DESIGN.md measured (no downloads, no background traffic;
 * playwright gives it a fresh profile), plus `extraArgs` (e.g. a trusted certificate's key pin).
 */
export async function launchChromium(extraArgs: string[] = []): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: process.env.CAMD_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

export async function newPage(browser: Browser, credentials?: { username: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(credentials ? { httpCredentials: credentials } : {});
  const page = await context.newPage();
  return { context, page };
}

/** Inbound video figures of the page's peer connection (`window.camd.pc` on the viewer page, or `pcExpr`). */
export async function inboundVideo(
  page: Page,
  pcExpr = 'window.camd.pc',
): Promise<{ framesDecoded: number; frameWidth?: number; frameHeight?: number; timestamp: number } | undefined> {
  return page.evaluate(async (expr) => {
    const pc = (0, eval)(expr) as RTCPeerConnection | null;
    if (!pc) return undefined;
    const stats = await pc.getStats();
    let out: { framesDecoded: number; frameWidth?: number; frameHeight?: number; timestamp: number } | undefined;
    stats.forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video')
        out = { framesDecoded: s.framesDecoded ?? 0, frameWidth: s.frameWidth, frameHeight: s.frameHeight, timestamp: s.timestamp };
    });
    return out;
  }, pcExpr);
}

/** Waits until the page decodes video, then measures the decode rate over `windowMs`. */
export async function measureDecoding(
  page: Page,
  pcExpr?: string,
  windowMs = 3000,
): Promise<{ fps: number; width?: number; height?: number; framesDecoded: number }> {
  const deadline = Date.now() + 20_000;
  let first = await inboundVideo(page, pcExpr);
  while (!first || first.framesDecoded < 5) {
    if (Date.now() > deadline) throw new Error(`no decoded frames within 20 s (stats: ${JSON.stringify(first)})`);
    await new Promise((r) => setTimeout(r, 200));
    first = await inboundVideo(page, pcExpr);
  }
  await new Promise((r) => setTimeout(r, windowMs));
  const second = (await inboundVideo(page, pcExpr))!;
  return {
    fps: ((second.framesDecoded - first.framesDecoded) * 1000) / (second.timestamp - first.timestamp),
    width: second.frameWidth,
    height: second.frameHeight,
    framesDecoded: second.framesDecoded,
  };
}

/**
 * The seed's offer snippet (`POST /api/webrtc/offer`) in a Chromium whose transceiver is restricted
 * with `RTCRtpTransceiver.setCodecPreferences` to `mimeTypes` (e.g. `['video/VP9']`), as a libwebrtc
 * client built without H.264 offers; the peer connection is `window.pc`. Throws the answer's error.
 */
export async function playWithCodecs(page: Page, mimeTypes: string[], stream = 'stream1'): Promise<void> {
  await page.evaluate(
    async ({ mimeTypes, stream }) => {
      const pc = new RTCPeerConnection();
      (window as any).pc = pc;
      const t = pc.addTransceiver('video', { direction: 'recvonly' });
      t.setCodecPreferences(RTCRtpReceiver.getCapabilities('video')!.codecs.filter((c) => mimeTypes.includes(c.mimeType)));
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const response = await fetch(`/api/webrtc/offer?stream=${stream}`, { method: 'POST', body: JSON.stringify(offer) });
      if (!response.ok) throw new Error(`offer answered ${response.status}: ${await response.text()}`);
      await pc.setRemoteDescription(await response.json());
    },
    { mimeTypes, stream },
  );
}

/** The codec (`video/VP9`) of the page's inbound video as Chromium's stats report it once frames arrive. */
export async function inboundCodec(page: Page, pcExpr = 'window.pc'): Promise<string | undefined> {
  return page.evaluate(async (expr) => {
    const stats = await ((0, eval)(expr) as RTCPeerConnection).getStats();
    let codecId: string | undefined;
    stats.forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') codecId = s.codecId;
    });
    return codecId ? (stats.get(codecId) as { mimeType: string } | undefined)?.mimeType : undefined;
  }, pcExpr);
}
