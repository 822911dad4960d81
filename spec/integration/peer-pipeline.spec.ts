import assert from 'node:assert/strict';
import * as net from 'node:net';
import { LookupPeer } from '../../lib/peer/lookup-peer.js';
import { encodeRegister, encodeRegistrations } from '../../lib/protocol/index.js';
import { answer, FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup, useLeakChecks } from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { frame } from '../support/wire-builder.js';

/** Counts socket.write calls made on client sockets connected to `port` while `fn` runs. */
async function countClientWrites<T>(
  port: number,
  fn: () => Promise<T>,
): Promise<{ writes: number; result: T }> {
  const original = net.Socket.prototype.write;
  let writes = 0;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === port) writes++;
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof original;
  try {
    const result = await fn();
    return { writes, result };
  } finally {
    net.Socket.prototype.write = original;
  }
}

describe('LookupPeer: pipelining', () => {
  const cleanup = useCleanup();
  useLeakChecks(cleanup);
  const N = 10_000;

  it(`sends ${N} commands on one connection in a few writes and matches every answer in order`, async () => {
    const s = await FakeLookupd.start({ handlers: { REGISTER: answer.echo } });
    cleanup(() => s.stop());
    // The first REGISTER is answered only once every command has arrived: proof that the peer does
    // not wait for answers before writing the next command.
    s.handle('REGISTER', async (cmd, c) => {
      if (cmd.args[0] === 'pipe.0') await s.until(() => c.received.length >= N + 1, `${N} commands`, 15_000);
      c.reply(cmd.line);
    });
    const p = new LookupPeer(s.address, { onConnect: (lp) => lp.identify(IDENTITY) });
    cleanup(() => p.close());

    const { writes, result } = await countClientWrites(s.port, () => {
      const answers = Array.from({ length: N }, (_, i) => p.command(encodeRegister(`pipe.${i}`)));
      return Promise.all(answers);
    });
    assert.equal(result.length, N);
    result.forEach((body, i) => {
      assert.equal(body.toString(), `REGISTER pipe.${i}`);
    });
    assert.equal(s.connections.length, 1);
    assert.equal(s.received.length, N + 1);
    assert.ok(writes <= 4, `${writes} writes for ${N} commands`);
    assert.equal(p.inFlight, 0);
  });

  it(`keeps the order for ${N} commands issued while connected, answered in one burst`, async () => {
    const s = await FakeLookupd.start();
    cleanup(() => s.stop());
    const p = new LookupPeer(s.address);
    cleanup(() => p.close());
    await p.ping();
    // Answer all of them at once, in a single write, once they have all arrived.
    let handled = 0;
    s.handle('REGISTER', (_, c) => {
      if (++handled === N) c.write(Buffer.concat(c.received.slice(1).map((r) => frame(r.args[0]!))));
    });
    const { writes, result } = await countClientWrites(s.port, () =>
      Promise.all(Array.from({ length: N }, (_, i) => p.command(encodeRegister(`t${i}`)))),
    );
    result.forEach((body, i) => {
      assert.equal(body.toString(), `t${i}`);
    });
    assert.ok(writes <= 2, `${writes} writes`);
  });

  it('matches answers that arrive one byte at a time', async () => {
    const s = await FakeLookupd.start();
    cleanup(() => s.stop());
    s.handle('REGISTER', async (cmd, c) => {
      for (const byte of frame(`answer to ${cmd.args[0]}`)) {
        c.write(Buffer.from([byte]));
        await c.sleep(1);
      }
    });
    const p = new LookupPeer(s.address);
    cleanup(() => p.close());
    const bodies = await Promise.all(['a', 'b', 'c'].map((t) => p.command(encodeRegister(t))));
    assert.deepEqual(
      bodies.map((b) => b.toString()),
      ['answer to a', 'answer to b', 'answer to c'],
    );
  });

  it('hands out copies: an answer stays intact after later data arrives', async () => {
    const s = await FakeLookupd.start({ handlers: { REGISTER: answer.echo } });
    cleanup(() => s.stop());
    const p = new LookupPeer(s.address);
    cleanup(() => p.close());
    const first = await p.command(encodeRegister('first'));
    await Promise.all(Array.from({ length: 100 }, (_, i) => p.command(encodeRegister(`later${i}`))));
    assert.equal(first.toString(), 'REGISTER first');
  });

  it('commandBatch: one write, each answer counted, resolves with the last, ordered with single commands', async () => {
    const s = await FakeLookupd.start({ handlers: { REGISTER: answer.echo } });
    cleanup(() => s.stop());
    const p = new LookupPeer(s.address);
    cleanup(() => p.close());
    await p.ping();
    const { bytes, count } = encodeRegistrations([
      { topic: 'a', channel: 'x' },
      { topic: 'b' },
      { topic: 'c', channel: 'y' },
    ]);
    assert.equal(bytes.toString(), 'REGISTER a x\nREGISTER b\nREGISTER c y\n');
    let answers = 0;
    const before = p.command(encodeRegister('before'));
    const batch = p.commandBatch(bytes, count, () => answers++);
    const after = p.command(encodeRegister('after'));
    assert.equal(p.inFlight, 5);
    assert.equal((await before).toString(), 'REGISTER before');
    assert.equal((await batch).toString(), 'REGISTER c y');
    assert.equal(answers, 2);
    assert.equal((await after).toString(), 'REGISTER after');
    assert.deepEqual(
      s.received.map((c) => c.line),
      ['PING', 'REGISTER before', 'REGISTER a x', 'REGISTER b', 'REGISTER c y', 'REGISTER after'],
    );
  });

  it("commandBatch: an E_* answer inside the batch rejects it with lookupd's error", async () => {
    const s = await FakeLookupd.start();
    cleanup(() => s.stop());
    s.handle('REGISTER', (cmd, c) => {
      if (cmd.args[0] === 'bad') c.reply("E_BAD_TOPIC REGISTER topic name 'bad' is not valid");
      else c.reply('OK');
    });
    const p = new LookupPeer(s.address);
    cleanup(() => p.close());
    let answers = 0;
    const { bytes, count } = encodeRegistrations([{ topic: 'ok1' }, { topic: 'bad' }, { topic: 'ok2' }]);
    await assert.rejects(
      p.commandBatch(bytes, count, () => answers++),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'E_BAD_TOPIC');
        return true;
      },
    );
    assert.equal(answers, 1);
    assert.equal(p.inFlight, 0);
  });
});
