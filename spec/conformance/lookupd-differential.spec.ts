import { strict as assert } from 'node:assert';
import { NSQLOOKUPD_BIN } from '../../harness/oracle.js';
import { type DiffStep, runDiffScript, startDiffServer } from '../support/differential.js';

/**
 * Inputs the recordings do not cover, sent to the embedded lookupd and to the real nsqlookupd (when
 * NSQLOOKUPD_BIN is set); the normalized transcripts must be identical. This is where Go's own
 * semantics show: json.Unmarshal's case-insensitive keys and type errors, strings.TrimSpace's Unicode
 * spaces, url.ParseQuery, httprouter's redirects and OPTIONS answers, wildcards in the registry.
 */

const MAGIC = '  V1';

function identify(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const size = Buffer.alloc(4);
  size.writeInt32BE(bytes.length, 0);
  return Buffer.concat([Buffer.from('IDENTIFY\n'), size, bytes]);
}

const NSQD =
  '{"broadcast_address":"a.example","hostname":"host-a","http_port":4151,"tcp_port":4150,"version":"1.3.0"}';
const NSQD_B =
  '{"broadcast_address":"b.example","hostname":"host-b","http_port":4251,"tcp_port":4250,"version":"1.3.0"}';

const nodes: DiffStep = { http: 'GET', path: '/nodes' };
const debug: DiffStep = { http: 'GET', path: '/debug' };
const topics: DiffStep = { http: 'GET', path: '/topics' };

/** IDENTIFY with `body` on a fresh connection, then what the registry shows. */
function identifyCase(body: string | Buffer): DiffStep[] {
  return [
    { conn: 'a', write: MAGIC, frames: 0 },
    { conn: 'a', write: Buffer.concat([identify(body), Buffer.from('REGISTER t1\nPING\n')]), frames: 3 },
    nodes,
    { http: 'GET', path: '/lookup?topic=t1' },
  ];
}

/** One line on an identified connection; the answer and whether the connection survives. */
function lineCase(line: string | Buffer, after: DiffStep[] = [topics]): DiffStep[] {
  return [
    { conn: 'a', write: Buffer.concat([Buffer.from(MAGIC), identify(NSQD)]), frames: 1 },
    {
      conn: 'a',
      write: Buffer.concat([
        typeof line === 'string' ? Buffer.from(line, 'latin1') : line,
        Buffer.from('PING\n'),
      ]),
      frames: 2,
    },
    ...after,
  ];
}

/** Two producers with topics, channels and an HTTP-created topic, then `requests`. */
function stateCase(requests: DiffStep[]): DiffStep[] {
  return [
    {
      conn: 'a',
      write: Buffer.concat([
        Buffer.from(MAGIC),
        identify(NSQD),
        Buffer.from('REGISTER t1 c1\nREGISTER t1 c2\nREGISTER t2\n'),
      ]),
      frames: 4,
    },
    {
      conn: 'b',
      write: Buffer.concat([
        Buffer.from(MAGIC),
        identify(NSQD_B),
        Buffer.from('REGISTER t1 c1\nREGISTER t3 c9\n'),
      ]),
      frames: 3,
    },
    { http: 'POST', path: '/topic/create?topic=empty' },
    ...requests,
  ];
}

const CASES: Record<string, DiffStep[]> = {
  // IDENTIFY bodies: Go's json.Unmarshal into nsqlookupd's PeerInfo.
  'identify: upper-case keys': identifyCase(NSQD.toUpperCase().replace('"1.3.0"', '"v"')),
  'identify: mixed-case keys': identifyCase(
    '{"Broadcast_Address":"x","TCP_port":1,"Http_Port":2,"VERSION":"v","HostName":"h"}',
  ),
  'identify: long s (U+017F) in a key': identifyCase(
    '{"broadcaſt_address":"x","tcp_port":1,"http_port":2,"verſion":"v"}',
  ),
  'identify: unknown keys of every type': identifyCase(
    '{"x":[1,{"y":null}],"z":{"a":[]},"n":-1.5e3,"b":true,"broadcast_address":"x","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: duplicate keys, last wins; null keeps': identifyCase(
    '{"broadcast_address":"x","broadcast_address":"y","tcp_port":1,"tcp_port":null,"http_port":2,"version":"v"}',
  ),
  'identify: port as a string': identifyCase(
    '{"broadcast_address":"x","tcp_port":"1","http_port":2,"version":"v"}',
  ),
  'identify: port as a float': identifyCase(
    '{"broadcast_address":"x","tcp_port":1.0,"http_port":2,"version":"v"}',
  ),
  'identify: port with an exponent': identifyCase(
    '{"broadcast_address":"x","tcp_port":1e3,"http_port":2,"version":"v"}',
  ),
  'identify: negative and huge ports': identifyCase(
    '{"broadcast_address":"x","tcp_port":-4150,"http_port":9223372036854775807,"version":"v"}',
  ),
  'identify: port beyond int64': identifyCase(
    '{"broadcast_address":"x","tcp_port":9223372036854775808,"http_port":2,"version":"v"}',
  ),
  'identify: version as a number': identifyCase(
    '{"broadcast_address":"x","tcp_port":1,"http_port":2,"version":1}',
  ),
  'identify: remote_address of the wrong type': identifyCase(
    '{"remote_address":5,"broadcast_address":"x","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: remote_address is overwritten': identifyCase(
    '{"remote_address":"1.2.3.4:5","broadcast_address":"x","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: top-level null': identifyCase('null'),
  'identify: top-level array': identifyCase('[]'),
  'identify: top-level string': identifyCase('"x"'),
  'identify: trailing garbage': identifyCase(`${NSQD}x`),
  'identify: surrounding whitespace': identifyCase(` \n\t${NSQD}\r\n `),
  'identify: empty strings': identifyCase(
    '{"broadcast_address":"","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: escapes, surrogates, HTML characters': identifyCase(
    '{"broadcast_address":"a\\u003cb>&\\u2028","hostname":"\\ud83d\\ude00 \\ud800 \\udc00x \\u0001\\b\\f\\/","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: invalid UTF-8 in a string': identifyCase(
    Buffer.concat([
      Buffer.from('{"broadcast_address":"x","hostname":"a'),
      Buffer.from([0xff, 0xe2, 0x82, 0xc0, 0xed, 0xa0, 0x80, 0xf4, 0x90]),
      Buffer.from('b","tcp_port":1,"http_port":2,"version":"v"}'),
    ]),
  ),
  'identify: control character in a string': identifyCase(
    '{"broadcast_address":"x\u0001","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: bad escape': identifyCase(
    '{"broadcast_address":"x\\q","tcp_port":1,"http_port":2,"version":"v"}',
  ),
  'identify: leading zero': identifyCase(
    '{"broadcast_address":"x","tcp_port":01,"http_port":2,"version":"v"}',
  ),
  'identify: nesting at the depth limit': identifyCase(
    `{"deep":${'['.repeat(9999)}${']'.repeat(9999)},"broadcast_address":"x","tcp_port":1,"http_port":2,"version":"v"}`,
  ),
  'identify: nesting beyond the depth limit': identifyCase(
    `{"deep":${'['.repeat(10000)}${']'.repeat(10000)},"broadcast_address":"x","tcp_port":1,"http_port":2,"version":"v"}`,
  ),

  // Lines: strings.TrimSpace, then a split on single spaces.
  'line: tabs around PING': lineCase('\tPING\t\n'),
  'line: NBSP and NEL around PING': lineCase('\xc2\xa0PING\xc2\x85\n'),
  'line: ideographic space around PING': lineCase('\xe3\x80\x80PING\xe3\x80\x80\n'),
  'line: a lone continuation byte is not a space': lineCase('PING\xa0\n'),
  'line: NUL after the command': lineCase('PING\x00\n'),
  'line: CR inside a line': lineCase('REGISTER t1\rc1\n'),
  'line: vertical tab and form feed trimmed': lineCase('\x0b\x0cREGISTER t1\x0b\n'),
  'line: extra parameters ignored': lineCase('REGISTER t1 c1 extra more\n', [
    { http: 'GET', path: '/channels?topic=t1' },
  ]),
  'line: empty channel from a double space': lineCase('REGISTER t1  c1\n', [
    { http: 'GET', path: '/channels?topic=t1' },
    topics,
  ]),
  'line: invalid bytes echoed in the error': lineCase('REGISTER t\xff\xfe\n'),
  'line: channel with invalid bytes': lineCase('UNREGISTER t1 \xc3\x28\n'),
  'line: #ephemeral alone is not a name': lineCase('REGISTER #ephemeral\n'),
  'line: dots are names': lineCase('REGISTER . ..\n', [{ http: 'GET', path: '/channels?topic=.' }, topics]),
  'line: double #ephemeral': lineCase('REGISTER a#ephemeral#ephemeral\n'),
  'line: trailing newline in a name is trimmed': lineCase('REGISTER t1\n\n'),

  // Ephemeral topics and channels.
  'ephemeral topic: UNREGISTER removes it, its channels stay': [
    { conn: 'a', write: Buffer.concat([Buffer.from(MAGIC), identify(NSQD)]), frames: 1 },
    {
      conn: 'a',
      write: 'REGISTER t#ephemeral c1\nREGISTER t#ephemeral c2#ephemeral\nUNREGISTER t#ephemeral\n',
      frames: 3,
    },
    topics,
    { http: 'GET', path: '/channels?topic=t%23ephemeral' },
    { http: 'GET', path: '/lookup?topic=t%23ephemeral' },
    debug,
  ],
  'ephemeral: a disconnect leaves ephemeral names in place': [
    { conn: 'a', write: Buffer.concat([Buffer.from(MAGIC), identify(NSQD)]), frames: 1 },
    { conn: 'a', write: 'REGISTER t#ephemeral c#ephemeral\n', frames: 1 },
    { conn: 'a', close: true },
    topics,
    { http: 'GET', path: '/channels?topic=t%23ephemeral' },
    nodes,
  ],
  'ephemeral channel: UNREGISTER of an unknown one': lineCase('UNREGISTER t9 c#ephemeral\n', [
    topics,
    { http: 'GET', path: '/channels?topic=t9' },
  ]),

  // HTTP: queries, wildcards, routing.
  'http: wildcard lookups and listings': stateCase([
    { http: 'GET', path: '/lookup?topic=*' },
    { http: 'GET', path: '/channels?topic=*' },
    { http: 'GET', path: '/lookup?topic=' },
    { http: 'GET', path: '/channels?topic=' },
  ]),
  'http: wildcard tombstone and delete': stateCase([
    { http: 'POST', path: '/topic/tombstone?topic=t3&node=b.example:4251' },
    nodes,
    { http: 'GET', path: '/lookup?topic=t3' },
    { http: 'POST', path: '/topic/delete?topic=*' },
    topics,
    { http: 'GET', path: '/channels?topic=t1' },
    nodes,
  ]),
  'http: tombstone with a wrong node, then re-register': stateCase([
    { http: 'POST', path: '/topic/tombstone?topic=t1&node=a.example:4150' },
    { http: 'GET', path: '/lookup?topic=t1' },
    { http: 'POST', path: '/topic/tombstone?topic=t1&node=a.example%3A4151' },
    { http: 'GET', path: '/lookup?topic=t1' },
    { conn: 'a', write: 'REGISTER t1\n', frames: 1 },
    { http: 'GET', path: '/lookup?topic=t1' },
    { conn: 'a', write: 'UNREGISTER t1\nREGISTER t1\n', frames: 2 },
    { http: 'GET', path: '/lookup?topic=t1' },
    nodes,
  ]),
  'http: query parsing': stateCase([
    { http: 'GET', path: '/lookup?topic=t1&topic=t2' },
    { http: 'GET', path: '/lookup?topic=t%31' },
    { http: 'GET', path: '/lookup?%74opic=t1' },
    { http: 'GET', path: '/lookup?topic' },
    { http: 'GET', path: '/lookup?&&topic=t2&' },
    { http: 'GET', path: '/lookup?topic=t1;x=1' },
    { http: 'GET', path: '/lookup?x=%zz&topic=t1' },
    { http: 'GET', path: '/lookup?topic=t1%' },
    { http: 'POST', path: '/topic/create?topic=a+b' },
    { http: 'POST', path: '/topic/create?topic=new+' },
    { http: 'POST', path: '/channel/create?topic=t1&channel=c1&channel=%2F' },
    { http: 'POST', path: '/channel/delete?topic=t9&channel=c1' },
    { http: 'POST', path: '/topic/tombstone?node=x' },
    { http: 'POST', path: '/topic/tombstone?topic=t1' },
    { http: 'POST', path: '/topic/create?topic=withbody', body: 'topic=ignored' },
    topics,
  ]),
  // nsqlookupd v1.3.0 has no limit on query parameters (Go's urlmaxqueryparams is off in its builds).
  'http: 10,001 query parameters': stateCase([
    { http: 'GET', path: `/lookup?topic=t1&${'x=1&'.repeat(9999)}x=1` },
    { http: 'GET', path: `/lookup?${'x=1&'.repeat(10000)}topic=t2` },
    { http: 'GET', path: `/channels?topic=t1&${'&'.repeat(20000)}` },
    { http: 'POST', path: `/topic/create?${'x&'.repeat(10000)}topic=many` },
    topics,
  ]),
  // net/http sends an answer of up to 2048 bytes with its length, a longer one chunked.
  'http: framing of small and large answers': [
    ...Array.from(
      { length: 30 },
      (_, i): DiffStep => ({
        http: 'POST',
        path: `/topic/create?topic=${'a'.repeat(62)}${i + 10}`,
      }),
    ),
    { http: 'POST', path: `/topic/create?topic=${'b'.repeat(23)}` },
    { ...topics, show: ['content-length', 'transfer-encoding'] },
    { http: 'POST', path: `/topic/create?topic=c` },
    { ...topics, show: ['content-length', 'transfer-encoding'] },
    { http: 'GET', path: '/lookup?topic=nope', show: ['content-length', 'transfer-encoding'] },
  ],
  // A chunked body that breaks off: handlers reading parameters fail with INVALID_REQUEST, the others
  // answer as usual; both with Connection: close. A request that cannot be parsed after a good one
  // is answered after it.
  'http: a bad chunk size in the request body': stateCase([
    ...[
      'POST /topic/create?topic=x',
      'GET /lookup?topic=t1',
      'GET /ping',
      'GET /topics',
      'GET /nope',
      'GET /Ping',
      'OPTIONS /lookup',
      'OPTIONS *',
      'POST /topic/create?topic=a;b',
    ].map(
      (line): DiffStep => ({
        raw: `${line} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
        label: `${line}, body "zz" chunk size`,
      }),
    ),
    {
      raw: 'POST /topic/create?topic=y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /info HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
      label: 'a good chunked body, then a body cut short by the client’s FIN',
      halfClose: true,
    },
    {
      raw: 'GET /topics HTTP/1.1\r\nHost: a\r\n\r\nGET /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      label: 'pipelined: /topics, then /ping with a bad chunk size',
    },
    { raw: 'GET /info HTTP/1.1\r\nHost: a\r\n\r\nGARBAGE\r\n\r\n', label: 'pipelined: /info, then garbage' },
    topics,
  ]),
  'http: routing': [
    { http: 'GET', path: '/lookup/' },
    { http: 'GET', path: '/LOOKUP?topic=a%20b' },
    { http: 'GET', path: '/Lookup/?x' },
    { http: 'GET', path: '/lookup?' },
    { http: 'GET', path: '/TOPICS?' },
    { http: 'POST', path: '/Topic/Create?topic=x' },
    { http: 'POST', path: '/topic/create/' },
    { http: 'POST', path: '/topics' },
    { http: 'POST', path: '/TOPICS' },
    { http: 'PUT', path: '/Topics' },
    { http: 'DELETE', path: '/topic/delete' },
    { http: 'PATCH', path: '/nope' },
    { http: 'OPTIONS', path: '/lookup' },
    { http: 'OPTIONS', path: '/topic/create' },
    { http: 'OPTIONS', path: '/debug/pprof/symbol' },
    { http: 'OPTIONS', path: '/nope' },
    { http: 'OPTIONS', path: '/LOOKUP' },
    { http: 'HEAD', path: '/ping' },
    { http: 'HEAD', path: '/nope' },
    { http: 'GET', path: '/debug/' },
    { http: 'GET', path: '/debug/pprof/' },
    { http: 'GET', path: '/DEBUG/PPROF/HEAP/' },
    { http: 'POST', path: '/debug/pprof/cmdline' },
    { http: 'GET', path: '//lookup' },
    { http: 'GET', path: '/./topics' },
    { http: 'GET', path: '/x/../nodes' },
    { http: 'GET', path: '/%6cookup?topic=x' },
    { http: 'GET', path: '/%zz' },
    { http: 'GET', path: '/lookup%3Ftopic=x' },
    { http: 'GET', path: '/' },
    { http: 'POST', path: '/' },
    { http: 'GET', path: '/ping/' },
    { http: 'GET', path: '/PING' },
    { http: 'GET', path: '/pin' },
    { http: 'GET', path: '/pingx' },
    { http: 'GET', path: '/topic' },
    { http: 'POST', path: '/topic' },
    { http: 'POST', path: '/topic/' },
    { http: 'GET', path: '/info', headers: { accept: 'application/vnd.nsq; version=1.0' } },
    { http: 'GET', path: '/lo%C3%B3kup' },
    { http: 'GET', path: '/looKup' },
    { http: 'GET', path: '/lookup#frag' },
    { http: 'GET', path: '/Lookup?topic=%3Cb%3E&x="' },
  ],
};

if (NSQLOOKUPD_BIN) {
  describe('embedded lookupd vs real nsqlookupd on unrecorded inputs', function () {
    this.timeout(30_000);
    for (const [name, steps] of Object.entries(CASES)) {
      it(name, async () => {
        const transcripts: string[][] = [];
        for (const kind of ['real', 'embedded'] as const) {
          const server = await startDiffServer(kind);
          try {
            transcripts.push(await runDiffScript(server, steps));
          } finally {
            await server.close();
          }
        }
        assert.deepEqual(transcripts[1], transcripts[0]);
      });
    }
  });
} else {
  describe('embedded lookupd vs real nsqlookupd on unrecorded inputs', () => {
    it('needs NSQLOOKUPD_BIN');
  });
}
