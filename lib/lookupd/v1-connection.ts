import type { Socket } from 'node:net';
import { ByteQueue } from '../protocol/byte-queue.js';
import { MAGIC_V1, NEWLINE } from '../protocol/constants.js';
import { responseFrame } from '../protocol/frame.js';
import { isEphemeral, isValidName } from '../protocol/names.js';
import { decodeIdentify } from './go-json.js';
import { trimSpace } from './go-text.js';
import type { LookupdLogFn } from './options.js';
import type { PeerInfo, RegistrationDB } from './registration-db.js';

/**
 * One client of nsqlookupd's V1 TCP protocol (nsq `nsqlookupd/tcp.go` and `lookup_protocol_v1.go`):
 *
 *   client → lookupd: "  V1" once, then lines: PING | IDENTIFY | REGISTER topic [channel] |
 *                     UNREGISTER topic [channel]; IDENTIFY is followed by [int32 size][JSON body]
 *   lookupd → client: one frame per command, [int32 size][body]: OK, the IDENTIFY JSON, or
 *                     `E_<CODE> description`, after which the connection is closed
 *
 * Lines are trimmed with Go's TrimSpace and split on single spaces, so `REGISTER  t` has an empty
 * topic. Each error text is nsqlookupd's. What nsqlookupd would wait on or die of instead (a line or
 * an IDENTIFY size beyond the configured bounds, a negative size) is answered as an error and closed.
 */

/** What the connection needs from its server. */
export interface V1Context {
  readonly db: RegistrationDB;
  now(): number;
  /** lookupd's answer to IDENTIFY (its own ports, version, addresses), the same for every client. */
  readonly identifyResponse: Buffer;
  readonly maxLineBytes: number;
  readonly maxIdentifyBodyBytes: number;
  readonly log: LookupdLogFn;
}

type V1State = 'magic' | 'line' | 'identify-size' | 'identify-body' | 'closing' | 'closed';

const OK_FRAME = responseFrame(Buffer.from('OK'));
const BAD_PROTOCOL_FRAME = responseFrame(Buffer.from('E_BAD_PROTOCOL'));

/** An error answer; `description` is a byte string, so echoed names keep their exact bytes. */
function errorFrame(code: string, description: string): Buffer {
  return responseFrame(Buffer.from(`${code} ${description}`, 'latin1'));
}

/** Go's `net.Addr.String()` for a TCP peer; IPv4-mapped IPv6 is shown as plain IPv4, as Go does. */
export function goRemoteAddress(socket: Socket): string {
  let host = socket.remoteAddress ?? '';
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  const port = socket.remotePort ?? 0;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class V1Connection {
  readonly remoteAddress: string;
  readonly #socket: Socket;
  readonly #ctx: V1Context;
  readonly #input = new ByteQueue();
  #state: V1State = 'magic';
  /** Input bytes already searched for a newline, so a trickling line is not rescanned. */
  #scanned = 0;
  #identifyBodySize = 0;
  #peer: PeerInfo | undefined;
  #output: Buffer[] = [];
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(socket: Socket, ctx: V1Context) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.remoteAddress = goRemoteAddress(socket);
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: Error) => this.#onError(error));
    socket.on('close', () => this.#onClose());
    socket.on('drain', () => {
      if (this.#state !== 'closing' && this.#state !== 'closed') socket.resume();
    });
    ctx.log('info', 'TCP: new client(%s)', this.remoteAddress);
  }

  get state(): V1State {
    return this.#state;
  }

  /** Resolves once the socket is closed and the producer's registrations are gone. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Ends the connection at once (server shutdown). */
  destroy(): void {
    this.#release();
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#input.append(chunk);
    try {
      this.#process();
    } catch (error) {
      // A bug must cost this connection, never the server.
      this.#ctx.log(
        'error',
        'client(%s) internal error: %s',
        this.remoteAddress,
        (error as Error).stack ?? error,
      );
      this.#output = [];
      this.#release();
      this.#socket.destroy();
      return;
    }
    this.#flush();
  }

  #process(): void {
    const input = this.#input;
    for (;;) {
      switch (this.#state) {
        case 'magic': {
          if (input.length < 4) return;
          const magic = input.take(4);
          if (!magic.equals(MAGIC_V1)) {
            this.#ctx.log(
              'error',
              'client(%s) bad protocol magic %o',
              this.remoteAddress,
              magic.toString('latin1'),
            );
            this.#close(BAD_PROTOCOL_FRAME);
            return;
          }
          this.#setState('line');
          break;
        }
        case 'line': {
          const at = input.indexOf(NEWLINE, this.#scanned);
          if (at === -1 || at > this.#ctx.maxLineBytes) {
            this.#scanned = input.length;
            if (input.length > this.#ctx.maxLineBytes) {
              // nsqlookupd would buffer the line forever; E_INVALID is its code for an unusable line.
              this.#fatal('E_INVALID', `line longer than ${this.#ctx.maxLineBytes} bytes`);
            }
            return;
          }
          this.#scanned = 0;
          const line = input.takeLatin1(at);
          input.skip(1);
          this.#exec(line);
          if (this.#ending()) return;
          break;
        }
        case 'identify-size': {
          if (input.length < 4) return;
          const size = input.readInt32BE();
          input.skip(4);
          if (size < 0 || size > this.#ctx.maxIdentifyBodyBytes) {
            // nsqlookupd panics on a negative size and allocates whatever else is asked for.
            this.#fatal('E_BAD_BODY', 'IDENTIFY failed to read body size');
            return;
          }
          this.#identifyBodySize = size;
          this.#setState('identify-body');
          break;
        }
        case 'identify-body': {
          if (input.length < this.#identifyBodySize) return;
          this.#identify(input.take(this.#identifyBodySize));
          if (this.#ending()) return;
          break;
        }
        default:
          return;
      }
    }
  }

  #setState(next: V1State): void {
    if (next === this.#state) return;
    this.#ctx.log('debug', 'client(%s) %s -> %s', this.remoteAddress, this.#state, next);
    this.#state = next;
  }

  /** Whether a fatal error or a close has ended the conversation (read through a call, not narrowed). */
  #ending(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  #exec(line: string): void {
    const params = trimSpace(line).split(' ');
    const command = params[0]!;
    switch (command) {
      case 'PING':
        if (this.#peer) this.#peer.lastUpdate = this.#ctx.now();
        this.#output.push(OK_FRAME);
        return;
      case 'IDENTIFY':
        if (this.#peer) {
          this.#fatal('E_INVALID', 'cannot IDENTIFY again');
          return;
        }
        this.#setState('identify-size');
        return;
      case 'REGISTER':
        this.#register(params);
        return;
      case 'UNREGISTER':
        this.#unregister(params);
        return;
      default:
        this.#fatal('E_INVALID', `invalid command ${command}`);
    }
  }

  /** The topic and channel of a REGISTER/UNREGISTER line, or undefined once the error is sent. */
  #topicChannel(command: string, params: string[]): { topic: string; channel: string } | undefined {
    if (!this.#peer) {
      this.#fatal('E_INVALID', 'client must IDENTIFY');
      return undefined;
    }
    if (params.length < 2) {
      this.#fatal('E_INVALID', `${command} insufficient number of params`);
      return undefined;
    }
    const topic = params[1]!;
    const channel = params[2] ?? '';
    if (!isValidName(topic)) {
      this.#fatal('E_BAD_TOPIC', `${command} topic name '${topic}' is not valid`);
      return undefined;
    }
    if (channel !== '' && !isValidName(channel)) {
      this.#fatal('E_BAD_CHANNEL', `${command} channel name '${channel}' is not valid`);
      return undefined;
    }
    return { topic, channel };
  }

  #register(params: string[]): void {
    const args = this.#topicChannel('REGISTER', params);
    if (!args) return;
    const peer = this.#peer!;
    const { db, log } = this.#ctx;
    if (args.channel !== '' && db.addProducer('channel', args.topic, args.channel, peer)) {
      log(
        'info',
        'DB: client(%s) REGISTER category:channel key:%s subkey:%s',
        peer.id,
        args.topic,
        args.channel,
      );
    }
    if (db.addProducer('topic', args.topic, '', peer)) {
      log('info', 'DB: client(%s) REGISTER category:topic key:%s subkey:', peer.id, args.topic);
    }
    this.#output.push(OK_FRAME);
  }

  #unregister(params: string[]): void {
    const args = this.#topicChannel('UNREGISTER', params);
    if (!args) return;
    const peer = this.#peer!;
    const { db, log } = this.#ctx;
    const { topic, channel } = args;
    if (channel !== '') {
      const registration = db.get('channel', topic, channel);
      const { removed, left } = registration
        ? db.removeProducer(registration, peer.id)
        : { removed: false, left: 0 };
      if (removed)
        log('info', 'DB: client(%s) UNREGISTER category:channel key:%s subkey:%s', peer.id, topic, channel);
      if (registration && left === 0 && isEphemeral(channel)) db.removeRegistration(registration);
    } else {
      // A topic unregistration also takes the producer out of the topic's channels; nsqd never relies
      // on that, hence nsqlookupd's warning.
      for (const registration of db.findRegistrations('channel', topic, '*')) {
        if (db.removeProducer(registration, peer.id).removed) {
          log(
            'warn',
            'client(%s) unexpected UNREGISTER category:channel key:%s subkey:%s',
            peer.id,
            topic,
            registration.subKey,
          );
        }
      }
      const registration = db.get('topic', topic, '');
      const { removed, left } = registration
        ? db.removeProducer(registration, peer.id)
        : { removed: false, left: 0 };
      if (removed) log('info', 'DB: client(%s) UNREGISTER category:topic key:%s subkey:', peer.id, topic);
      if (registration && left === 0 && isEphemeral(topic)) db.removeRegistration(registration);
    }
    this.#output.push(OK_FRAME);
  }

  #identify(body: Buffer): void {
    this.#setState('line');
    const fields = decodeIdentify(body);
    if (!fields) {
      this.#fatal('E_BAD_BODY', 'IDENTIFY failed to decode JSON body');
      return;
    }
    if (
      fields.broadcastAddress === '' ||
      fields.tcpPort === 0n ||
      fields.httpPort === 0n ||
      fields.version === ''
    ) {
      this.#fatal('E_BAD_BODY', 'IDENTIFY missing fields');
      return;
    }
    const { db, log } = this.#ctx;
    const peer: PeerInfo = {
      ...fields,
      id: this.remoteAddress,
      remoteAddress: this.remoteAddress,
      lastUpdate: this.#ctx.now(),
    };
    this.#peer = peer;
    log(
      'info',
      'CLIENT(%s): IDENTIFY Address:%s TCP:%s HTTP:%s Version:%s',
      peer.id,
      peer.broadcastAddress,
      peer.tcpPort,
      peer.httpPort,
      peer.version,
    );
    if (db.addProducer('client', '', '', peer))
      log('info', 'DB: client(%s) REGISTER category:client key: subkey:', peer.id);
    this.#output.push(this.#ctx.identifyResponse);
  }

  /** Sends `code description`, then closes, like every error nsqlookupd answers. */
  #fatal(code: string, description: string): void {
    this.#ctx.log('error', '[%s] - %s %s', this.remoteAddress, code, description);
    this.#close(errorFrame(code, description));
  }

  /** Queues `last` (if any), releases the producer's registrations, flushes, then closes. */
  #close(last?: Buffer): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (last) this.#output.push(last);
    this.#setState('closing');
    this.#input.clear();
    this.#flush();
    this.#release();
    // Half-open sockets are allowed (a client may send FIN before its IDENTIFY body is complete), so
    // ending our side is not enough to close: destroy once the queued answer is out.
    this.#socket.end(() => this.#socket.destroy());
  }

  #flush(): void {
    const output = this.#output;
    if (output.length === 0) return;
    this.#output = [];
    if (this.#socket.destroyed) return;
    const ok = this.#socket.write(output.length === 1 ? output[0]! : Buffer.concat(output));
    // Like nsqlookupd, which blocks on the write, stop reading while the client is not reading.
    if (!ok && this.#state !== 'closing') this.#socket.pause();
  }

  #onEnd(): void {
    switch (this.#state) {
      case 'identify-size':
        this.#fatal('E_BAD_BODY', 'IDENTIFY failed to read body size');
        return;
      case 'identify-body':
        this.#fatal('E_BAD_BODY', 'IDENTIFY failed to read body');
        return;
      default:
        // A partial line at EOF is dropped unanswered, as bufio's ReadString error makes nsqlookupd do.
        this.#close();
    }
  }

  #onError(error: NodeJS.ErrnoException): void {
    this.#ctx.log('debug', 'client(%s) socket error: %s', this.remoteAddress, error.code ?? error.message);
    this.#release();
    this.#socket.destroy();
  }

  #onClose(): void {
    this.#release();
    this.#setState('closed');
    this.#input.clear();
    this.#output = [];
    this.#resolveClosed();
  }

  /** Takes the producer out of every registration it is in (the registrations themselves stay). */
  #release(): void {
    const peer = this.#peer;
    if (!peer) return;
    this.#peer = undefined;
    const { db, log } = this.#ctx;
    log('info', 'CLIENT(%s): closing', peer.id);
    for (const registration of db.lookupRegistrations(peer.id)) {
      if (db.removeProducer(registration, peer.id).removed) {
        log(
          'info',
          'DB: client(%s) UNREGISTER category:%s key:%s subkey:%s',
          peer.id,
          registration.category,
          registration.key,
          registration.subKey,
        );
      }
    }
  }
}
