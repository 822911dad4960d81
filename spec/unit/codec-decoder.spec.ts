import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FULL_SUITE } from '../../harness/suite.js';
import { InvalidArgumentError, ProtocolError } from '../../lib/errors.js';
import { DEFAULT_MAX_BODY_BYTES, ResponseDecoder } from '../../lib/protocol/index.js';
import {
  type FixtureScenario,
  fixtureBody,
  lookupdTcpScenario,
  lookupdTcpScenarios,
  responseBodies,
} from '../support/fixtures.js';
import { bytewise, frame, frames, int32be, rawFrame, splitAt } from '../support/wire-builder.js';

/** Feeds the chunks in order and returns copies of every body handed out. */
function decode(chunks: Iterable<Buffer>, decoder = new ResponseDecoder()): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of chunks) decoder.parse(chunk, (body) => out.push(Buffer.from(body)));
  return out;
}

/** assert.deepEqual for body lists, with a fast path: the split-everywhere loops compare millions. */
function assertBodies(actual: Buffer[], expected: Buffer[], message?: string): void {
  if (actual.length === expected.length && actual.every((b, i) => b.equals(expected[i]!))) return;
  assert.deepEqual(actual, expected, message);
}

/**
 * Like assertBodies(decode(...)) without copying each body: compares every body during its onFrame
 * call, while the view is valid. For the loops that decode a 1002-frame stream thousands of times.
 */
function assertDecodesTo(
  chunks: Iterable<Buffer>,
  expected: Buffer[],
  message: string,
  decoder = new ResponseDecoder(),
) {
  let i = 0;
  let same = true;
  for (const chunk of chunks) {
    decoder.parse(chunk, (body) => {
      same &&= i < expected.length && body.equals(expected[i]!);
      i++;
    });
  }
  if (same && i === expected.length) return;
  assertBodies(decode(chunks), expected, message);
  assert.fail(`${message}: ${i} bodies, mismatching, though a fresh decoder gets them right`);
}

/** Each connection's response stream of a scenario, as one buffer and the bodies it holds. */
function streams(scenario: FixtureScenario): { conn: string; bytes: Buffer; bodies: Buffer[] }[] {
  return [...responseBodies(scenario)]
    .filter(([, bodies]) => bodies.length > 0)
    .map(([conn, bodies]) => ({ conn, bytes: frames(bodies), bodies }));
}

/** Records every allocation Buffer makes while `fn` runs. */
function allocations(fn: () => void): number[] {
  const sizes: number[] = [];
  const original = {
    alloc: Buffer.alloc,
    allocUnsafe: Buffer.allocUnsafe,
    allocUnsafeSlow: Buffer.allocUnsafeSlow,
  };
  const spy =
    <A extends unknown[]>(f: (size: number, ...rest: A) => Buffer) =>
    (size: number, ...rest: A) => {
      sizes.push(size);
      return f.call(Buffer, size, ...rest);
    };
  Buffer.alloc = spy(original.alloc) as typeof Buffer.alloc;
  Buffer.allocUnsafe = spy(original.allocUnsafe) as typeof Buffer.allocUnsafe;
  Buffer.allocUnsafeSlow = spy(original.allocUnsafeSlow) as typeof Buffer.allocUnsafeSlow;
  try {
    fn();
  } finally {
    Object.assign(Buffer, original);
  }
  return sizes;
}

describe('codec: ResponseDecoder', () => {
  describe('fixture sanity', () => {
    it('every recorded frame size is the byte length of its body', () => {
      let checked = 0;
      for (const scenario of lookupdTcpScenarios()) {
        for (const step of scenario.steps) {
          if (step.op === 'http') continue;
          for (const f of step.expect?.frames ?? []) {
            if (f.normalized) continue;
            assert.equal(fixtureBody(f).length, f.size, `${scenario.name}: ${f.body}`);
            checked++;
          }
        }
      }
      assert.ok(checked > 50, `checked ${checked} frames`);
    });
  });

  describe('real lookupd response streams (v1-tcp.json)', () => {
    const scenarios = lookupdTcpScenarios();

    it('decodes every scenario fed whole, split at every offset, and one byte at a time', () => {
      let streamsChecked = 0;
      for (const scenario of scenarios) {
        for (const { conn, bytes, bodies } of streams(scenario)) {
          const what = `${scenario.name} (${conn})`;
          assertBodies(decode([bytes]), bodies, `${what}: whole`);
          assertBodies(decode(bytewise(bytes)), bodies, `${what}: bytewise`);
          if (bytes.length <= 4096) {
            for (let i = 0; i <= bytes.length; i++) {
              assertBodies(decode(splitAt(bytes, [i])), bodies, `${what}: split at ${i}`);
            }
          }
          streamsChecked++;
        }
      }
      assert.ok(streamsChecked >= 40, `checked ${streamsChecked} streams`);
    });

    it('decodes pipeline-1000-register (IDENTIFY answer + 1001 OKs) split at every offset', () => {
      const [stream] = streams(lookupdTcpScenario('pipeline-1000-register'));
      assert.ok(stream);
      assert.equal(stream.bodies.length, 1002);
      assert.ok(JSON.parse(stream.bodies[0]!.toString()));
      assert.ok(stream.bodies.slice(1).every((b) => b.toString() === 'OK'));
      // One decoder per split point is the plain statement of the property; a second pass reuses one
      // decoder across streams, as a connection's decoder sees them back to back.
      // Every offset in the whole suite; every fifth in the quick one, which still splits each of an
      // OK frame's 6 bytes somewhere (5 and 6 are coprime).
      const step = FULL_SUITE ? 1 : 5;
      for (let i = 0; i <= stream.bytes.length; i += step) {
        assertDecodesTo(splitAt(stream.bytes, [i]), stream.bodies, `split at ${i}`);
      }
      const shared = new ResponseDecoder();
      for (let i = 0; i <= stream.bytes.length; i += 7) {
        assertDecodesTo(splitAt(stream.bytes, [i]), stream.bodies, `shared decoder, split at ${i}`, shared);
        assert.equal(shared.bufferedBytes, 0);
      }
    });

    it('decodes error frames split everywhere, with the frames before them', () => {
      const errorStreams = scenarios
        .flatMap(streams)
        .filter((s) => s.bodies.some((b) => b.toString().startsWith('E_')));
      assert.ok(errorStreams.length >= 20);
      for (const { bytes, bodies } of errorStreams) {
        for (let i = 0; i <= bytes.length; i++) {
          for (let j = i; j <= bytes.length; j += 5) {
            assertBodies(decode(splitAt(bytes, [i, j])), bodies);
          }
        }
      }
    });

    it('decodes all scenarios glued into one stream, whole and bytewise', () => {
      const all = scenarios.flatMap(streams);
      const bytes = Buffer.concat(all.map((s) => s.bytes));
      const bodies = all.flatMap((s) => s.bodies);
      assertBodies(decode([bytes]), bodies);
      assertBodies(decode(bytewise(bytes)), bodies);
    });

    it('decodes any chunking of the glued stream (property)', () => {
      const all = scenarios.flatMap(streams);
      const bytes = Buffer.concat(all.map((s) => s.bytes));
      const bodies = all.flatMap((s) => s.bodies);
      fc.assert(
        fc.property(fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 200 }), (cuts) => {
          assertBodies(
            decode(
              splitAt(
                bytes,
                [...cuts].sort((a, b) => a - b),
              ),
            ),
            bodies,
          );
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('random frames (property)', () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.uint8Array({ minLength: 1000, maxLength: 5000 }).map((a) => Buffer.from(a)),
      fc.constantFrom(Buffer.from('OK'), Buffer.alloc(0), Buffer.from('E_INVALID invalid command X')),
    );

    it('hands out the same bodies for any sequence and any chunking', () => {
      fc.assert(
        fc.property(
          fc.array(body, { maxLength: 30 }),
          fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
          (bodies, sizes) => {
            const bytes = frames(bodies);
            const offsets: number[] = [];
            for (let at = 0, i = 0; ; i++) {
              at += sizes[i % sizes.length]!;
              if (at >= bytes.length) break;
              offsets.push(at);
            }
            const decoder = new ResponseDecoder();
            assertBodies(decode(splitAt(bytes, offsets), decoder), bodies);
            assert.equal(decoder.bufferedBytes, 0);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('keeps exactly the unread tail buffered', () => {
      fc.assert(
        fc.property(fc.array(body, { minLength: 1, maxLength: 10 }), fc.nat(), (bodies, seed) => {
          const bytes = frames(bodies);
          const cut = seed % (bytes.length + 1);
          const decoder = new ResponseDecoder();
          const out = decode([bytes.subarray(0, cut)], decoder);
          const consumed = frames(out).length;
          assert.equal(decoder.bufferedBytes, cut - consumed);
          assert.deepEqual(out, bodies.slice(0, out.length));
        }),
      );
    });

    it('does not depend on the caller keeping or reusing its chunks after the call', () => {
      fc.assert(
        fc.property(fc.array(body, { maxLength: 20 }), fc.integer({ min: 1, max: 50 }), (bodies, step) => {
          const bytes = frames(bodies);
          const decoder = new ResponseDecoder();
          const out: Buffer[] = [];
          const scratch = Buffer.alloc(step);
          for (let at = 0; at < bytes.length; at += step) {
            const n = bytes.copy(scratch, 0, at, at + step);
            // A fresh copy per call, as a socket hands them out; the scratch buffer is then trashed.
            decoder.parse(Buffer.from(scratch.subarray(0, n)), (b) => out.push(Buffer.from(b)));
            scratch.fill(0xee);
          }
          assert.deepEqual(out, bodies);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('bad sizes', () => {
    const hostile = [
      ['negative (-1)', -1],
      ['the most negative int32', -0x80000000],
      ['one above maxBodyBytes', DEFAULT_MAX_BODY_BYTES + 1],
      ['the largest int32', 0x7fffffff],
    ] as const;

    for (const [what, size] of hostile) {
      it(`refuses ${what} as soon as the 4 size bytes are in, without allocating`, () => {
        for (const chunks of [[int32be(size)], bytewise(int32be(size)), [rawFrame(size, 'x'.repeat(100))]]) {
          const decoder = new ResponseDecoder();
          let error: unknown;
          const sizes = allocations(() => {
            try {
              decode(chunks, decoder);
            } catch (e) {
              error = e;
            }
          });
          assert.ok(error instanceof ProtocolError, `got ${String(error)}`);
          assert.equal(error.code, 'NSQ_ERR_PROTOCOL');
          assert.match(error.message, new RegExp(`declares a body of ${size} bytes`));
          assert.match(error.message, /maxBodyBytes/);
          assert.ok(Math.max(0, ...sizes) <= 1024, `allocated ${Math.max(...sizes)} bytes`);
          assert.equal(decoder.bufferedBytes, 0);
        }
      });
    }

    it('says an HTTP server answered when the size bytes read "HTTP"', () => {
      const decoder = new ResponseDecoder();
      assert.throws(
        () => decode([Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')], decoder),
        (error: unknown) =>
          error instanceof ProtocolError &&
          error.reachedHttp &&
          /reached an HTTP port, not lookupd's TCP port/.test(error.message),
      );
    });

    it('reports where the bad frame starts in the stream, after delivering the good ones', () => {
      const decoder = new ResponseDecoder();
      const out: string[] = [];
      const good = frames(['OK', 'hello']);
      assert.throws(
        () =>
          decoder.parse(Buffer.concat([good, int32be(-5), frame('never')]), (b) => out.push(b.toString())),
        (e: unknown) => e instanceof ProtocolError && e.message.includes(`stream offset ${good.length}`),
      );
      assert.deepEqual(out, ['OK', 'hello']);
    });

    it('refuses all further input after a bad size, until reset()', () => {
      const decoder = new ResponseDecoder();
      let first: unknown;
      try {
        decoder.parse(int32be(-1), () => assert.fail('no frame'));
      } catch (e) {
        first = e;
      }
      assert.ok(first instanceof ProtocolError);
      for (const chunk of [frame('OK'), Buffer.alloc(0), frames(['a', 'b'])]) {
        assert.throws(
          () => decoder.parse(chunk, () => assert.fail('no frame after a protocol error')),
          (e: unknown) => e === first,
        );
      }
      decoder.reset();
      assertBodies(decode([frame('OK')], decoder), [Buffer.from('OK')]);
    });

    it('honours a custom maxBodyBytes at its boundary', () => {
      const decoder = new ResponseDecoder(10);
      assertBodies(decode([frame('0123456789')], decoder), [Buffer.from('0123456789')]);
      assert.throws(() => decoder.parse(frame('0123456789A'), () => {}), ProtocolError);
      assertBodies(decode([frame('')], new ResponseDecoder(0)), [Buffer.alloc(0)]);
      assert.throws(() => new ResponseDecoder(0).parse(int32be(1), () => {}), ProtocolError);
    });

    it('rejects an impossible maxBodyBytes', () => {
      for (const bad of [-1, 1.5, Number.NaN, 0x80000000]) {
        assert.throws(() => new ResponseDecoder(bad), InvalidArgumentError);
      }
    });
  });

  describe('large bodies', () => {
    it('reassembles a body near maxBodyBytes from 64 KiB chunks, growing its buffer a few times', () => {
      const body = Buffer.alloc(DEFAULT_MAX_BODY_BYTES, 0x61);
      body.write('start', 0);
      body.write('end', body.length - 3);
      const bytes = frame(body);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536));
      let out: Buffer[] = [];
      const sizes = allocations(() => {
        out = decode(chunks);
      });
      assert.equal(out.length, 1);
      assert.ok(out[0]!.equals(body));
      const big = sizes.filter((s) => s >= 65536);
      // Doubling from the first two chunks to the frame: log2(5 MiB / 128 KiB) + 1 buffers at most,
      // and every byte copied about twice in all, never into a buffer beyond the frame.
      assert.ok(big.length <= 7, `large allocations: ${big.join(', ')}`);
      const total = big.reduce((a, b) => a + b, 0);
      assert.ok(total <= 2.5 * bytes.length, `allocated ${total} bytes for a ${bytes.length}-byte frame`);
      assert.ok(Math.max(...sizes) <= bytes.length, `largest allocation: ${Math.max(...sizes)}`);
    });

    it('holds what a stalled peer sent, not the 5 MiB its size prefix declares', () => {
      for (const split of [[4], [2, 5], [4, 5, 6, 9]]) {
        const sent = Buffer.concat([int32be(DEFAULT_MAX_BODY_BYTES), Buffer.from('a few bytes')]);
        const decoder = new ResponseDecoder();
        const sizes = allocations(() => {
          assert.deepEqual(decode(splitAt(sent, split), decoder), []);
        });
        assert.equal(decoder.bufferedBytes, sent.length);
        assert.ok(decoder.reservedBytes <= 256, `split ${split}: holds ${decoder.reservedBytes} bytes`);
        assert.ok(Math.max(0, ...sizes) <= 256, `split ${split}: allocated ${Math.max(...sizes)} bytes`);
      }
    });

    it('grows with a trickle geometrically: memory about twice the bytes in, few copies', () => {
      const decoder = new ResponseDecoder();
      const received = 64 * 1024;
      const bytes = Buffer.concat([int32be(DEFAULT_MAX_BODY_BYTES), Buffer.alloc(received - 4, 0x62)]);
      const sizes = allocations(() => {
        for (let at = 0; at < bytes.length; at++) {
          decoder.parse(bytes.subarray(at, at + 1), () => assert.fail('no frame yet'));
          const buffered = at + 1;
          assert.equal(decoder.bufferedBytes, buffered);
          assert.ok(
            decoder.reservedBytes <= Math.max(256, 2 * buffered),
            `${decoder.reservedBytes} bytes held for ${buffered} received`,
          );
        }
      });
      // 256 bytes doubled up to 64 KiB: 9 buffers, whatever the number of chunks.
      assert.ok(sizes.length <= 10, `allocations: ${sizes.join(', ')}`);
      decoder.parse(Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 4 - received, 0x62), (b) => {
        assert.equal(b.length, DEFAULT_MAX_BODY_BYTES);
        assert.ok(b.every((x) => x === 0x62));
      });
      assert.equal(decoder.bufferedBytes, 0);
      assert.equal(decoder.reservedBytes, 0, 'nothing kept once the frame is out');
    });

    it('keeps memory bounded by the bytes in (or the last chunk) for any chunking (property)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 4 }),
          fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 20 }),
          (lengths, steps) => {
            const bodies = lengths.map((n, i) => Buffer.alloc(n, i));
            const bytes = frames(bodies);
            const decoder = new ResponseDecoder();
            const out: Buffer[] = [];
            for (let at = 0, i = 0; at < bytes.length; i++) {
              const chunk = bytes.subarray(at, at + steps[i % steps.length]!);
              at += chunk.length;
              decoder.parse(chunk, (b) => out.push(Buffer.from(b)));
              const bound = Math.max(256, 2 * decoder.bufferedBytes, chunk.length);
              assert.ok(decoder.reservedBytes <= bound, `${decoder.reservedBytes} > ${bound}`);
            }
            assertBodies(out, bodies);
            assert.equal(decoder.reservedBytes, 0);
          },
        ),
        { numRuns: 100 },
      );
    });
  });
});
