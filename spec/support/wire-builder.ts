/**
 * Test-only builder for lookup-protocol bytes. It shares no code with lib/protocol on purpose: a bug in
 * the encoder or decoder cannot hide behind the same bug in the expected bytes. It writes what the
 * fixtures describe in words:
 *
 *   client → lookupd: "  V1", then "<COMMAND>[ args]\n"; IDENTIFY adds [int32 big-endian size][body]
 *   lookupd → client: [int32 big-endian size][body] per response
 */

/** The V1 magic, byte by byte: two spaces, 'V', '1'. */
export const MAGIC_BYTES: Buffer = Buffer.from([0x20, 0x20, 0x56, 0x31]);

/** Four bytes, big-endian two's complement, computed by hand rather than with Buffer's writers. */
export function int32be(value: number): Buffer {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
    throw new RangeError(`int32be: ${value} does not fit in 32 bits`);
  }
  const unsigned = value < 0 ? value + 0x100000000 : value;
  return Buffer.from([
    Math.floor(unsigned / 0x1000000) % 0x100,
    Math.floor(unsigned / 0x10000) % 0x100,
    Math.floor(unsigned / 0x100) % 0x100,
    unsigned % 0x100,
  ]);
}

function bytes(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** One response frame: the body's byte length, then the body. */
export function frame(body: string | Buffer): Buffer {
  const b = bytes(body);
  return Buffer.concat([int32be(b.length), b]);
}

/** Several response frames glued together. */
export function frames(bodies: Iterable<string | Buffer>): Buffer {
  return Buffer.concat([...bodies].map(frame));
}

/** A header that declares `size` bytes, followed by `body` (which may be shorter or longer). */
export function rawFrame(size: number, body: string | Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([int32be(size), bytes(body)]);
}

/** A command line: the text and a newline. */
export function commandLine(text: string): Buffer {
  return Buffer.from(`${text}\n`, 'utf8');
}

/** `IDENTIFY\n`, the body's length, the body. */
export function identifyCommand(body: string | Buffer): Buffer {
  const b = bytes(body);
  return Buffer.concat([commandLine('IDENTIFY'), int32be(b.length), b]);
}

/** An IDENTIFY body as nsqd 1.3.0 writes it: its keys, in its order. */
export function nsqdIdentity(broadcastAddress = 'broker.example', tcpPort = 4150, httpPort = 4151): string {
  return JSON.stringify({
    broadcast_address: broadcastAddress,
    hostname: 'h',
    http_port: httpPort,
    tcp_port: tcpPort,
    version: '1.3.0',
  });
}

/**
 * Fills a fixture template: `${name}` is replaced by the value's text. Strings are inserted raw (the
 * template already has the quotes), so callers pass values that need no JSON escaping.
 */
export function fillTemplate(template: string, values: Record<string, string | number>): string {
  return template.replace(/\$\{([a-z_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`fillTemplate: no value for \${${name}}`);
    return String(value);
  });
}

/** Cuts `data` at the given offsets (ascending, within 0..length). */
export function splitAt(data: Buffer, offsets: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const offset of offsets) {
    chunks.push(data.subarray(start, offset));
    start = offset;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

/** Every byte its own chunk. */
export function bytewise(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i++) chunks.push(data.subarray(i, i + 1));
  return chunks;
}
