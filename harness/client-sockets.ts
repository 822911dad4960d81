import diagnostics from 'node:diagnostics_channel';
import type * as net from 'node:net';
import { realTimers } from './real-timers.js';

/**
 * Sees every socket this process dials (`net.connect`, through Node's `net.client.socket` diagnostics
 * channel) while installed, so a test can wait until the client side has actually read what a server
 * wrote, before moving a fake clock: the library's own sockets stay private, and nothing else tells
 * when a partial frame has reached the decoder.
 */
export class ClientSockets {
  readonly #sockets: net.Socket[] = [];
  readonly #onSocket = (message: unknown) => {
    this.#sockets.push((message as { socket: net.Socket }).socket);
  };

  constructor() {
    diagnostics.subscribe('net.client.socket', this.#onSocket);
  }

  /** Stops watching new dials. */
  uninstall(): void {
    diagnostics.unsubscribe('net.client.socket', this.#onSocket);
  }

  /** The client end of a connection, found by the server end's remote port. */
  peerOf(serverSide: net.Socket): net.Socket {
    const socket = this.#sockets.find((s) => s.localPort === serverSide.remotePort);
    if (!socket) throw new Error(`no client socket dialled from port ${serverSide.remotePort}`);
    return socket;
  }

  /**
   * Resolves once the client end of `serverSide` has read `bytes` bytes in all. Its 'data' listeners
   * (the library's included) have run by then: they run in the same emit, before this resolves.
   */
  async received(serverSide: net.Socket, bytes: number, timeoutMs = 5000): Promise<void> {
    const socket = this.peerOf(serverSide);
    if (socket.bytesRead >= bytes) return;
    await new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (socket.bytesRead < bytes) return;
        done();
        resolve();
      };
      const onClose = () => {
        done();
        reject(new Error(`client socket closed after reading ${socket.bytesRead} of ${bytes} bytes`));
      };
      const timer = realTimers.setTimeout(() => {
        done();
        reject(new Error(`client socket read ${socket.bytesRead} of ${bytes} bytes in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        realTimers.clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
      };
      socket.on('data', onData);
      socket.on('close', onClose);
    });
  }
}
