import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';

/**
 * A lossy network path for an RTSP/UDP client, on loopback: an RTSP proxy that rewrites the SETUP
 * ports so that RTP and RTCP flow through this relay, which drops a configurable share of the
 * server→client RTP packets. The client measures real loss and reports it in its RTCP receiver reports.
 */
export class LossyRelay {
  /** Share of RTP packets dropped, 0..1. Change it at any time. */
  loss = 0;
  dropped = 0;
  forwarded = 0;
  private tcp?: Server;
  private fromServer?: [UdpSocket, UdpSocket];
  private fromClient?: [UdpSocket, UdpSocket];
  private clientRtp?: number;
  private serverRtp?: number;
  private rng = 12345;

  constructor(private readonly serverPort: number) {}

  /** The port clients connect to instead of the server's. */
  port = 0;

  async start(): Promise<void> {
    this.fromServer = await evenPair();
    this.fromClient = await evenPair();
    const [sRtp, sRtcp] = this.fromServer;
    const [cRtp, cRtcp] = this.fromClient;
    sRtp.on('message', (m) => {
      if (this.clientRtp === undefined) return;
      if (this.random() < this.loss) {
        this.dropped++;
        return;
      }
      this.forwarded++;
      sRtp.send(m, this.clientRtp, '127.0.0.1');
    });
    sRtcp.on('message', (m) => this.clientRtp !== undefined && sRtcp.send(m, this.clientRtp + 1, '127.0.0.1'));
    // The client's packets go out from the relay's server-facing sockets, so the server sees the ports it was told.
    cRtp.on('message', (m) => this.serverRtp !== undefined && sRtp.send(m, this.serverRtp, '127.0.0.1'));
    cRtcp.on('message', (m) => this.serverRtp !== undefined && sRtcp.send(m, this.serverRtp + 1, '127.0.0.1'));

    this.tcp = createServer((client) => {
      const server = connect(this.serverPort, '127.0.0.1');
      client.on('data', (d) => {
        const text = d.toString('latin1').replace(/client_port=(\d+)-(\d+)/, (_, a: string) => {
          this.clientRtp = Number(a);
          return `client_port=${sRtp.address().port}-${sRtcp.address().port}`;
        });
        server.write(Buffer.from(text, 'latin1'));
      });
      server.on('data', (d) => {
        const text = d.toString('latin1').replace(/server_port=(\d+)-(\d+)/, (_, a: string) => {
          this.serverRtp = Number(a);
          return `server_port=${cRtp.address().port}-${cRtcp.address().port}`;
        });
        client.write(Buffer.from(text, 'latin1'));
      });
      const end = () => {
        client.destroy();
        server.destroy();
      };
      client.on('close', end).on('error', end);
      server.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.tcp!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.tcp.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of [...(this.fromServer ?? []), ...(this.fromClient ?? [])]) s.close();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
  }

  private random(): number {
    this.rng ^= this.rng << 13;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5;
    return (this.rng >>> 0) / 4294967296;
  }
}

async function evenPair(): Promise<[UdpSocket, UdpSocket]> {
  for (let i = 0; i < 50; i++) {
    const a = createSocket('udp4');
    const b = createSocket('udp4');
    try {
      await new Promise<void>((res, rej) => a.once('error', rej).bind(0, '127.0.0.1', () => res()));
      const p = a.address().port;
      if (p % 2) throw new Error('odd');
      await new Promise<void>((res, rej) => b.once('error', rej).bind(p + 1, '127.0.0.1', () => res()));
      a.on('error', () => undefined);
      b.on('error', () => undefined);
      return [a, b];
    } catch {
      a.close();
      b.close();
    }
  }
  throw new Error('no even UDP port pair');
}
