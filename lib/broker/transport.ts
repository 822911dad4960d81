import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import { V2Error } from '../errors.js';
import { SnappyFramer, SnappyUnframer } from './snappy-stream.js';

/** How a broker does TLS: nsqd's --tls-* flags, read into a context. */
export interface TlsSettings {
  /** Certificate, key, root CA and minimum version. */
  secureContext: SecureContext;
  /** The root CAs a client certificate must be issued by, for `require-verify`. */
  rootCas: X509Certificate[];
  /** nsqd's --tls-client-auth-policy: ask for a client certificate (`require`), and check it (`require-verify`). */
  clientAuthPolicy?: 'require' | 'require-verify';
}

/** What a connection's transport reports to its client. */
export interface TransportEvents {
  /** Plain protocol bytes, after TLS and decompression. */
  data(chunk: Buffer): void;
  /** The output has room again. */
  drain(): void;
  /** A failure below the protocol (TLS, compression); the connection is being dropped. */
  error(error: Error): void;
}

/**
 * The bytes under one V2 connection: plain TCP, upgraded after IDENTIFY as nsqd does to TLS, then to
 * snappy or deflate (both on TLS, or on TCP). Frames written in one tick go out together, as nsqd's
 * buffered writer flushes them: corked on a plain socket, compressed as one piece (and, for deflate,
 * sync-flushed) otherwise.
 */
export class Transport {
  /** The negotiated TLS version and cipher, once {@link startTls} has finished. */
  tls: { version: string; cipher: string } | undefined;
  snappy = false;
  deflate = false;
  readonly #socket: Socket;
  readonly #events: TransportEvents;
  #out: Socket;
  #batch: Buffer[] = [];
  #corked = false;
  #scheduled = false;
  #framer: SnappyFramer | undefined;
  #unframer: SnappyUnframer | undefined;
  #deflater: DeflateRaw | undefined;
  #inflater: InflateRaw | undefined;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);

  constructor(socket: Socket, events: TransportEvents) {
    this.#socket = socket;
    this.#out = socket;
    this.#events = events;
    socket.on('data', this.#onData);
    socket.on('drain', () => this.#events.drain());
  }

  /** Whether written frames wait in memory for the peer to read (no more messages until it drains). */
  get needDrain(): boolean {
    return this.#out.writableNeedDrain || (this.#deflater?.writableNeedDrain ?? false);
  }

  /** Whether frames can still be written. */
  get writable(): boolean {
    return !this.#socket.destroyed && this.#out.writable;
  }

  write(frame: Buffer): void {
    if (!this.writable) return;
    if (!this.#framer && !this.#deflater) {
      if (!this.#corked) {
        this.#corked = true;
        const out = this.#out;
        out.cork();
        process.nextTick(() => {
          this.#corked = false;
          out.uncork();
        });
      }
      this.#out.write(frame);
      return;
    }
    this.#batch.push(frame);
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(() => this.#flush());
  }

  /**
   * Upgrades to TLS, as nsqd does right after its IDENTIFY answer: that answer is flushed first (the
   * client starts its handshake once it reads it), then the socket is wrapped. `onSecure` runs once
   * the handshake is done (and, with `require`, a certificate came); a failure is an `error` event.
   */
  startTls(settings: TlsSettings, onSecure: () => void): void {
    const raw = this.#socket;
    // Nothing more is read as plain text: the next bytes are the client's handshake.
    raw.off('data', this.#onData);
    raw.pause();
    raw.uncork();
    raw.write(Buffer.alloc(0), () => {
      if (raw.destroyed) return;
      const secure = new TLSSocket(raw, {
        isServer: true,
        secureContext: settings.secureContext,
        requestCert: settings.clientAuthPolicy !== undefined,
        rejectUnauthorized: settings.clientAuthPolicy === 'require-verify',
      });
      this.#out = secure;
      secure.on('error', (error) => this.#events.error(error));
      secure.on('drain', () => this.#events.drain());
      // The connection's 'close' listeners are on the plain socket.
      secure.on('close', () => raw.destroy());
      secure.once('secure', () => {
        const refusal = clientCertificateRefusal(settings, secure);
        if (refusal) {
          // Said over TLS, as nsqd's handshake failure would end the connection.
          this.tls = { version: secure.getProtocol() ?? '', cipher: '' };
          this.#events.error(new V2Error('E_IDENTIFY_FAILED', `IDENTIFY failed ${refusal}`));
          return;
        }
        const cipher = secure.getCipher();
        this.tls = {
          version: secure.getProtocol() ?? '',
          cipher: cipher?.standardName ?? cipher?.name ?? '',
        };
        secure.on('data', this.#onData);
        onSecure();
      });
    });
  }

  /** Snappy's framing format from now on, both ways. */
  startSnappy(): void {
    this.#framer = new SnappyFramer();
    this.#unframer = new SnappyUnframer();
    this.snappy = true;
  }

  /** Raw deflate at `level` from now on, both ways (nsqd's compress/flate). */
  startDeflate(level: number): void {
    const deflater = createDeflateRaw({ level });
    const inflater = createInflateRaw();
    deflater.on('data', (chunk: Buffer) => this.#out.write(chunk));
    deflater.on('drain', () => this.#events.drain());
    inflater.on('data', (chunk: Buffer) => this.#events.data(chunk));
    for (const stream of [deflater, inflater])
      stream.on('error', (error) =>
        this.#events.error(new V2Error('E_BAD_BODY', `deflate: ${error.message}`)),
      );
    this.#deflater = deflater;
    this.#inflater = inflater;
    this.deflate = true;
  }

  /** Ends our side once what is queued is out. */
  end(): void {
    this.#flush();
    this.#deflater?.end();
    this.#out.end();
  }

  destroy(): void {
    this.#deflater?.destroy();
    this.#inflater?.destroy();
    this.#out.destroy();
    this.#socket.destroy();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0 || !this.writable) return;
    const data = this.#batch.length === 1 ? this.#batch[0]! : Buffer.concat(this.#batch);
    this.#batch = [];
    if (this.#framer) this.#out.write(this.#framer.frame(data));
    else if (this.#deflater) {
      this.#deflater.write(data);
      this.#deflater.flush(constants.Z_SYNC_FLUSH);
    }
  }

  #receive(chunk: Buffer): void {
    if (this.#unframer) {
      let parts: Buffer[];
      try {
        parts = this.#unframer.push(chunk);
      } catch (error) {
        this.#events.error(error as Error);
        return;
      }
      for (const part of parts) this.#events.data(part);
    } else if (this.#inflater) {
      this.#inflater.write(chunk);
    } else {
      this.#events.data(chunk);
    }
  }
}

/**
 * Why the client's certificate is not good enough for the policy, or undefined. A socket wrapped by
 * hand (not accepted by a tls.Server) does not refuse an unverified peer on its own, so the check is
 * here: present for `require`; for `require-verify` also issued (and signed) by one of the root CAs,
 * and within its validity dates.
 */
function clientCertificateRefusal(settings: TlsSettings, secure: TLSSocket): string | undefined {
  if (!settings.clientAuthPolicy) return undefined;
  const raw = secure.getPeerCertificate()?.raw;
  if (!raw) return 'tls: client did not provide a certificate';
  if (settings.clientAuthPolicy !== 'require-verify') return undefined;
  const peer = new X509Certificate(raw);
  const now = Date.now();
  if (now < Date.parse(peer.validFrom) || now > Date.parse(peer.validTo))
    return 'tls: client certificate expired or not yet valid';
  const issued = settings.rootCas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
  return issued ? undefined : 'tls: client certificate not signed by a root CA';
}
