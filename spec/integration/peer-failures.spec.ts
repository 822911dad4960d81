import assert from 'node:assert/strict';
import { FaultProxy } from '../../harness/fault-proxy.js';
import { ConnectionError, LookupdError, ProtocolError } from '../../lib/errors.js';
import { LookupPeer, type LookupPeerOptions } from '../../lib/peer/lookup-peer.js';
import { answer, type CommandHandler, FakeLookupd } from '../support/fake-lookupd.js';
import {
  assertConnectionError,
  nextEvent,
  openTcpHandles,
  recordEvents,
  settle,
  trackLibraryTimers,
  useCleanup,
  useLeakChecks,
} from '../support/harness.js';
import { IDENTITY } from '../support/identity.js';
import { UnacceptingListener } from '../support/unreachable.js';
import { frame, int32be, rawFrame } from '../support/wire-builder.js';

interface FailureMode {
  name: string;
  /** What the server does on the command that triggers the failure. */
  handler: CommandHandler;
  /** The code of the ConnectionError every pending command gets. */
  code: string;
  /** The trigger command's own error, when it differs (lookupd's E_* answer). */
  triggerError?: (error: unknown) => void;
  /** The cause expected on the ConnectionError. */
  cause?: (cause: unknown) => void;
  options?: LookupPeerOptions;
}

const isProtocolError = (cause: unknown) =>
  assert.ok(cause instanceof ProtocolError, `cause: ${String(cause)}`);

const MODES: FailureMode[] = [
  {
    name: 'read timeout (the server stops answering)',
    handler: answer.silent,
    code: 'NSQ_ERR_READ_TIMEOUT',
    options: { readTimeoutMs: 100 },
  },
  {
    name: 'read timeout (an answer slower than readTimeoutMs)',
    handler: answer.slowly(2000),
    code: 'NSQ_ERR_READ_TIMEOUT',
    options: { readTimeoutMs: 100 },
  },
  { name: 'connection reset', handler: answer.reset, code: 'NSQ_ERR_CONNECTION_RESET' },
  { name: 'server closes the connection', handler: answer.close, code: 'NSQ_ERR_CONNECTION_CLOSED' },
  {
    name: 'server closes mid-frame',
    handler: answer.closeMidFrame('{"a long answer":"cut in the middle"}'),
    code: 'NSQ_ERR_CONNECTION_CLOSED',
  },
  {
    name: 'protocol error: negative size',
    handler: answer.garbage(rawFrame(-1, 'OK')),
    code: 'NSQ_ERR_PROTOCOL',
    cause: isProtocolError,
  },
  {
    name: 'protocol error: size above maxBodyBytes',
    handler: answer.garbage(int32be(1025)),
    code: 'NSQ_ERR_PROTOCOL',
    cause: isProtocolError,
    options: { maxBodyBytes: 1024 },
  },
  {
    name: 'protocol error: garbage (an HTTP answer on the TCP port)',
    handler: answer.garbage(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')),
    code: 'NSQ_ERR_PROTOCOL',
    cause: isProtocolError,
  },
  {
    name: "lookupd's fatal E_* answer",
    handler: answer.fatal("E_BAD_TOPIC REGISTER topic name 'trigger' is not valid"),
    code: 'NSQ_ERR_CONNECTION_CLOSED',
    triggerError: (error) => {
      assert.ok(error instanceof LookupdError, String(error));
      assert.equal(error.code, 'E_BAD_TOPIC');
      assert.equal(error.description, "REGISTER topic name 'trigger' is not valid");
    },
    cause: (cause) => assert.ok(cause instanceof LookupdError && cause.code === 'E_BAD_TOPIC'),
  },
];

describe('LookupPeer: failures', () => {
  const cleanup = useCleanup();
  useLeakChecks(cleanup);

  async function server(handlers: Record<string, CommandHandler> = {}): Promise<FakeLookupd> {
    const s = await FakeLookupd.start({ handlers });
    cleanup(() => s.stop());
    return s;
  }

  function peer(address: string, options: LookupPeerOptions = {}): LookupPeer {
    const p = new LookupPeer(address, options);
    cleanup(() => p.close());
    return p;
  }

  for (const mode of MODES) {
    it(`${mode.name}: every pending command rejects with ${mode.code}; the next command reconnects`, async () => {
      const s = await server({
        // The failure strikes once, on the first connection; the reconnect gets plain answers.
        REGISTER: (cmd, c) =>
          cmd.args[0] === 'trigger' && c.id === 1 ? mode.handler(cmd, c) : c.reply('OK'),
      });
      let callbacks = 0;
      const p = peer(s.address, {
        ...mode.options,
        onConnect: async (lp) => {
          callbacks++;
          await lp.identify(IDENTITY);
        },
      });
      const events = recordEvents(p);
      const disconnected = nextEvent(p, 'disconnect');

      // Answered before the failure. Awaited first: an RST right behind unread data is reported as a
      // clean close by libuv (EOF on POLLHUP after a partial read), which would blur the reset case.
      const before = await Promise.all([settle(p.ping()), settle(p.register('before'))]);
      for (const outcome of before) assert.ok(outcome.ok, String(!outcome.ok && outcome.error));
      const trigger = settle(p.register('trigger'));
      const after = [settle(p.ping()), settle(p.unregister('after'))];
      // Issued from the last rejection handler: it must reconnect, not reuse the dead connection.
      const retried = settle(p.unregister('last').catch(() => p.register('next')));

      const triggerOutcome = await trigger;
      if (mode.triggerError) {
        assert.ok(!triggerOutcome.ok);
        mode.triggerError(triggerOutcome.error);
        assert.ok((triggerOutcome.error as Error).message.includes(s.address));
      } else {
        const error = assertConnectionError(triggerOutcome, mode.code, s.address);
        mode.cause?.(error.cause);
      }
      for (const outcome of await Promise.all(after)) {
        const error = assertConnectionError(outcome, mode.code, s.address);
        mode.cause?.(error.cause);
      }

      const [reason] = await disconnected;
      assert.ok(reason instanceof ConnectionError);
      assert.equal(reason.code, mode.code);
      assert.equal(reason.address, s.address);

      const next = await retried;
      assert.ok(next.ok, `the next command reconnects: ${String(!next.ok && next.error)}`);
      assert.equal(p.state, 'connected');
      assert.equal(callbacks, 2);
      assert.equal(s.connections.length, 2);
      assert.deepEqual(
        s.connections[1]!.received.map((c) => c.line),
        ['IDENTIFY', 'REGISTER next'],
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(events, [
        'disconnected->connecting',
        'connecting->connected',
        'connect',
        'connected->disconnected',
        `disconnect:${mode.code}`,
        'disconnected->connecting',
        'connecting->connected',
        'connect',
      ]);
      assert.deepEqual(s.handlerErrors, []);
    });
  }

  it('does not time out while idle: the read timeout only runs while answers are owed', async () => {
    const s = await server();
    const p = peer(s.address, { readTimeoutMs: 50 });
    await p.ping();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(p.state, 'connected');
    await p.ping();
    assert.equal(s.connections.length, 1);
  });

  describe('protocol error: an unsolicited frame', () => {
    it('drops the connection when a frame arrives with nothing owed', async () => {
      const s = await server();
      const p = peer(s.address);
      await p.ping();
      const disconnected = nextEvent(p, 'disconnect');
      s.connections[0]!.write(frame('OK'));
      const [reason] = await disconnected;
      assert.ok(reason instanceof ConnectionError);
      assert.equal(reason.code, 'NSQ_ERR_PROTOCOL');
      assert.equal(reason.address, s.address);
      assert.match(reason.message, /unsolicited/);
      assert.equal(p.state, 'disconnected');
      await p.ping();
      assert.equal(s.connections.length, 2);
    });

    it('drops the connection when a command is answered twice', async () => {
      const s = await server({
        PING: (_, c) => {
          c.reply('OK');
          c.reply('OK');
        },
      });
      const p = peer(s.address);
      const disconnected = nextEvent(p, 'disconnect');
      await p.ping();
      const [reason] = await disconnected;
      assert.equal((reason as ConnectionError).code, 'NSQ_ERR_PROTOCOL');
    });

    it('drops the connection when lookupd talks before being asked', async () => {
      const s = await FakeLookupd.start({ onConnection: (c) => c.write(frame('E_INVALID hello')) });
      cleanup(() => s.stop());
      const p = peer(s.address, { onConnect: () => new Promise((resolve) => setTimeout(resolve, 50)) });
      const outcome = await settle(p.ping());
      assertConnectionError(outcome, 'NSQ_ERR_PROTOCOL', s.address);
      assert.equal(p.state, 'disconnected');
    });
  });

  describe('dial failures', () => {
    it('dial refused: queued commands reject with NSQ_ERR_CONNECT; the callback does not run', async () => {
      const target = await server();
      const proxy = await FaultProxy.start(target.address);
      cleanup(() => proxy.stop());
      await proxy.setFault({ type: 'refuse' });
      let callbacks = 0;
      const p = peer(proxy.address, {
        onConnect: async (lp) => {
          callbacks++;
          await lp.identify(IDENTITY);
        },
      });
      const events = recordEvents(p);
      const disconnected = nextEvent(p, 'disconnect');
      const outcomes = await Promise.all([settle(p.ping()), settle(p.register('a')), settle(p.connect())]);
      for (const outcome of outcomes) {
        const error = assertConnectionError(outcome, 'NSQ_ERR_CONNECT', proxy.address);
        assert.equal((error.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
      }
      const [reason] = await disconnected;
      assert.equal((reason as ConnectionError).code, 'NSQ_ERR_CONNECT');
      assert.equal(p.state, 'disconnected');
      assert.equal(callbacks, 0);

      await proxy.setFault({ type: 'pass' });
      await p.register('b');
      assert.equal(callbacks, 1);
      assert.deepEqual(
        target.received.map((c) => c.line),
        ['IDENTIFY', 'REGISTER b'],
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(events, [
        'disconnected->connecting',
        'connecting->disconnected',
        'disconnect:NSQ_ERR_CONNECT',
        'disconnected->connecting',
        'connecting->connected',
        'connect',
      ]);
    });

    it('dial timeout: queued commands reject with NSQ_ERR_CONNECT_TIMEOUT; nothing is left behind', async () => {
      const listener = await UnacceptingListener.start();
      cleanup(() => listener.stop());
      const baseline = openTcpHandles();
      const timers = trackLibraryTimers();
      cleanup(() => timers.restore());
      const p = new LookupPeer(listener.address, {
        dialTimeoutMs: 150,
        onConnect: () => assert.fail('never'),
      });
      const disconnected = nextEvent(p, 'disconnect');
      const outcomes = await Promise.all([settle(p.ping()), settle(p.register('a'))]);
      for (const outcome of outcomes) {
        const error = assertConnectionError(outcome, 'NSQ_ERR_CONNECT_TIMEOUT', listener.address);
        assert.match(error.message, /150 ms \(dialTimeoutMs\)/);
      }
      const [reason] = await disconnected;
      assert.equal((reason as ConnectionError).code, 'NSQ_ERR_CONNECT_TIMEOUT');
      assert.equal(p.state, 'disconnected');
      await p.close();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(timers.pending(), []);
      assert.deepEqual(openTcpHandles(), baseline, "only the listener's filler sockets remain");
    });
  });
});
