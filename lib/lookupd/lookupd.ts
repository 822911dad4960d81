import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { NsqLookupError } from '../errors.js';
import { goString } from '../protocol/encoder.js';
import { responseFrame } from '../protocol/frame.js';
import { joinHostPort, splitHostPort } from '../util/address.js';
import { createHttpListeners } from './http/router.js';
import { LOOKUPD_VERSION, type LookupdOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { RegistrationDB } from './registration-db.js';
import { V1Connection, type V1Context } from './v1-connection.js';

/** `starting` until both listeners are up (what {@link startLookupd} waits for), then `running`. */
export type LookupdState = 'starting' | 'running' | 'closing' | 'closed';

const NEXT_STATES: Record<LookupdState, readonly LookupdState[]> = {
  starting: ['running', 'closing'],
  running: ['closing'],
  closing: ['closed'],
  closed: [],
};

// Go's net/http reads up to 1 MiB of request line and headers (DefaultMaxHeaderBytes) plus 4 KiB of
// slack; node:http's default of 16 KiB would refuse requests nsqlookupd serves.
const MAX_HEADER_BYTES = 1024 * 1024 + 4096;
/** How long close() lets an answer under way (or a request still arriving) finish before cutting it. */
const CLOSE_GRACE_MS = 1000;

// Go turns TCP keep-alive on for every accepted connection, probing after 15 s of silence, so a
// producer that vanished without a FIN is eventually dropped from the registry.
const SOCKET_OPTIONS = { noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 } as const;

/**
 * A running nsqlookupd-compatible server: the V1 TCP protocol for producers and the HTTP API for
 * consumers and tools, sharing one {@link RegistrationDB}. Create it with {@link startLookupd}.
 */
export class Lookupd {
  /** The registry, for inspection; mutate it only through the protocols. */
  readonly db = new RegistrationDB();
  /** The version string reported by /info and IDENTIFY. */
  readonly version = LOOKUPD_VERSION;
  readonly broadcastAddress: string;
  readonly hostname: string;
  readonly #options: ResolvedOptions;
  readonly #tcp: TcpServer;
  readonly #http: HttpServer;
  readonly #connections = new Set<V1Connection>();
  /** TCP clients that connected before the HTTP listener was up, each with what unhooks it. */
  readonly #early = new Map<Socket, () => void>();
  /** Every socket the HTTP listener accepted and that is not closed yet, each with its close. */
  readonly #httpSockets = new Map<Socket, Promise<void>>();
  /** HTTP sockets with an answer under way, and that answer. */
  readonly #answering = new Map<Socket, ServerResponse>();
  #state: LookupdState = 'starting';
  #closing: Promise<void> | undefined;
  #tcpAddress = '';
  #httpAddress = '';
  /** What every TCP client is served with; set once both listeners are up. */
  #v1: V1Context | undefined;

  /** @internal use {@link startLookupd} */
  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.broadcastAddress = options.broadcastAddress;
    this.hostname = options.hostname;
    this.#tcp = createTcpServer({ ...SOCKET_OPTIONS, allowHalfOpen: true }, (socket: Socket) => {
      if (this.#state === 'starting') this.#holdEarly(socket);
      else if (this.#state === 'running') this.#serve(socket);
      else socket.destroy();
    });
    const http = createHttpListeners({
      db: this.db,
      now: options.now,
      inactiveProducerTimeoutMs: options.inactiveProducerTimeoutMs,
      tombstoneLifetimeMs: options.tombstoneLifetimeMs,
      version: LOOKUPD_VERSION,
      log: options.log,
    });
    this.#http = createHttpServer({ ...SOCKET_OPTIONS, maxHeaderSize: MAX_HEADER_BYTES }, http.request);
    this.#http.on('connection', (socket: Socket) => {
      this.#httpSockets.set(
        socket,
        new Promise((resolve) =>
          socket.once('close', () => {
            this.#httpSockets.delete(socket);
            resolve();
          }),
        ),
      );
    });
    // Ahead of the router, which may answer at once.
    this.#http.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      // While closing, an answer still goes out whole, then the connection ends.
      if (this.#closing) this.#lastAnswer(res);
      this.#answering.set(socket, res);
      res.once('close', () => {
        // A pipelined request behind this one is answered first.
        if (this.#answering.get(socket) !== res) return;
        this.#answering.delete(socket);
        if (this.#closing) socket.end();
      });
    });
    // A request node:http cannot parse is answered the way Go's net/http does, where the socket allows.
    this.#http.on('clientError', http.clientError);
  }

  /** `host:port` the TCP listener is bound to, as nsqlookupd prints it (`[::]:4160` for all interfaces). */
  get tcpAddress(): string {
    return this.#tcpAddress;
  }

  /** `host:port` of the HTTP listener. */
  get httpAddress(): string {
    return this.#httpAddress;
  }

  get state(): LookupdState {
    return this.#state;
  }

  /** TCP clients currently connected. */
  get clientCount(): number {
    return this.#connections.size;
  }

  /** @internal */
  async listen(): Promise<void> {
    const { log } = this.#options;
    try {
      this.#tcpAddress = await listen(this.#tcp, this.#options.tcpAddress);
      log('info', 'TCP: listening on %s', this.#tcpAddress);
      this.#httpAddress = await listen(this.#http, this.#options.httpAddress);
      log('info', 'HTTP: listening on %s', this.#httpAddress);
    } catch (error) {
      await this.close();
      throw error;
    }
    const options = this.#options;
    this.#v1 = {
      db: this.db,
      now: options.now,
      maxLineBytes: options.maxLineBytes,
      maxIdentifyBodyBytes: options.maxIdentifyBodyBytes,
      log: options.log,
      identifyResponse: identifyResponse({
        broadcastAddress: this.broadcastAddress,
        hostname: this.hostname,
        httpPort: boundPort(this.#http),
        tcpPort: boundPort(this.#tcp),
      }),
    };
    if (!this.#setState('running')) return;
    for (const [socket, unhook] of this.#early) {
      unhook();
      if (!socket.destroyed) this.#serve(socket);
    }
    this.#early.clear();
  }

  /**
   * Stops listening, ends every TCP client (their producers leave the registry) and every HTTP
   * connection, kept-alive ones included, and resolves once both listeners and every socket they
   * accepted are closed, and the event loop has turned once more. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#setState('closing');
    const tcpClosed = closeServer(this.#tcp);
    const httpClosed = closeServer(this.#http);
    const clients = [...this.#connections].map((c) => {
      c.destroy();
      return c.closed;
    });
    for (const [socket, unhook] of this.#early) {
      unhook();
      socket.destroy();
    }
    this.#early.clear();
    // Idle keep-alive sockets go now; one with an answer under way gets the rest of it, marked
    // `Connection: close` where its headers are still unsent, and ends after it (or after a grace, for
    // a client that never finishes its request).
    const httpSockets = [...this.#httpSockets.values()];
    for (const socket of this.#httpSockets.keys()) {
      const res = this.#answering.get(socket);
      if (res) this.#lastAnswer(res);
      else socket.destroy();
    }
    const grace = setTimeout(() => {
      for (const socket of this.#httpSockets.keys()) socket.destroy();
    }, CLOSE_GRACE_MS);
    grace.unref();
    this.#closing = Promise.all([tcpClosed, httpClosed, ...clients, ...httpSockets])
      .finally(() => clearTimeout(grace))
      // A client in this process learns of the close on the loop's next turn: a keep-alive agent
      // would otherwise still hold the dead socket, and send its next request (to a server started
      // on the same port right after) down it.
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        this.#setState('closed');
      });
    return this.#closing;
  }

  /** The answer `res` is the connection's last: it says so if it still can. */
  #lastAnswer(res: ServerResponse): void {
    if (!res.headersSent) {
      res.shouldKeepAlive = false;
      res.setHeader('Connection', 'close');
    }
  }

  /** Moves to `next` if the state machine allows it from the current state; false if it does not. */
  #setState(next: LookupdState): boolean {
    const { log } = this.#options;
    if (!NEXT_STATES[this.#state].includes(next)) {
      log('warn', 'lookupd %s -> %s refused', this.#state, next);
      return false;
    }
    log('info', 'lookupd %s -> %s', this.#state, next);
    this.#state = next;
    return true;
  }

  #serve(socket: Socket): void {
    const connection = new V1Connection(socket, this.#v1!);
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }

  /**
   * Keeps a client that connected before the HTTP listener was up unread until it is: its IDENTIFY
   * answer carries both ports (nsqlookupd has both listeners before it accepts anyone).
   */
  #holdEarly(socket: Socket): void {
    // Unread, the socket fails only by breaking off, which 'close' then reports.
    const onError = () => {};
    const onClose = () => this.#early.delete(socket);
    socket.on('error', onError);
    socket.once('close', onClose);
    this.#early.set(socket, () => {
      socket.off('error', onError);
      socket.off('close', onClose);
    });
  }
}

/** The IDENTIFY answer: json.Marshal of nsqlookupd's map, so keys sorted. */
function identifyResponse({
  broadcastAddress,
  hostname,
  httpPort,
  tcpPort,
}: {
  broadcastAddress: string;
  hostname: string;
  httpPort: number;
  tcpPort: number;
}): Buffer {
  const json =
    `{"broadcast_address":${goString(broadcastAddress)},"hostname":${goString(hostname)},` +
    `"http_port":${httpPort},"tcp_port":${tcpPort},"version":${goString(LOOKUPD_VERSION)}}`;
  return responseFrame(Buffer.from(json, 'utf8'));
}

function boundPort(server: TcpServer | HttpServer): number {
  return (server.address() as AddressInfo).port;
}

/**
 * Starts an nsqlookupd-compatible server and resolves once both its TCP and HTTP listeners are up.
 *
 * ```ts
 * const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
 * console.log(lookupd.tcpAddress, lookupd.httpAddress);
 * await lookupd.close();
 * ```
 */
export async function startLookupd(options: LookupdOptions = {}): Promise<Lookupd> {
  const lookupd = new Lookupd(resolveOptions(options));
  await lookupd.listen();
  return lookupd;
}

/** Listens on `address` as Go's net.Listen("tcp", address) would; resolves to the bound `host:port`. */
async function listen(server: TcpServer | HttpServer, address: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  // Go binds an empty or 0.0.0.0 host dual-stack, on [::], where the system has IPv6.
  const wildcard = host === '' || host === '0.0.0.0';
  try {
    await bind(server, wildcard ? '::' : host, port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!wildcard || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) {
      throw new NsqLookupError('NSQ_ERR_LISTEN', `listen (${address}) failed - ${(error as Error).message}`, {
        cause: error,
      });
    }
    await bind(server, '0.0.0.0', port);
  }
  const bound = server.address() as AddressInfo;
  return joinHostPort(bound.address, bound.port);
}

function bind(server: TcpServer | HttpServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, ipv6Only: false });
  });
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
