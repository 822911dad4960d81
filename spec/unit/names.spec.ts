import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidNameError } from '../../lib/errors.js';
import {
  encodeRegister,
  encodeUnregister,
  isEphemeral,
  isValidChannelName,
  isValidTopicName,
} from '../../lib/protocol/index.js';
import { commandLine } from '../support/wire-builder.js';

const NAME_CHARS = '.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
const nameChar = fc.constantFrom(...NAME_CHARS);

/** Names nsq accepts: 1-64 characters of [.a-zA-Z0-9_-], optionally ending in #ephemeral. */
const validName = fc.oneof(
  fc.string({ unit: nameChar, minLength: 1, maxLength: 64 }),
  fc
    .string({ unit: nameChar, minLength: 1, maxLength: 64 - '#ephemeral'.length })
    .map((s) => `${s}#ephemeral`),
);

/** Any character nsq refuses in a name: whitespace, control characters, punctuation, non-ASCII. */
const badChar = fc.oneof(
  fc.constantFrom(
    ' ',
    '\n',
    '\r',
    '\t',
    '\0',
    '#',
    '/',
    ':',
    '*',
    '"',
    "'",
    '\\',
    'ñ',
    'é',
    '\u2028',
    '😀',
    '\x7f',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => !NAME_CHARS.includes(c)),
);

/** A name with at least one refused character somewhere (a '#' anywhere but a valid suffix included). */
const nameWithBadChar = fc
  .tuple(fc.string({ unit: nameChar, maxLength: 30 }), badChar, fc.string({ unit: nameChar, maxLength: 30 }))
  .filter(([, c, b]) => !(c === '#' && b === 'ephemeral'))
  .map(([a, c, b]) => `${a}${c}${b}`);

const invalidName = fc.oneof(
  nameWithBadChar,
  fc.constant(''),
  fc.string({ unit: nameChar, minLength: 65, maxLength: 200 }),
  fc.string({ unit: nameChar, minLength: 55, maxLength: 100 }).map((s) => `${s}#ephemeral`),
  fc.constantFrom(
    '#ephemeral',
    'a#ephemeral#ephemeral',
    'a#Ephemeral',
    'a#ephemeral ',
    'a#ephemeral\n',
    'a\n',
  ),
);

const encoders = [
  ['REGISTER', encodeRegister],
  ['UNREGISTER', encodeUnregister],
] as const;

function isInvalidName(kind: 'topic' | 'channel', value: string) {
  return (e: unknown) =>
    e instanceof InvalidNameError &&
    e.kind === kind &&
    e.value === value &&
    e.code === (kind === 'topic' ? 'NSQ_ERR_INVALID_TOPIC' : 'NSQ_ERR_INVALID_CHANNEL') &&
    e.message.includes(JSON.stringify(value));
}

describe('names', () => {
  it('accepts every valid name and encodes it byte for byte (property)', () => {
    fc.assert(
      fc.property(validName, fc.option(validName, { nil: undefined }), (topic, channel) => {
        assert.ok(isValidTopicName(topic));
        assert.ok(isValidChannelName(topic));
        for (const [command, encode] of encoders) {
          const line = channel === undefined ? `${command} ${topic}` : `${command} ${topic} ${channel}`;
          assert.deepEqual(encode(topic, channel), commandLine(line));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts the boundaries: 1 and 64 characters, 64 with #ephemeral', () => {
    for (const name of ['a', '.', '-', '_', 't'.repeat(64), `${'t'.repeat(54)}#ephemeral`]) {
      assert.equal(name.length <= 64, true);
      assert.ok(isValidTopicName(name), name);
      assert.deepEqual(encodeRegister(name, name), commandLine(`REGISTER ${name} ${name}`));
    }
  });

  it('refuses any other topic before a byte is produced (property)', () => {
    fc.assert(
      fc.property(invalidName, fc.option(validName, { nil: undefined }), (topic, channel) => {
        assert.ok(!isValidTopicName(topic));
        for (const [, encode] of encoders) {
          assert.throws(() => encode(topic, channel), isInvalidName('topic', topic));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses any other channel before a byte is produced (property)', () => {
    fc.assert(
      fc.property(
        validName,
        invalidName.filter((c) => c !== ''),
        (topic, channel) => {
          assert.ok(!isValidChannelName(channel));
          for (const [, encode] of encoders) {
            assert.throws(() => encode(topic, channel), isInvalidName('channel', channel));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never lets a name smuggle a second command onto the wire', () => {
    const smugglers = [
      'a\nUNREGISTER b',
      'a b',
      'a\r\nPING',
      'a\n',
      '\nPING',
      'a\tb',
      'a\u0000b',
      'a#ephemeral\nREGISTER b',
      'a\u2028b',
    ];
    for (const name of smugglers) {
      for (const [, encode] of encoders) {
        assert.throws(() => encode(name), isInvalidName('topic', name));
        assert.throws(() => encode('t', name), isInvalidName('channel', name));
      }
    }
  });

  it('refuses values that are not strings', () => {
    for (const value of [undefined, null, 42, {}, ['a']] as unknown[]) {
      assert.ok(!isValidTopicName(value as string));
      assert.throws(() => encodeRegister(value as string), InvalidNameError);
    }
  });

  it('isEphemeral looks at the #ephemeral suffix', () => {
    assert.ok(isEphemeral('c#ephemeral'));
    assert.ok(!isEphemeral('c'));
    assert.ok(!isEphemeral('c#ephemeralx'));
  });
});
