/**
 * The cheapest V2 server the throughput driver can talk to, to measure the driver's own ceiling: it
 * answers IDENTIFY, SUB and MPUB with OK, reads MPUB's message count and nothing else of its body,
 * and hands its subscriber one canned message frame per message published, as far as RDY minus
 * the messages not yet FIN'd allows. No topics, no channels, no timeouts, no IDs. Prints nsqd's
 * listening lines so harness/oracle.ts startNsqProcess can start it.
 *
 *   node --import tsx bench/v2-sink.ts --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --body-size=100
 */
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';

const flag = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const bodySize = Number(flag('body-size', '100'));
const [tcpHost, tcpPort] = hostPort(flag('tcp-address', '127.0.0.1:0'));
const [httpHost, httpPort] = hostPort(flag('http-address', '127.0.0.1:0'));

function hostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

function frame(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(8 + data.length);
  out.writeInt32BE(4 + data.length, 0);
  out.writeInt32BE(type, 4);
  data.copy(out, 8);
  return out;
}

const OK = frame(0, Buffer.from('OK'));
const MESSAGE_FRAME_LENGTH = 8 + 26 + bodySize;
const CANNED = 2500;
// One block of canned frames, written in slices: never changed, so sharing it between writes is safe.
const BLOCK = Buffer.concat(
  Array.from({ length: CANNED }, (_, i) => {
    const data = Buffer.alloc(26 + bodySize, 0x78);
    data.writeBigInt64BE(BigInt(Date.now()) * 1_000_000n, 0);
    data.writeUInt16BE(1, 8);
    data.write(i.toString(16).padStart(16, '0'), 10, 16, 'latin1');
    return frame(2, data);
  }),
);

let published = 0;
let subscriber: Sink | undefined;

class Sink {
  #buffer: Buffer = Buffer.alloc(0);
  #offset = 0;
  #magic = false;
  #body: 'IDENTIFY' | 'MPUB' | undefined;
  #bodySize = -1;
  #ready = 0;
  #sent = 0;
  #finished = 0;

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => deliver());
    socket.on('error', () => {});
    socket.on('close', () => {
      if (subscriber === this) subscriber = undefined;
    });
  }

  deliver(): void {
    if (this.socket.writableNeedDrain) return;
    let count = Math.min(published, this.#ready - (this.#sent - this.#finished));
    while (count > 0) {
      const n = Math.min(count, CANNED);
      this.socket.write(BLOCK.subarray(0, n * MESSAGE_FRAME_LENGTH));
      this.#sent += n;
      published -= n;
      count -= n;
    }
  }

  #onData(chunk: Buffer): void {
    this.#buffer =
      this.#offset < this.#buffer.length
        ? Buffer.concat([this.#buffer.subarray(this.#offset), chunk])
        : chunk;
    this.#offset = 0;
    const buffer = this.#buffer;
    if (!this.#magic) {
      if (buffer.length < 4) return;
      this.#magic = true;
      this.#offset = 4;
    }
    for (;;) {
      if (this.#body) {
        if (this.#bodySize < 0) {
          if (buffer.length - this.#offset < 4) break;
          this.#bodySize = buffer.readInt32BE(this.#offset);
          this.#offset += 4;
        }
        if (buffer.length - this.#offset < this.#bodySize) break;
        if (this.#body === 'MPUB') published += buffer.readInt32BE(this.#offset);
        this.#offset += this.#bodySize;
        this.#body = undefined;
        this.#bodySize = -1;
        this.socket.write(OK);
        subscriber?.deliver();
        continue;
      }
      const end = buffer.indexOf(0x0a, this.#offset);
      if (end === -1) break;
      // FIN is almost everything a subscriber sends: counted without decoding the line.
      if (buffer[this.#offset] === 0x46 && buffer[this.#offset + 1] === 0x49) {
        this.#finished++;
        this.#offset = end + 1;
        continue;
      }
      const params = buffer.toString('latin1', this.#offset, end).split(' ');
      this.#offset = end + 1;
      switch (params[0]) {
        case 'IDENTIFY':
        case 'MPUB':
          this.#body = params[0];
          break;
        case 'SUB':
          subscriber = this;
          this.socket.write(OK);
          break;
        case 'RDY':
          this.#ready = Number(params[1]);
          break;
      }
    }
    this.deliver();
  }
}

function deliver(): void {
  subscriber?.deliver();
}

const tcp = createServer((socket) => new Sink(socket));
tcp.listen(tcpPort, tcpHost, () => {
  process.stderr.write(`[sink] TCP: listening on ${tcpHost}:${(tcp.address() as AddressInfo).port}\n`);
  const http = createHttpServer((_request, response) => response.end('OK'));
  http.listen(httpPort, httpHost, () => {
    process.stderr.write(`[sink] HTTP: listening on ${httpHost}:${(http.address() as AddressInfo).port}\n`);
  });
});
