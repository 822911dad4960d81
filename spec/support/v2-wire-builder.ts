/**
 * Test-only bytes for nsqd's V2 protocol, written from the spec (nsq.io's TCP protocol page) and
 * sharing no code with lib/broker/protocol-v2.ts.
 */
export const MAGIC = Buffer.from('  V2', 'ascii');

export function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

/** `text\n`, then the size-prefixed body when one is given. */
export function command(text: string, body?: string | Buffer): Buffer {
  const head = Buffer.from(`${text}\n`, 'latin1');
  if (body === undefined) return head;
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([head, int32(bytes.length), bytes]);
}

export function identify(fields: Record<string, unknown>): Buffer {
  return command('IDENTIFY', JSON.stringify(fields));
}

/** MPUB's body: a count, then each message with its size. */
export function mpubBody(messages: Array<string | Buffer>): Buffer {
  const parts = [int32(messages.length)];
  for (const message of messages) {
    const bytes = typeof message === 'string' ? Buffer.from(message) : message;
    parts.push(int32(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}
