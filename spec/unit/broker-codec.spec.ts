/** The broker's V2 command reader (lib/broker/protocol-v2.ts), fed bytes in every split. */
import assert from 'node:assert/strict';
import {
  type BodySpec,
  CommandReader,
  parseMpubBody,
  type Token,
  type V2Error,
} from '../../lib/broker/protocol-v2.js';
import { command, MAGIC, mpubBody } from '../support/v2-wire-builder.js';

const BODY_COMMANDS: Record<string, BodySpec> = {
  PUB: { command: 'PUB', kind: 'message', max: 100 },
  MPUB: { command: 'MPUB', kind: 'body', max: 100 },
};

/** Feeds `chunks` and reads tokens as the broker does, asking for a body after PUB and MPUB lines. */
function read(chunks: Buffer[], maxLineBytes = 64): Array<string[] | string> {
  const reader = new CommandReader(maxLineBytes);
  const out: Array<string[] | string> = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let token: Token | undefined = reader.next(); token; token = reader.next()) {
      if (token.type === 'body') {
        out.push(token.body.toString('latin1'));
        continue;
      }
      out.push(token.params);
      const spec = BODY_COMMANDS[token.params[0]!];
      if (spec) reader.expectBody(spec);
    }
  }
  return out;
}

describe('broker CommandReader', () => {
  const stream = Buffer.concat([
    MAGIC,
    command('NOP'),
    command('PUB orders', 'hello'),
    Buffer.from('RDY 10\r\n'),
    command('MPUB orders', mpubBody(['a', 'bc'])),
    command('FIN 0123456789abcdef'),
  ]);
  const expected = [
    ['NOP'],
    ['PUB', 'orders'],
    'hello',
    ['RDY', '10'],
    ['MPUB', 'orders'],
    mpubBody(['a', 'bc']).toString('latin1'),
    ['FIN', '0123456789abcdef'],
  ];

  it('reads the same commands and bodies however the bytes are split', () => {
    assert.deepEqual(read([stream]), expected);
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(read([stream.subarray(0, cut), stream.subarray(cut)]), expected, `split at ${cut}`);
    }
    assert.deepEqual(read([...stream].map((byte) => Buffer.from([byte]))), expected, 'byte by byte');
  });

  it('hands out bodies that later chunks do not overwrite', () => {
    const reader = new CommandReader(64);
    const chunk = Buffer.concat([MAGIC, command('PUB t', 'first')]);
    reader.push(chunk);
    reader.next();
    reader.expectBody(BODY_COMMANDS.PUB!);
    const token = reader.next();
    chunk.fill(0);
    assert.equal(token?.type === 'body' && token.body.toString(), 'first');
  });

  it('refuses a bad magic, an oversized size and a line that never ends, with fatal errors', () => {
    assert.throws(
      () => read([Buffer.from('  V1')]),
      (e: V2Error) => e.code === 'E_BAD_PROTOCOL' && e.fatal,
    );
    assert.throws(
      () => read([MAGIC, command('PUB t'), Buffer.from([0, 0, 0, 101])]),
      (e: V2Error) => e.message === 'E_BAD_MESSAGE PUB message too big 101 > 100',
    );
    assert.throws(
      () => read([MAGIC, Buffer.alloc(65, 'x')]),
      (e: V2Error) => e.message === 'E_INVALID command line longer than 64 bytes',
    );
    // 64 bytes and the newline are fine.
    assert.deepEqual(read([MAGIC, Buffer.alloc(64, 'x'), Buffer.from('\n')]), [['x'.repeat(64)]]);
  });

  it('parses MPUB bodies and refuses truncated ones', () => {
    assert.deepEqual(
      parseMpubBody(mpubBody(['a', 'bc']), 10).map((b) => b.toString()),
      ['a', 'bc'],
    );
    const truncated = mpubBody(['a', 'bc']).subarray(0, -1);
    assert.throws(() => parseMpubBody(truncated, 10), /E_BAD_MESSAGE MPUB failed to read message body/);
    const countTooHigh = Buffer.concat([Buffer.from([0, 0, 0, 3]), mpubBody(['a']).subarray(4)]);
    assert.throws(() => parseMpubBody(countTooHigh, 10), /MPUB failed to read message\(1\) body size/);
    assert.throws(() => parseMpubBody(mpubBody(['toolong']), 3), /E_BAD_MESSAGE MPUB message too big 7 > 3/);
  });
});
