import { once } from 'node:events';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameReader } from './v1-frames.js';

/**
 * A TCP proxy between a client and a lookupd (embedded, real or fake) with fault switches, for
 * peer and loop tests. It listens on 127.0.0.1 port 0 and forwards both ways; it tracks the response
 * framing lookupd → client ([int32 size][body]) so that faults can strike at a frame boundary or
 * inside a frame.
 *
 * A fault applies to the connections open when it is set and to the ones accepted later:
 *
 * | fault           | new connections                     | open connections                            |
 * |-----------------|-------------------------------------|---------------------------------------------|
 * | `pass`          | forwarded                           | forwarded                                   |
 * | `refuse`        | refused (nothing listens on the port) | untouched                                 |
 * | `silent`        | accepted, read, never answered      | bytes dropped both ways from now on         |
 * | `delay`         | every chunk, both ways, `ms` later  | same                                        |
 * | `cut-mid-frame` | after `afterFrames` (0) more response frames, the next one is sent half (header and half its body), then the client gets a FIN | same |
 * | `reset`         | reset (RST) on accept, or after `afterFrames` response frames | reset now, or after `afterFrames` |
 * | `garbage`       | after `afterFrames` (0) response frames, `bytes` are sent in place of the next one | same |
 * | `close-after`   | as soon as `afterFrames` response frames are through, the client gets a FIN | same |
 *
 * `afterFrames` counts response frames completed since the fault was set, per connection.
 */

export type Fault =
  | { type: 'pass' }
  | { type: 'refuse' }
  | { type: 'silent' }
  | { type: 'delay'; ms: number }
  | { type: 'cut-mid-frame'; afterFrames?: number }
  | { type: 'reset'; afterFrames?: number }
  | { type: 'garbage'; bytes: Buffer; afterFrames?: number }
  | { type: 'close-after'; afterFrames: number };

class ProxiedConnection {
  readonly closed: Promise<void>;
  upstream: net.Socket | undefined;
  /** Response frames completed since the current fault was set. */
  framesSinceFault = 0;
  /** The response framing, counted (bodies are not kept) so faults strike at or inside a frame. */
  readonly #frames = new FrameReader({ keepBodies: false });
  #tracking = true;
  #cutting: Buffer | undefined;
  #toClient: Promise<void> = Promise.resolve();
  #toUpstream: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    readonly client: net.Socket,
    private readonly proxy: FaultProxy,
  ) {
    this.closed = new Promise((resolve) => client.once('close', () => resolve()));
    client.on('error', () => this.upstream?.destroy());
    client.on('data', (chunk: Buffer) => this.#fromClient(chunk));
    client.on('end', () => this.upstream?.end());
    client.on('close', () => this.upstream?.destroy());
  }

  dial(target: string): void {
    const { host, port } = splitAddress(target);
    const upstream = net.connect({ host, port });
    this.upstream = upstream;
    const upstreamClosed = new Promise<void>((resolve) => upstream.once('close', () => resolve()));
    this.proxy.track(upstreamClosed);
    upstream.setNoDelay(true);
    upstream.on('data', (chunk: Buffer) => this.#fromUpstream(chunk));
    upstream.on('end', () => this.client.end());
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') this.reset();
      else this.client.destroy();
    });
  }

  reset(): void {
    if (!this.client.destroyed) this.client.resetAndDestroy();
    this.upstream?.destroy();
  }

  drop(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  #fromClient(chunk: Buffer): void {
    const fault = this.proxy.fault;
    if (fault.type === 'silent' || !this.upstream) return;
    const upstream = this.upstream;
    this.#toUpstream = this.#send(this.#toUpstream, fault, () => {
      if (upstream.writable) upstream.write(chunk);
    });
  }

  #fromUpstream(chunk: Buffer): void {
    const fault = this.proxy.fault;
    if (fault.type === 'silent') return;
    if (this.#cutting) {
      this.#cutting = Buffer.concat([this.#cutting, chunk]);
      this.#tryCut();
      return;
    }
    let i = 0;
    while (i < chunk.length && this.#tracking) {
      if (this.#frames.atBoundary && this.#strikesNow(fault)) {
        this.#toClientBytes(fault, chunk.subarray(0, i));
        this.#strike(fault, chunk.subarray(i));
        return;
      }
      const { end, frame } = this.#frames.readFrame(chunk, i);
      i = end;
      if (this.#frames.garbage !== undefined) {
        this.#tracking = false;
        break;
      }
      if (!frame) continue;
      this.framesSinceFault++;
      if (this.#closesNow(fault)) {
        this.#toClientBytes(fault, chunk.subarray(0, i));
        this.#close();
        return;
      }
    }
    this.#toClientBytes(fault, chunk);
  }

  #closesNow(fault: Fault): boolean {
    return fault.type === 'close-after' && this.framesSinceFault >= fault.afterFrames;
  }

  /** FIN to the client once everything before it is delivered; the upstream connection is dropped. */
  #close(): void {
    this.#tracking = false;
    this.#toClient = this.#toClient.then(() => {
      this.client.end();
      this.upstream?.destroy();
    });
  }

  #strikesNow(fault: Fault): boolean {
    switch (fault.type) {
      case 'cut-mid-frame':
      case 'garbage':
        return this.framesSinceFault >= (fault.afterFrames ?? 0);
      case 'reset':
        return fault.afterFrames !== undefined && this.framesSinceFault >= fault.afterFrames;
      default:
        return false;
    }
  }

  #strike(fault: Fault, rest: Buffer): void {
    if (fault.type === 'reset') {
      this.#toClient = this.#toClient.then(() => this.reset());
    } else if (fault.type === 'garbage') {
      this.#tracking = false;
      this.#toClientBytes(fault, Buffer.concat([fault.bytes, rest]));
    } else {
      this.#cutting = rest;
      this.#tryCut();
    }
  }

  /** Sends the header and half the body of the frame at the start of #cutting, once that much is in. */
  #tryCut(): void {
    const bytes = this.#cutting!;
    if (bytes.length < 4) return;
    const size = bytes.readInt32BE(0);
    const keep = size <= 0 ? 2 : 4 + Math.floor(size / 2);
    if (bytes.length < keep) return;
    this.#cutting = Buffer.alloc(0);
    this.#toClient = this.#toClient.then(() => {
      if (this.client.writable) this.client.end(bytes.subarray(0, keep));
      this.upstream?.destroy();
    });
  }

  #toClientBytes(fault: Fault, bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#toClient = this.#send(this.#toClient, fault, () => {
      if (this.client.writable) this.client.write(bytes);
    });
  }

  /** Writes in order; with a delay fault each chunk waits its delay behind the ones before it. */
  #send(chain: Promise<void>, fault: Fault, write: () => void): Promise<void> {
    const delay = fault.type === 'delay' ? fault.ms : 0;
    return chain
      .then(async () => {
        if (delay > 0) await sleep(delay, undefined, { signal: this.proxy.signal });
        write();
      })
      .catch(() => {
        // Aborted by stop(): nothing left to deliver to.
      });
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

export class FaultProxy {
  readonly #server: net.Server;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #closing: Promise<void>[] = [];
  readonly #abort = new AbortController();
  #target: string;
  #fault: Fault = { type: 'pass' };
  #port = 0;
  #accepted = 0;
  #stopped = false;
  #waiters = new Set<() => void>();

  private constructor(target: string) {
    this.#target = target;
    this.#server = net.createServer((socket) => this.#onConnection(socket));
  }

  /** Starts a proxy to `target` (`host:port`); the caller registers `stop()` as cleanup. */
  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await proxy.#listen(0);
    return proxy;
  }

  /** `127.0.0.1:<port>`: the address clients dial. */
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get target(): string {
    return this.#target;
  }

  get fault(): Fault {
    return this.#fault;
  }

  /** Connections accepted so far (refused dials are not accepted). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Client connections still open. */
  get openConnections(): number {
    return this.#connections.size;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Where new connections go from now on (e.g. a lookupd restarted on another port). */
  setTarget(target: string): void {
    this.#target = target;
  }

  /**
   * Switches the fault; resolves once it is in force: for `refuse` once the port is closed, for an
   * immediate `reset` once the open connections are reset (the clients may not have read the RST yet).
   */
  async setFault(fault: Fault): Promise<void> {
    if (this.#stopped) throw new Error('fault proxy is stopped');
    const previous = this.#fault;
    this.#fault = fault;
    for (const c of this.#connections) c.framesSinceFault = 0;
    if (fault.type === 'reset' && fault.afterFrames === undefined) {
      const open = [...this.#connections];
      for (const c of open) c.reset();
      await Promise.all(open.map((c) => c.closed));
    }
    if (fault.type === 'refuse' && previous.type !== 'refuse') {
      // Not close(callback): that waits for every accepted connection to end, and those stay open.
      // The listening socket itself is closed at once.
      this.#server.close();
      await new Promise((resolve) => setImmediate(resolve));
    } else if (fault.type !== 'refuse' && previous.type === 'refuse') {
      await this.#listen(this.#port);
    }
  }

  /** Closes every open connection, with a FIN (default) or an RST; resolves once they are closed. */
  async dropAll(options: { reset?: boolean } = {}): Promise<void> {
    const all = [...this.#connections];
    for (const c of all) {
      if (options.reset) c.reset();
      else c.drop();
    }
    await Promise.all(all.map((c) => c.closed));
  }

  /** Resolves once `count` connections have been accepted in total. */
  async waitForConnections(count: number, timeoutMs = 5000): Promise<void> {
    if (this.#accepted >= count) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#accepted < count) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`fault proxy: ${this.#accepted} of ${count} connections after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Closes the listener and every socket on both sides; resolves once all are closed. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    const listenerClosed = this.#server.listening
      ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
      : Promise.resolve();
    for (const c of this.#connections) c.drop();
    await Promise.all([listenerClosed, ...this.#closing]);
  }

  /** Registers a socket close that stop() must wait for. */
  track(closed: Promise<void>): void {
    this.#closing.push(closed);
  }

  async #listen(port: number): Promise<void> {
    this.#server.listen({ host: '127.0.0.1', port });
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  #onConnection(socket: net.Socket): void {
    this.#accepted++;
    const connection = new ProxiedConnection(this.#accepted, socket, this);
    this.#connections.add(connection);
    this.track(connection.closed);
    void connection.closed.then(() => this.#connections.delete(connection));
    for (const waiter of this.#waiters) waiter();
    socket.setNoDelay(true);
    const fault = this.#fault;
    if (this.#stopped) connection.drop();
    else if (fault.type === 'reset' && fault.afterFrames === undefined) connection.reset();
    else if (fault.type !== 'silent') connection.dial(this.#target);
  }
}

/** Starts a fault proxy to `target`; the caller registers `stop()` as cleanup. */
export function startFaultProxy(target: string): Promise<FaultProxy> {
  return FaultProxy.start(target);
}
