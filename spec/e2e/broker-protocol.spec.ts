/**
 * The broker's V2 protocol and HTTP API byte for byte, with raw sockets. Cases marked shared
 * also run against the real nsqd when NSQD_BIN is set, with the same expectations, so the error codes
 * and texts are nsqd's own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NSQD_BIN } from '../../harness/oracle.js';
import { itSlow } from '../../harness/suite.js';
import { startLookupd } from '../../lib/lookupd/index.js';
import { type Cleanup, useCleanup } from '../support/harness.js';
import { brokerFor } from '../support/nsqjs-clients.js';
import { RawV2, type RunningNsqd, startRealNsqd } from '../support/raw-v2.js';
import { command, identify, int32, MAGIC, mpubBody } from '../support/v2-wire-builder.js';
import { eventually } from '../support/wait.js';

interface Server {
  name: string;
  start(cleanup: Cleanup, options?: { maxMsgSize?: number }): Promise<RunningNsqd>;
}

const packageBroker: Server = {
  name: 'broker',
  async start(cleanup, options = {}) {
    const broker = await brokerFor(cleanup, options);
    return { tcpAddress: broker.tcpAddress, httpAddress: broker.httpAddress, close: () => broker.close() };
  },
};

const realNsqd: Server = {
  name: 'real nsqd',
  async start(cleanup, options = {}) {
    const nsqd = await startRealNsqd(options.maxMsgSize ? [`--max-msg-size=${options.maxMsgSize}`] : []);
    cleanup(() => nsqd.close());
    return nsqd;
  },
};

const SERVERS = NSQD_BIN ? [packageBroker, realNsqd] : [packageBroker];
const ID = '0123456789abcdef';
const HUGE = 0x7f000000;

interface Case {
  name: string;
  send: Buffer[];
  /** Frames in order, as RawV2 prints them. */
  expect: string[];
  /** Fatal errors close the connection; the others leave it usable. */
  after: 'closed' | 'open';
}

const CASES: Case[] = [
  { name: 'bad magic', send: [Buffer.from('  V9')], expect: ['error: E_BAD_PROTOCOL'], after: 'closed' },
  {
    name: 'unknown command',
    send: [MAGIC, command('FOO')],
    expect: ['error: E_INVALID invalid command FOO'],
    after: 'closed',
  },
  {
    name: 'lower-case command',
    send: [MAGIC, command('pub t')],
    expect: ['error: E_INVALID invalid command pub'],
    after: 'closed',
  },
  {
    name: 'PUB to an invalid topic',
    send: [MAGIC, command('PUB bad!topic')],
    expect: ['error: E_BAD_TOPIC PUB topic name "bad!topic" is not valid'],
    after: 'closed',
  },
  {
    name: 'MPUB to an invalid topic (nsqd repeats the code)',
    send: [MAGIC, command('MPUB bad!topic')],
    expect: ['error: E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "bad!topic" is not valid'],
    after: 'closed',
  },
  {
    name: 'SUB to an invalid channel',
    send: [MAGIC, command('SUB t bad!channel')],
    expect: ['error: E_BAD_CHANNEL SUB channel name "bad!channel" is not valid'],
    after: 'closed',
  },
  {
    name: 'PUB without a topic',
    send: [MAGIC, command('PUB')],
    expect: ['error: E_INVALID PUB insufficient number of parameters'],
    after: 'closed',
  },
  {
    name: 'PUB announcing 2 GB, refused before any body byte is sent',
    send: [MAGIC, command('PUB t'), int32(HUGE)],
    expect: [`error: E_BAD_MESSAGE PUB message too big ${HUGE} > 1048576`],
    after: 'closed',
  },
  {
    name: 'PUB with an empty body',
    send: [MAGIC, command('PUB t'), int32(0)],
    expect: ['error: E_BAD_MESSAGE PUB invalid message body size 0'],
    after: 'closed',
  },
  {
    name: 'MPUB announcing 2 GB',
    send: [MAGIC, command('MPUB t'), int32(HUGE)],
    expect: [`error: E_BAD_BODY MPUB body too big ${HUGE} > 5242880`],
    after: 'closed',
  },
  {
    name: 'MPUB with a message over the limit inside',
    send: [MAGIC, command('MPUB t'), int32(8), int32(1), int32(HUGE)],
    expect: [`error: E_BAD_MESSAGE MPUB message too big ${HUGE} > 1048576`],
    after: 'closed',
  },
  {
    name: 'MPUB of zero messages',
    send: [MAGIC, command('MPUB t', int32(0))],
    expect: ['error: E_BAD_BODY MPUB invalid message count 0'],
    after: 'closed',
  },
  {
    name: 'MPUB of two messages',
    send: [MAGIC, command('MPUB t', mpubBody(['a', 'b']))],
    expect: ['response: OK'],
    after: 'open',
  },
  {
    name: 'IDENTIFY announcing 2 GB',
    send: [MAGIC, command('IDENTIFY'), int32(HUGE)],
    expect: [`error: E_BAD_BODY IDENTIFY body too big ${HUGE} > 5242880`],
    after: 'closed',
  },
  {
    name: 'IDENTIFY with broken JSON',
    send: [MAGIC, command('IDENTIFY', '{"heartbeat_interval":')],
    expect: ['error: E_BAD_BODY IDENTIFY failed to decode JSON body'],
    after: 'closed',
  },
  {
    name: 'IDENTIFY with a field of the wrong type',
    send: [MAGIC, identify({ heartbeat_interval: 'soon' })],
    expect: ['error: E_BAD_BODY IDENTIFY failed to decode JSON body'],
    after: 'closed',
  },
  {
    name: 'IDENTIFY with a heartbeat interval under 1 s',
    send: [MAGIC, identify({ heartbeat_interval: 500 })],
    expect: ['error: E_BAD_BODY IDENTIFY heartbeat interval (500) is invalid'],
    after: 'closed',
  },
  {
    name: 'IDENTIFY with a msg_timeout under 1 s',
    send: [MAGIC, identify({ msg_timeout: 999 })],
    expect: ['error: E_BAD_BODY IDENTIFY msg timeout (999) is invalid'],
    after: 'closed',
  },
  {
    name: 'IDENTIFY without feature negotiation',
    send: [MAGIC, identify({ client_id: 'raw', hostname: 'raw.example', unknown_field: 1 })],
    expect: ['response: OK'],
    after: 'open',
  },
  {
    name: 'IDENTIFY with feature negotiation (TLS and compression asked, none offered)',
    send: [MAGIC, identify({ feature_negotiation: true, tls_v1: false, snappy: false, deflate: false })],
    expect: [
      'response: {"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,' +
        '"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,' +
        '"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}',
    ],
    after: 'open',
  },
  {
    name: 'IDENTIFY after SUB',
    send: [MAGIC, command('SUB t c'), identify({})],
    expect: ['response: OK', 'error: E_INVALID cannot IDENTIFY in current state'],
    after: 'closed',
  },
  {
    name: 'SUB with heartbeats disabled',
    send: [MAGIC, identify({ heartbeat_interval: -1 }), command('SUB t c')],
    expect: ['response: OK', 'error: E_INVALID cannot SUB with heartbeats disabled'],
    after: 'closed',
  },
  {
    name: 'SUB twice',
    send: [MAGIC, command('SUB t c'), command('SUB t c')],
    expect: ['response: OK', 'error: E_INVALID cannot SUB in current state'],
    after: 'closed',
  },
  {
    name: 'RDY before SUB',
    send: [MAGIC, command('RDY 1')],
    expect: ['error: E_INVALID cannot RDY in current state'],
    after: 'closed',
  },
  {
    name: 'RDY above max_rdy_count',
    send: [MAGIC, command('SUB t c'), command('RDY 2501')],
    expect: ['response: OK', 'error: E_INVALID RDY count 2501 out of range 0-2500'],
    after: 'closed',
  },
  {
    name: 'RDY with a sign',
    send: [MAGIC, command('SUB t c'), command('RDY -1')],
    expect: ['response: OK', 'error: E_INVALID RDY could not parse count -1'],
    after: 'closed',
  },
  {
    name: 'FIN of a message not in flight (not fatal)',
    send: [MAGIC, command('SUB t c'), command(`FIN ${ID}`)],
    expect: ['response: OK', `error: E_FIN_FAILED FIN ${ID} failed ID not in flight`],
    after: 'open',
  },
  {
    name: 'REQ of a message not in flight (not fatal)',
    send: [MAGIC, command('SUB t c'), command(`REQ ${ID} 0`)],
    expect: ['response: OK', `error: E_REQ_FAILED REQ ${ID} failed ID not in flight`],
    after: 'open',
  },
  {
    name: 'TOUCH of a message not in flight (not fatal)',
    send: [MAGIC, command('SUB t c'), command(`TOUCH ${ID}`)],
    expect: ['response: OK', `error: E_TOUCH_FAILED TOUCH ${ID} failed ID not in flight`],
    after: 'open',
  },
  {
    name: 'FIN with a malformed message ID',
    send: [MAGIC, command('SUB t c'), command('FIN abc')],
    expect: ['response: OK', 'error: E_INVALID invalid message ID'],
    after: 'closed',
  },
  {
    name: 'FIN of a 16-byte ID with a space in it',
    send: [MAGIC, command('SUB t c'), command('FIN 01234567 9abcdef')],
    expect: ['response: OK', 'error: E_INVALID invalid message ID'],
    after: 'closed',
  },
  {
    name: 'FIN of a 15-byte ID and a CR (the CR is dropped)',
    send: [MAGIC, command('SUB t c'), Buffer.from(`FIN ${ID.slice(0, 15)}\r\n`)],
    expect: ['response: OK', 'error: E_INVALID invalid message ID'],
    after: 'closed',
  },
  {
    name: 'FIN ending in CRLF',
    send: [MAGIC, command('SUB t c'), Buffer.from(`FIN ${ID}\r\n`)],
    expect: ['response: OK', `error: E_FIN_FAILED FIN ${ID} failed ID not in flight`],
    after: 'open',
  },
  {
    name: 'FIN before SUB',
    send: [MAGIC, command(`FIN ${ID}`)],
    expect: ['error: E_INVALID cannot FIN in current state'],
    after: 'closed',
  },
  {
    name: 'REQ without a timeout',
    send: [MAGIC, command('SUB t c'), command(`REQ ${ID}`)],
    expect: ['response: OK', 'error: E_INVALID REQ insufficient number of params'],
    after: 'closed',
  },
  {
    name: 'DPUB beyond max-req-timeout',
    send: [MAGIC, command('DPUB t 99999999999')],
    expect: ['error: E_INVALID DPUB timeout 99999999999 out of range 0-3600000'],
    after: 'closed',
  },
  {
    name: 'DPUB with a bad timeout',
    send: [MAGIC, command('DPUB t soon')],
    expect: ['error: E_INVALID DPUB could not parse timeout soon'],
    after: 'closed',
  },
  {
    name: 'CLS before SUB',
    send: [MAGIC, command('CLS')],
    expect: ['error: E_INVALID cannot CLS in current state'],
    after: 'closed',
  },
  {
    name: 'CLS after SUB',
    send: [MAGIC, command('SUB t c'), command('CLS')],
    expect: ['response: OK', 'response: CLOSE_WAIT'],
    after: 'open',
  },
  {
    name: 'AUTH (no auth server)',
    send: [MAGIC, command('AUTH', 'secret')],
    expect: ['error: E_AUTH_DISABLED AUTH disabled'],
    after: 'closed',
  },
  {
    name: 'NOP and a command line ending in CRLF',
    send: [MAGIC, Buffer.from('NOP\r\n'), command('PUB t', 'x')],
    expect: ['response: OK'],
    after: 'open',
  },
];

/** `/stats?format=json` for one topic, as loosely typed JSON (the specs check it field by field). */
// biome-ignore lint/suspicious/noExplicitAny: see above
async function statsJson(server: RunningNsqd, topic: string): Promise<any> {
  const response = await fetch(`http://${server.httpAddress}/stats?format=json&topic=${topic}`);
  return response.json();
}

/** Asserts the connection is still usable: a PUB gets its OK. */
async function assertOpen(client: RawV2): Promise<void> {
  client.send(command('PUB probe', 'still here'));
  assert.equal(await client.nextText(), 'response: OK');
}

/** Asserts the server hung up after the frames expected, with nothing more. */
async function assertClosed(client: RawV2, expected: number): Promise<void> {
  await client.closed;
  assert.equal(client.frames.length, expected, `no frames after the error: ${client.texts().join(' | ')}`);
}

for (const server of SERVERS) {
  describe(`V2 protocol and HTTP API, ${server.name}`, function () {
    this.timeout(30_000);
    const cleanup = useCleanup();
    let nsqd: RunningNsqd;

    beforeEach(async () => {
      nsqd = await server.start(cleanup);
    });

    const open = async () => {
      const client = await RawV2.connect(nsqd.tcpAddress);
      cleanup(() => client.destroy());
      return client;
    };

    for (const testCase of CASES) {
      it(`${testCase.name}: ${testCase.expect.at(-1)}`, async () => {
        const client = await open();
        client.send(...testCase.send);
        for (const expected of testCase.expect) assert.equal(await client.nextText(), expected);
        if (testCase.after === 'closed') await assertClosed(client, testCase.expect.length);
        else await assertOpen(client);
      });
    }

    it('delivers a message frame: nanosecond timestamp, attempts, 16-character hex ID, body', async () => {
      const before = BigInt(Date.now() - 1) * 1_000_000n;
      const client = await open();
      client.send(MAGIC, command('PUB frames', 'payload'), command('SUB frames c'), command('RDY 1'));
      assert.equal(await client.nextText(), 'response: OK');
      assert.equal(await client.nextText(), 'response: OK');
      const frame = await client.next();
      assert.equal(frame.type, 'message');
      const { timestampNs, attempts, id, body } = frame.message!;
      assert.equal(body.toString(), 'payload');
      assert.equal(attempts, 1);
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.ok(
        timestampNs >= before && timestampNs <= BigInt(Date.now() + 1) * 1_000_000n,
        `${timestampNs}`,
      );
      // TOUCH of a message in flight is silent; FIN takes it out of flight, so a REQ of it then fails
      // (without closing the connection).
      client.send(command(`TOUCH ${id}`), command(`FIN ${id}`), command(`REQ ${id} 0`));
      assert.equal(await client.nextText(), `error: E_REQ_FAILED REQ ${id} failed ID not in flight`);
      await assertOpen(client);
    });

    it('REQ with delay 0 redelivers at once with attempts 2 and the same ID', async () => {
      const client = await open();
      client.send(MAGIC, command('PUB again', 'm'), command('SUB again c'), command('RDY 1'));
      await client.nextText();
      await client.nextText();
      const first = (await client.next()).message!;
      client.send(command(`REQ ${first.id} 0`));
      const second = (await client.next()).message!;
      assert.deepEqual([second.id, second.attempts], [first.id, 2]);
    });

    // nsqd's shortest heartbeat_interval is 1 s, and the hang-up comes two intervals later.
    itSlow(
      'sends heartbeats every heartbeat_interval and hangs up when the client stays silent',
      async () => {
        const client = await open();
        client.send(MAGIC, identify({ heartbeat_interval: 1000 }), command('SUB beats c'));
        assert.equal(await client.nextText(), 'response: OK');
        assert.equal(await client.nextText(), 'response: OK');
        assert.equal(await client.nextText(), 'response: _heartbeat_');
        // The client never answers (no NOP): the server closes after two heartbeat intervals of silence.
        await client.closed;
        assert.ok(
          client
            .texts()
            .slice(2)
            .every((text) => text === 'response: _heartbeat_'),
          client.texts().join(),
        );
      },
    );

    it('deleting a channel over HTTP disconnects its consumers', async () => {
      const client = await open();
      client.send(MAGIC, command('SUB doomed c'));
      assert.equal(await client.nextText(), 'response: OK');
      const response = await fetch(`http://${nsqd.httpAddress}/channel/delete?topic=doomed&channel=c`, {
        method: 'POST',
      });
      assert.equal(response.status, 200);
      await client.closed;
    });

    const HTTP_CASES: Array<
      [method: string, path: string, body: string | undefined, status: number, text: string]
    > = [
      ['GET', '/ping', undefined, 200, 'OK'],
      ['POST', '/pub?topic=http', 'hello', 200, 'OK'],
      ['POST', '/pub?topic=http&defer=100', 'later', 200, 'OK'],
      ['POST', '/mpub?topic=http', 'a\nb\n\nc\n', 200, 'OK'],
      ['GET', '/pub?topic=http', undefined, 405, '{"message":"METHOD_NOT_ALLOWED"}'],
      ['POST', '/pub', 'x', 400, '{"message":"MISSING_ARG_TOPIC"}'],
      ['POST', '/pub?topic=bad!', 'x', 400, '{"message":"INVALID_TOPIC"}'],
      ['POST', '/pub?topic=http', '', 400, '{"message":"MSG_EMPTY"}'],
      ['POST', '/pub?topic=http&defer=soon', 'x', 400, '{"message":"INVALID_DEFER"}'],
      ['POST', '/pub?topic=http&defer=-1', 'x', 400, '{"message":"INVALID_DEFER"}'],
      ['POST', '/mpub?topic=http&binary=true', '\u0000', 413, '{"message":"BAD_BODY"}'],
      ['POST', '/topic/create?topic=made', undefined, 200, ''],
      ['POST', '/topic/create', undefined, 400, '{"message":"MISSING_ARG_TOPIC"}'],
      ['POST', '/channel/create?topic=made&channel=c', undefined, 200, ''],
      ['POST', '/channel/create?topic=made', undefined, 400, '{"message":"MISSING_ARG_CHANNEL"}'],
      ['POST', '/channel/create?topic=missing&channel=c', undefined, 404, '{"message":"TOPIC_NOT_FOUND"}'],
      ['POST', '/channel/delete?topic=made&channel=nope', undefined, 404, '{"message":"CHANNEL_NOT_FOUND"}'],
      ['POST', '/channel/empty?topic=made&channel=c', undefined, 200, ''],
      ['POST', '/channel/pause?topic=made&channel=c', undefined, 200, ''],
      ['POST', '/channel/unpause?topic=made&channel=c', undefined, 200, ''],
      ['POST', '/topic/empty?topic=made', undefined, 200, ''],
      ['POST', '/topic/delete?topic=missing', undefined, 404, '{"message":"TOPIC_NOT_FOUND"}'],
      ['POST', '/topic/delete?topic=made', undefined, 200, ''],
      ['GET', '/no-such-endpoint', undefined, 404, '{"message":"NOT_FOUND"}'],
    ];

    it('answers the HTTP API as nsqd does', async () => {
      for (const [method, path, body, status, text] of HTTP_CASES) {
        const response = await fetch(`http://${nsqd.httpAddress}${path}`, { method, body });
        assert.deepEqual([response.status, await response.text()], [status, text], `${method} ${path}`);
      }
    });

    it('refuses an HTTP message over --max-msg-size with 413 MSG_TOO_BIG', async () => {
      const response = await fetch(`http://${nsqd.httpAddress}/pub?topic=big`, {
        method: 'POST',
        body: Buffer.alloc(1024 * 1024 + 1, 'x'),
      });
      assert.deepEqual([response.status, await response.text()], [413, '{"message":"MSG_TOO_BIG"}']);
    });

    it('reports topics, channels and clients in /stats?format=json', async () => {
      const client = await open();
      client.send(
        MAGIC,
        identify({ client_id: 'stats-client', user_agent: 'raw/1' }),
        command('SUB counted c'),
      );
      assert.equal(await client.nextText(), 'response: OK');
      assert.equal(await client.nextText(), 'response: OK');
      for (const body of ['1', '2', '3']) {
        const response = await fetch(`http://${nsqd.httpAddress}/pub?topic=counted`, {
          method: 'POST',
          body,
        });
        assert.equal(response.status, 200);
      }
      const read = () => statsJson(nsqd, 'counted');
      await eventually(
        async () => (await read()).topics[0]?.channels[0]?.depth === 3,
        'three messages queued',
      );
      const stats = await read();
      const topic = stats.topics[0];
      const channel = topic.channels[0];
      for (const key of ['version', 'health', 'start_time', 'topics', 'producers'])
        assert.ok(key in stats, key);
      assert.deepEqual(Object.keys(topic), [
        'topic_name',
        'channels',
        'depth',
        'backend_depth',
        'message_count',
        'message_bytes',
        'paused',
        'e2e_processing_latency',
      ]);
      assert.deepEqual(Object.keys(channel), [
        'channel_name',
        'depth',
        'backend_depth',
        'in_flight_count',
        'deferred_count',
        'message_count',
        'requeue_count',
        'timeout_count',
        'client_count',
        'clients',
        'paused',
        'e2e_processing_latency',
      ]);
      assert.equal(topic.message_count, 3);
      assert.equal(channel.message_count, 3);
      const [clientStats] = channel.clients;
      assert.equal(clientStats.client_id, 'stats-client');
      assert.equal(clientStats.user_agent, 'raw/1');
      assert.equal(clientStats.state, 3);
      assert.equal(clientStats.ready_count, 0);
    });

    it('a connection closed by the client leaves its channel', async () => {
      const client = await open();
      client.send(MAGIC, command('SUB leaving c'));
      assert.equal(await client.nextText(), 'response: OK');
      client.socket.end();
      await client.closed;
      await eventually(
        async () => (await statsJson(nsqd, 'leaving')).topics[0]?.channels[0]?.client_count === 0,
        'the channel has no client',
      );
    });
  });
}

describe('V2 protocol, broker only', function () {
  this.timeout(30_000);
  const cleanup = useCleanup();

  it('refuses a command line over 16 KiB without waiting for its end (nsqd hangs up silently)', async () => {
    const broker = await brokerFor(cleanup);
    const client = await RawV2.connect(broker.tcpAddress);
    cleanup(() => client.destroy());
    client.send(MAGIC, Buffer.alloc(16 * 1024 + 1, 'A'));
    assert.equal(await client.nextText(), 'error: E_INVALID command line longer than 16384 bytes');
    await client.closed;
  });

  it('gives message IDs one prefix and then a hex sequence, counted up with carries', async () => {
    const broker = await brokerFor(cleanup);
    const client = await RawV2.connect(broker.tcpAddress);
    cleanup(() => client.destroy());
    const bodies = Array.from({ length: 17 }, (_, i) => `m${i}`);
    client.send(MAGIC, command('SUB ids c'), command('RDY 17'), command('MPUB ids', mpubBody(bodies)));
    const ids: string[] = [];
    while (ids.length < 17) {
      const frame = await client.next();
      if (frame.message) ids.push(frame.message.id);
      else assert.equal(frame.text, 'response: OK');
    }
    const prefix = ids[0]!.slice(0, 6);
    assert.match(prefix, /^[0-9a-f]{6}$/);
    assert.deepEqual(
      ids,
      bodies.map((_, i) => prefix + (i + 1).toString(16).padStart(10, '0')),
    );
  });

  it('applies its own maxMsgSize and maxBodySize to PUB, MPUB and HTTP', async () => {
    const broker = await brokerFor(cleanup, { maxMsgSize: 10, maxBodySize: 40 });
    const client = await RawV2.connect(broker.tcpAddress);
    cleanup(() => client.destroy());
    client.send(MAGIC, command('PUB t', '0123456789'), command('MPUB t', mpubBody(['0123456789', 'x'])));
    assert.equal(await client.nextText(), 'response: OK');
    assert.equal(await client.nextText(), 'response: OK');
    client.send(command('PUB t', '01234567890'));
    assert.equal(await client.nextText(), 'error: E_BAD_MESSAGE PUB message too big 11 > 10');
    await client.closed;
    const tooBig = await fetch(`http://${broker.httpAddress}/mpub?topic=t`, {
      method: 'POST',
      body: 'x'.repeat(41),
    });
    assert.deepEqual([tooBig.status, await tooBig.text()], [413, '{"message":"BODY_TOO_BIG"}']);
  });

  it('registers topics and channels the moment PUB, SUB or HTTP creates them', async () => {
    const broker = await brokerFor(cleanup);
    const client = await RawV2.connect(broker.tcpAddress);
    cleanup(() => client.destroy());
    client.send(MAGIC, command('PUB by-pub', 'x'));
    assert.equal(await client.nextText(), 'response: OK');
    assert.ok(broker.registry.hasTopic('by-pub'));
    client.send(command('SUB by-sub c'));
    assert.equal(await client.nextText(), 'response: OK');
    assert.ok(broker.registry.hasChannel('by-sub', 'c'));
    await fetch(`http://${broker.httpAddress}/topic/create?topic=by-http`, { method: 'POST' });
    await fetch(`http://${broker.httpAddress}/channel/create?topic=by-http&channel=c`, { method: 'POST' });
    assert.ok(broker.registry.hasChannel('by-http', 'c'));
    await fetch(`http://${broker.httpAddress}/topic/delete?topic=by-http`, { method: 'POST' });
    assert.equal(broker.registry.hasTopic('by-http'), false);
  });

  it("shows each lookupd's LookupLoop.status() in /stats", async () => {
    const lookupd = await startLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' });
    cleanup(() => lookupd.close());
    const broker = await brokerFor(cleanup, { lookupdTcpAddresses: [lookupd.tcpAddress] });
    await fetch(`http://${broker.httpAddress}/topic/create?topic=seen`, { method: 'POST' });
    await fetch(`http://${broker.httpAddress}/channel/create?topic=seen&channel=c`, { method: 'POST' });
    await eventually(() => broker.loop.inSync, 'the broker is in sync with lookupd');
    const stats = (await (await fetch(`http://${broker.httpAddress}/stats?format=json`)).json()) as {
      lookupd: { inSync: boolean; registrySize: number; peers: Array<{ address: string; state: string }> };
    };
    assert.equal(stats.lookupd.inSync, true);
    assert.equal(stats.lookupd.registrySize, 1);
    assert.deepEqual(
      stats.lookupd.peers.map((p) => [p.address, p.state]),
      [[lookupd.tcpAddress, 'connected']],
    );
  });

  it('with dataPath, keeps its durable topics and channels across restarts', async () => {
    const dataPath = await mkdtemp(join(tmpdir(), 'broker-'));
    cleanup(() => rm(dataPath, { recursive: true, force: true }));
    const first = await brokerFor(cleanup, { dataPath });
    await fetch(`http://${first.httpAddress}/topic/create?topic=kept`, { method: 'POST' });
    await fetch(`http://${first.httpAddress}/channel/create?topic=kept&channel=c`, { method: 'POST' });
    await fetch(`http://${first.httpAddress}/topic/create?topic=gone%23ephemeral`, { method: 'POST' });
    await first.close();
    const second = await brokerFor(cleanup, { dataPath });
    assert.deepEqual(
      second.topics().map((t) => [t.name, t.channels().map((c) => c.name)]),
      [['kept', ['c']]],
    );
    assert.ok(second.registry.hasChannel('kept', 'c'));
  });

  it('refuses to publish past memQueueSize instead of growing without bound', async () => {
    const broker = await brokerFor(cleanup, { memQueueSize: 2 });
    const client = await RawV2.connect(broker.tcpAddress);
    cleanup(() => client.destroy());
    client.send(MAGIC, command('MPUB full', mpubBody(['1', '2'])));
    assert.equal(await client.nextText(), 'response: OK');
    const http = await fetch(`http://${broker.httpAddress}/pub?topic=full`, { method: 'POST', body: '3' });
    assert.deepEqual([http.status, await http.text()], [503, '{"message":"QUEUE_FULL"}']);
    client.send(command('PUB full', '3'));
    assert.equal(
      await client.nextText(),
      'error: E_PUB_FAILED PUB failed topic full holds 2 messages (mem-queue-size 2)',
    );
    await client.closed;
  });

  it('survives garbage: random bytes after the magic never crash it', async () => {
    const broker = await brokerFor(cleanup);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 50; round++) {
      const client = await RawV2.connect(broker.tcpAddress);
      cleanup(() => client.destroy());
      const garbage = Buffer.from(Array.from({ length: 1 + (random() % 64) }, () => random() % 256));
      const prefixes = [
        command('PUB t'),
        command('MPUB t'),
        command('IDENTIFY'),
        command('SUB t c'),
        Buffer.alloc(0),
      ];
      client.send(MAGIC, prefixes[round % prefixes.length]!, garbage);
      // Ending our side makes the broker read everything sent, then hang up.
      client.socket.end();
      await client.closed;
    }
    const ping = await fetch(`http://${broker.httpAddress}/ping`);
    assert.equal(await ping.text(), 'OK');
  });
});
