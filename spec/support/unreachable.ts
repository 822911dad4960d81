import { once } from 'node:events';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import { realTimers } from '../../harness/real-timers.js';

/** Addresses a client cannot talk to: one that refuses at once, and one where a dial never completes. */

/**
 * A 127.0.0.1 port that refuses connections: it was free a moment ago (bound, read, closed), so
 * another process could take it in between, a small chance.
 */
export async function refusedAddress(): Promise<string> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

/**
 * A TCP port on 127.0.0.1 where a dial never completes, to test dial timeouts without leaving the
 * machine. A worker thread listens with a backlog of 1 and then blocks, so nothing is ever accepted;
 * once the kernel's accept queue is full (a few filler connections), further SYNs are dropped and
 * connect() hangs until the dialer gives up. (A non-routable address would need traffic off loopback.)
 */
export class UnacceptingListener {
  readonly #worker: Worker;
  readonly #wake: Int32Array;
  readonly #fillers: net.Socket[] = [];
  #port = 0;

  private constructor(worker: Worker, wake: Int32Array) {
    this.#worker = worker;
    this.#wake = wake;
  }

  static async start(): Promise<UnacceptingListener> {
    const wake = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      const net = require('node:net');
      const server = net.createServer(() => {});
      server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
        parentPort.postMessage(server.address().port);
        Atomics.wait(workerData, 0, 0); // blocks this thread's event loop: no accept() ever runs
        server.close();
        parentPort.close();
      });
      `,
      { eval: true, workerData: wake },
    );
    const listener = new UnacceptingListener(worker, wake);
    try {
      listener.#port = await new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await listener.#fill();
    } catch (error) {
      await listener.stop();
      throw error;
    }
    return listener;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Opens connections until one hangs: from then on every dial to this port hangs. */
  async #fill(): Promise<void> {
    for (let i = 0; i < 16; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: this.#port });
      socket.on('error', () => {});
      this.#fillers.push(socket);
      const connected = await new Promise<boolean>((resolve) => {
        const timer = realTimers.setTimeout(() => resolve(false), 250);
        socket.once('connect', () => {
          realTimers.clearTimeout(timer);
          resolve(true);
        });
      });
      if (!connected) return;
    }
    throw new Error(`could not fill the accept queue of ${this.address}: dials keep completing`);
  }

  /** Drops the filler connections, wakes the worker and waits for it to exit. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#fillers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed) return resolve();
            s.once('close', () => resolve());
            s.destroy();
          }),
      ),
    );
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    Atomics.store(this.#wake, 0, 1);
    Atomics.notify(this.#wake, 0);
    await exited;
  }
}
