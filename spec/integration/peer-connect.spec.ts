import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { ConnectionError, InvalidArgumentError, LookupdError, ProtocolError } from '../../lib/errors.js';
import { type ConnectHandle, LookupPeer } from '../../lib/peer/lookup-peer.js';
import { identifyJson } from '../../lib/protocol/index.js';
import { answer, FakeLookupd } from '../support/fake-lookupd.js';
import { nsqdTrace } from '../support/fixtures.js';
import {
  assertConnectionError,
  nextEvent,
  recordEvents,
  settle,
  untilState,
  useCleanup,
  useLeakChecks,
} from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { commandLine, identifyCommand, MAGIC_BYTES } from '../support/wire-builder.js';

describe('LookupPeer: connecting', () => {
  const cleanup = useCleanup();
  useLeakChecks(cleanup);

  async function server(options: Parameters<typeof FakeLookupd.start>[0] = {}): Promise<FakeLookupd> {
    const s = await FakeLookupd.start(options);
    cleanup(() => s.stop());
    return s;
  }

  function peer(address: string, options: ConstructorParameters<typeof LookupPeer>[1] = {}): LookupPeer {
    const p = new LookupPeer(address, options);
    cleanup(() => p.close());
    return p;
  }

  it('dials lazily: nothing before the first command, then the magic and the command', async () => {
    const s = await server();
    const p = peer(s.address);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.connections.length, 0);
    assert.equal(p.state, 'disconnected');
    await p.ping();
    assert.equal(p.state, 'connected');
    assert.equal(s.connections.length, 1);
    assert.deepEqual(
      Buffer.concat(s.connections[0]!.bytes),
      Buffer.concat([MAGIC_BYTES, commandLine('PING')]),
    );
  });

  it('writes magic, IDENTIFY and REGISTER exactly as nsqd does', async () => {
    const s = await server();
    const p = peer(s.address, { onConnect: (lp) => lp.identify(IDENTITY) });
    await p.register('t_plain', 'c_eph#ephemeral');
    await p.unregister('t_plain');
    const expected = Buffer.concat([
      MAGIC_BYTES,
      identifyCommand(
        '{"broadcast_address":"127.0.0.1","hostname":"nsqd-host","http_port":4151,"tcp_port":4150,' +
          '"topology_region":"","topology_zone":"","version":"1.3.0"}',
      ),
      commandLine('REGISTER t_plain c_eph#ephemeral'),
      commandLine('UNREGISTER t_plain'),
    ]);
    assert.deepEqual(Buffer.concat(s.connections[0]!.bytes), expected);
  });

  it("IDENTIFY: nsqd's key order, this host's name by default, and lookupd's answer kept as info", async () => {
    const s = await server({
      info: { broadcast_address: 'lookupd.example', hostname: 'lh', http_port: 4161, version: '1.3.0' },
    });
    const p = peer(s.address);
    const { hostname: _omitted, ...withoutHostname } = IDENTITY;
    const info = await p.identify(withoutHostname);
    const [identify] = s.commands('IDENTIFY');
    const body = JSON.parse(identify!.body!.toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(body),
      nsqdTrace().identify.fields_in_order.map((f) => f.name),
    );
    assert.equal(body.hostname, hostname());
    assert.equal(identify!.body!.toString('utf8'), identifyJson({ ...IDENTITY, hostname: hostname() }));
    const expected = {
      tcpPort: s.port,
      httpPort: 4161,
      version: '1.3.0',
      broadcastAddress: 'lookupd.example',
      hostname: 'lh',
    };
    assert.deepEqual(info, expected);
    assert.deepEqual(p.info, expected);
  });

  it('keeps the previous info when an IDENTIFY answer is refused', async () => {
    const s = await server();
    const p = peer(s.address);
    const first = await p.identify(IDENTITY);
    s.handle('IDENTIFY', answer.fatal('E_INVALID cannot IDENTIFY again'));
    const outcome = await settle(p.identify(IDENTITY));
    assert.ok(!outcome.ok && outcome.error instanceof LookupdError && outcome.error.code === 'E_INVALID');
    assert.deepEqual(p.info, first);
  });

  it('sends the connect callback commands first, then the queued ones, in order', async () => {
    let late: Promise<void> | undefined;
    const s = await server({
      handlers: {
        IDENTIFY: async (_, c) => {
          // A command issued elsewhere (outside the callback) while the callback waits: it queues.
          late = p.register('late');
          await c.sleep(30);
          c.reply('{}');
        },
      },
    });
    const order: string[] = [];
    const p = peer(s.address, {
      onConnect: async (lp) => {
        order.push('callback start');
        await lp.identify(IDENTITY);
        await Promise.all([lp.register('cb1'), lp.register('cb1', 'ch')]);
        await lp.register('cb2');
        order.push('callback end');
      },
    });
    const queued = [p.register('q1'), p.register('q2', 'c'), p.ping(), p.unregister('q1')];
    await Promise.all(queued);
    await late;
    assert.deepEqual(
      s.received.map((c) => c.line),
      [
        'IDENTIFY',
        'REGISTER cb1',
        'REGISTER cb1 ch',
        'REGISTER cb2',
        'REGISTER q1',
        'REGISTER q2 c',
        'PING',
        'UNREGISTER q1',
        'REGISTER late',
      ],
    );
    assert.deepEqual(order, ['callback start', 'callback end']);
    assert.equal(s.connections.length, 1);
  });

  it('emits state changes in order, and connect once the callback is done', async () => {
    const s = await server();
    let callbackDone = false;
    const p = peer(s.address, {
      onConnect: async (lp) => {
        await lp.identify(IDENTITY);
        callbackDone = true;
      },
    });
    const events = recordEvents(p);
    p.on('connect', () => assert.ok(callbackDone, 'connect after the callback'));
    await p.ping();
    await untilState(p, 'connected');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ['disconnected->connecting', 'connecting->connected', 'connect']);
    s.connections[0]!.end();
    await nextEvent(p, 'disconnect');
    assert.equal(p.state, 'disconnected');
    await p.ping();
    await p.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, [
      'disconnected->connecting',
      'connecting->connected',
      'connect',
      'connected->disconnected',
      'disconnect:NSQ_ERR_CONNECTION_CLOSED',
      'disconnected->connecting',
      'connecting->connected',
      'connect',
      'connected->closed',
    ]);
  });

  it('reruns the connect callback on every reconnect, before the next command', async () => {
    const s = await server();
    let calls = 0;
    const p = peer(s.address, {
      onConnect: async (lp) => {
        calls++;
        await lp.identify(IDENTITY);
        await lp.register('always');
      },
    });
    await p.ping();
    for (let round = 2; round <= 3; round++) {
      s.connections.at(-1)!.end();
      await nextEvent(p, 'disconnect');
      await p.register(`r${round}`);
      assert.equal(calls, round);
      assert.equal(s.connections.length, round);
      assert.deepEqual(
        s.connections.at(-1)!.received.map((c) => c.line),
        ['IDENTIFY', 'REGISTER always', `REGISTER r${round}`],
      );
    }
  });

  it("the callback's handle is bound to its own connection, never to the next one", async () => {
    const s = await server();
    const handles: ConnectHandle[] = [];
    const p = peer(s.address, {
      onConnect: async (connection) => {
        handles.push(connection);
        await connection.identify(IDENTITY);
      },
    });
    await p.ping();
    s.connections[0]!.end();
    const lost = await nextEvent(p, 'disconnect');
    await p.ping();
    assert.equal(s.connections.length, 2);
    // The first connection is gone: its handle fails with that connection's error instead of writing
    // to the second one.
    await assert.rejects(handles[0]!.register('stale'), (error: unknown) => error === lost[0]);
    await handles[1]!.register('fresh');
    assert.deepEqual(
      s.connections[1]!.received.map((c) => c.line),
      ['IDENTIFY', 'PING', 'REGISTER fresh'],
    );
    assert.deepEqual(
      s.connections[0]!.received.map((c) => c.line),
      ['IDENTIFY', 'PING'],
    );
  });

  it('connect() resolves after the callback, joins a connect in flight, and is a no-op when connected', async () => {
    const s = await server({ handlers: { IDENTIFY: answer.slowly(20, '{}') } });
    let calls = 0;
    const p = peer(s.address, {
      onConnect: async (lp) => {
        calls++;
        await lp.identify(IDENTITY);
      },
    });
    const a = p.connect();
    const b = p.connect();
    const c = p.ping();
    await Promise.all([a, b, c]);
    assert.equal(p.state, 'connected');
    await p.connect();
    assert.equal(calls, 1);
    assert.equal(s.connections.length, 1);
  });

  it("lets a 'disconnect' listener reconnect at once: after a lost connection", async () => {
    const s = await server();
    const p = peer(s.address, { onConnect: (lp) => lp.identify(IDENTITY) });
    await p.ping();
    const retried = new Promise<unknown>((resolve) => {
      p.once('disconnect', () => resolve(settle(p.ping())));
    });
    s.connections[0]!.reset();
    const outcome = (await retried) as Awaited<ReturnType<typeof settle>>;
    assert.ok(outcome.ok, `the listener's command reconnects: ${String(!outcome.ok && outcome.error)}`);
    assert.equal(s.connections.length, 2);
  });

  it("lets a 'disconnect' listener reconnect at once: after a failed connect callback", async () => {
    let calls = 0;
    const s = await server({
      handlers: {
        IDENTIFY: (cmd, c) => (++calls === 1 ? answer.fatal('E_INVALID nope')(cmd, c) : c.reply('{}')),
      },
    });
    const p = peer(s.address, { onConnect: (lp) => lp.identify(IDENTITY) });
    const retried = new Promise<unknown>((resolve) => {
      p.once('disconnect', () => resolve(settle(p.ping())));
    });
    const first = await settle(p.ping());
    assert.ok(!first.ok && first.error instanceof LookupdError);
    const outcome = (await retried) as Awaited<ReturnType<typeof settle>>;
    assert.ok(outcome.ok, `the listener's command reconnects: ${String(!outcome.ok && outcome.error)}`);
    assert.equal(calls, 2);
  });

  it('disconnect(): pending commands reject, the next command reconnects', async () => {
    const s = await server({ handlers: { REGISTER: answer.silent } });
    const p = peer(s.address);
    await p.ping();
    const pending = settle(p.register('a'));
    await s.waitForCommands(2);
    p.disconnect();
    const error = assertConnectionError(await pending, 'NSQ_ERR_CONNECTION_CLOSED', s.address);
    assert.match(error.message, /disconnected by the caller/);
    assert.equal(p.state, 'disconnected');
    await p.ping();
    assert.equal(s.connections.length, 2);
    const custom = new ConnectionError('NSQ_ERR_CONNECTION_CLOSED', s.address, 'custom');
    const pending2 = settle(p.register('b'));
    await s.waitForCommands(4);
    p.disconnect(custom);
    assert.ok(!(await pending2).ok && ((await pending2) as { error: unknown }).error === custom);
  });

  it('refuses bad options and addresses up front', () => {
    for (const bad of ['nohost', '127.0.0.1', '127.0.0.1:99999', 'a:b:c']) {
      assert.throws(
        () => new LookupPeer(bad),
        (e: unknown) => (e as ConnectionError).code === 'NSQ_ERR_INVALID_ARGUMENT',
        bad,
      );
    }
    for (const option of ['dialTimeoutMs', 'readTimeoutMs', 'maxBodyBytes'] as const) {
      for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(
          () => new LookupPeer('127.0.0.1:4160', { [option]: value }),
          (e: unknown) => e instanceof InvalidArgumentError && e.message.startsWith(option),
          `${option}=${value}`,
        );
      }
    }
  });

  describe('connect callback failure', () => {
    it('rejects the queued commands with NSQ_ERR_CONNECT_CALLBACK and drops the connection', async () => {
      const s = await server();
      let calls = 0;
      const failure = new Error('no identity today');
      const p = peer(s.address, {
        onConnect: async (lp) => {
          calls++;
          await lp.identify(IDENTITY);
          if (calls === 1) throw failure;
        },
      });
      const events = recordEvents(p);
      const outcomes = await Promise.all([settle(p.register('a')), settle(p.ping()), settle(p.connect())]);
      for (const outcome of outcomes) {
        assert.ok(!outcome.ok);
        const error = outcome.error;
        assert.ok(error instanceof ConnectionError, String(error));
        assert.equal(error.code, 'NSQ_ERR_CONNECT_CALLBACK');
        assert.equal(error.address, s.address);
        assert.match(error.message, new RegExp(`${s.address}.*no identity today`));
        assert.equal(error.cause, failure);
      }
      assert.equal(p.state, 'disconnected');
      await s.connections[0]!.closed;
      assert.deepEqual(
        s.received.map((c) => c.line),
        ['IDENTIFY'],
        'queued commands never reach the wire',
      );
      await p.ping();
      assert.equal(calls, 2);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(events, [
        'disconnected->connecting',
        'connecting->disconnected',
        'disconnect:NSQ_ERR_CONNECT_CALLBACK',
        'disconnected->connecting',
        'connecting->connected',
        'connect',
      ]);
    });

    it('rejects the queued commands with the error that broke the callback (an E_* answer)', async () => {
      const s = await server({ handlers: { IDENTIFY: answer.fatal('E_BAD_BODY IDENTIFY missing fields') } });
      const p = peer(s.address, { onConnect: (lp) => lp.identify(IDENTITY) });
      const [register, ping] = await Promise.all([settle(p.register('a')), settle(p.ping())]);
      for (const outcome of [register, ping]) {
        assert.ok(!outcome.ok);
        assert.ok(outcome.error instanceof LookupdError, String(outcome.error));
        assert.equal(outcome.error.code, 'E_BAD_BODY');
        assert.equal(outcome.error.description, 'IDENTIFY missing fields');
        assert.ok(outcome.error.message.includes(s.address));
      }
      assert.equal(p.state, 'disconnected');
      assert.deepEqual(
        s.received.map((c) => c.line),
        ['IDENTIFY'],
      );
    });

    const malformed: [string, string][] = [
      ['not JSON', '{"tcp_port":'],
      ['a JSON array', '[1,2]'],
      ['JSON null', 'null'],
      ['a JSON string', '"fake-lookupd-host"'],
      ['a field of the wrong type', '{"tcp_port":"4160","version":"1.3.0"}'],
    ];
    // Read through a call: assert.equal(p.info, undefined) narrows p.info for the rest of a test.
    const infoOf = (p: LookupPeer) => p.info;
    for (const [what, body] of malformed) {
      it(`a malformed IDENTIFY answer (${what}) is NSQ_ERR_PROTOCOL; the connection is dropped`, async () => {
        let identifies = 0;
        const s = await server({
          handlers: {
            IDENTIFY: (_, c) => {
              identifies++;
              c.reply(identifies === 1 ? body : JSON.stringify(s.info));
            },
          },
        });
        const p = peer(s.address, { onConnect: (lp) => lp.identify(IDENTITY) });
        const events = recordEvents(p);
        const outcomes = await Promise.all([settle(p.register('a')), settle(p.ping()), settle(p.connect())]);
        for (const outcome of outcomes) {
          const error = assertConnectionError(outcome, 'NSQ_ERR_PROTOCOL', s.address);
          assert.ok(error.cause instanceof ProtocolError, `cause: ${String(error.cause)}`);
          assert.match(error.message, /IDENTIFY answer/);
        }
        assert.equal(p.state, 'disconnected');
        assert.equal(p.info, undefined);
        await s.connections[0]!.closed;
        assert.deepEqual(
          s.received.map((c) => c.line),
          ['IDENTIFY'],
          'queued commands never reach the wire',
        );
        await p.ping();
        assert.equal(infoOf(p)?.tcpPort, s.port, 'the next connection identifies again');
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(events, [
          'disconnected->connecting',
          'connecting->disconnected',
          'disconnect:NSQ_ERR_PROTOCOL',
          'disconnected->connecting',
          'connecting->connected',
          'connect',
        ]);
      });
    }

    it('identify() outside the callback: a malformed answer is NSQ_ERR_PROTOCOL and drops the connection', async () => {
      const s = await server({ handlers: { IDENTIFY: (_, c) => c.reply('[]') } });
      const p = peer(s.address);
      await p.ping();
      const disconnected = nextEvent(p, 'disconnect');
      const error = assertConnectionError(await settle(p.identify(IDENTITY)), 'NSQ_ERR_PROTOCOL', s.address);
      assert.ok(error.cause instanceof ProtocolError);
      const [reason] = await disconnected;
      assert.equal(reason, error);
      assert.equal(p.state, 'disconnected');
      assert.equal(p.info, undefined);
      await s.connections[0]!.closed;
    });

    it('keeps the code of a protocol error the callback throws; other failures stay NSQ_ERR_CONNECT_CALLBACK', async () => {
      const s = await server();
      const thrown = new ProtocolError('lookupd sent something this callback cannot use');
      const p = peer(s.address, {
        onConnect: async () => {
          throw thrown;
        },
      });
      const error = assertConnectionError(await settle(p.ping()), 'NSQ_ERR_PROTOCOL', s.address);
      assert.equal(error.cause, thrown);
      assert.match(error.message, /cannot use/);
      assert.equal(p.state, 'disconnected');
    });

    it('rejects with NSQ_ERR_CONNECT_CALLBACK when the callback throws synchronously', async () => {
      const s = await server();
      const p = peer(s.address, {
        onConnect: () => {
          throw new Error('sync');
        },
      });
      const outcome = await settle(p.ping());
      assert.ok(!outcome.ok && outcome.error instanceof ConnectionError);
      assert.equal(outcome.error.code, 'NSQ_ERR_CONNECT_CALLBACK');
      assert.equal(p.state, 'disconnected');
    });
  });
});
