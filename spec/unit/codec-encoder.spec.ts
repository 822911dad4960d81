import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../lib/errors.js';
import {
  encodeIdentify,
  encodeIdentifyBody,
  encodeRegister,
  encodeUnregister,
  type IdentifyInfo,
  identifyJson,
  MAGIC_V1,
  PING,
} from '../../lib/protocol/index.js';
import { nsqdTrace, traceCommands } from '../support/fixtures.js';
import { commandLine, fillTemplate, identifyCommand, int32be, MAGIC_BYTES } from '../support/wire-builder.js';

/** IdentifyInfo → the trace template's placeholder names. */
function templateValues(info: IdentifyInfo): Record<string, string | number> {
  return {
    nsqd_broadcast_address: info.broadcastAddress,
    nsqd_hostname: info.hostname ?? '',
    nsqd_http_port: info.httpPort,
    nsqd_tcp_port: info.tcpPort,
    nsqd_version: info.version,
  };
}

/** Characters that JSON (Go's or JavaScript's) writes as they are. */
const plainText = fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/);
const port = fc.integer({ min: 1, max: 65535 });

describe('codec: encoders against the bytes nsqd v1.3.0 sent', () => {
  it('writes the magic "  V1" exactly as recorded', () => {
    const magic = traceCommands().filter((f) => f.kind === 'magic');
    assert.ok(magic.length >= 1, 'the trace records the magic');
    for (const f of magic) assert.deepEqual(Buffer.from(f.text!, 'ascii'), MAGIC_BYTES);
    assert.deepEqual(MAGIC_V1, MAGIC_BYTES);
  });

  it('writes PING exactly as recorded', () => {
    const pings = traceCommands().filter((f) => f.line === 'PING');
    assert.ok(pings.length >= 2);
    for (const f of pings) assert.deepEqual(PING, commandLine(f.line!));
  });

  it('writes every recorded REGISTER and UNREGISTER line byte for byte', () => {
    const lines = traceCommands()
      .map((f) => f.line)
      .filter((l): l is string => l !== undefined && /^(UN)?REGISTER /.test(l));
    assert.ok(lines.length >= 20, `expected the trace's topic commands, got ${lines.length}`);
    assert.ok(lines.some((l) => l.includes('#ephemeral')));
    assert.ok(lines.some((l) => l.split(' ').length === 3));
    for (const line of lines) {
      const [name, topic, channel] = line.split(' ') as [string, string, string | undefined];
      const encoded = name === 'REGISTER' ? encodeRegister(topic, channel) : encodeUnregister(topic, channel);
      assert.deepEqual(encoded, commandLine(line), line);
    }
  });

  it('treats an empty channel as no channel, as nsqd does', () => {
    assert.deepEqual(encodeRegister('t', ''), commandLine('REGISTER t'));
    assert.deepEqual(encodeUnregister('t', ''), commandLine('UNREGISTER t'));
  });

  describe('IDENTIFY', () => {
    const { identify } = nsqdTrace();
    const recorded: IdentifyInfo = {
      broadcastAddress: '127.0.0.1',
      hostname: 'nsqd-host',
      httpPort: 4151,
      tcpPort: 4150,
      version: '1.3.0',
    };

    it('recorded every IDENTIFY with the template body', () => {
      const frames = traceCommands().filter((f) => f.line === identify.command_line);
      assert.ok(frames.length >= 1);
      for (const f of frames) assert.equal(f.body, identify.body_template);
    });

    it('writes the recorded template with the placeholders filled', () => {
      const body = fillTemplate(identify.body_template, templateValues(recorded));
      assert.equal(
        body,
        '{"broadcast_address":"127.0.0.1","hostname":"nsqd-host","http_port":4151,"tcp_port":4150,' +
          '"topology_region":"","topology_zone":"","version":"1.3.0"}',
      );
      assert.equal(identifyJson(recorded), body);
      assert.deepEqual(encodeIdentify(recorded), identifyCommand(body));
    });

    it('keeps the recorded key order and JSON types', () => {
      const parsed = JSON.parse(identifyJson(recorded)) as Record<string, unknown>;
      assert.deepEqual(
        Object.keys(parsed),
        identify.fields_in_order.map((f) => f.name),
      );
      for (const field of identify.fields_in_order)
        assert.equal(typeof parsed[field.name], field.type, field.name);
    });

    it('matches the template for any plain values (property)', () => {
      fc.assert(
        fc.property(
          plainText,
          fc.option(plainText, { nil: undefined }),
          port,
          port,
          plainText,
          (b, h, http, tcp, v) => {
            const info: IdentifyInfo = {
              broadcastAddress: b,
              hostname: h,
              httpPort: http,
              tcpPort: tcp,
              version: v,
            };
            const expected = identifyCommand(fillTemplate(identify.body_template, templateValues(info)));
            assert.deepEqual(encodeIdentify(info), expected);
          },
        ),
      );
    });

    it('writes topology zone and region in Go key order', () => {
      const info = { ...recorded, topologyZone: 'zone-a', topologyRegion: 'region-1' };
      const expected =
        '{"broadcast_address":"127.0.0.1","hostname":"nsqd-host","http_port":4151,"tcp_port":4150,' +
        '"topology_region":"region-1","topology_zone":"zone-a","version":"1.3.0"}';
      assert.deepEqual(encodeIdentify(info), identifyCommand(expected));
    });

    it("escapes strings as Go's encoding/json does", () => {
      const info = { ...recorded, hostname: 'a<b>&c "q" \\ \n \u2028\u2029 ñ' };
      const expected =
        '{"broadcast_address":"127.0.0.1","hostname":"a\\u003cb\\u003e\\u0026c \\"q\\" \\\\ \\n \\u2028\\u2029 ñ",' +
        '"http_port":4151,"tcp_port":4150,"topology_region":"","topology_zone":"","version":"1.3.0"}';
      assert.equal(identifyJson(info), expected);
      // The size prefix counts UTF-8 bytes, not characters.
      const encoded = encodeIdentify(info);
      assert.deepEqual(encoded, identifyCommand(expected));
      assert.equal(encoded.subarray(9, 13).readInt32BE(0), Buffer.byteLength(expected));
    });

    it('writes a caller-supplied body with its byte length', () => {
      assert.deepEqual(
        encodeIdentifyBody('{not json'),
        Buffer.concat([commandLine('IDENTIFY'), int32be(9), Buffer.from('{not json')]),
      );
      assert.deepEqual(encodeIdentifyBody(''), Buffer.concat([commandLine('IDENTIFY'), int32be(0)]));
      const raw = Buffer.from([0xff, 0x00, 0x0a]);
      assert.deepEqual(encodeIdentifyBody(raw), Buffer.concat([commandLine('IDENTIFY'), int32be(3), raw]));
      assert.deepEqual(
        encodeIdentifyBody('ñ'),
        Buffer.concat([commandLine('IDENTIFY'), int32be(2), Buffer.from('ñ')]),
      );
    });

    const invalid: [string, Partial<Record<keyof IdentifyInfo, unknown>>][] = [
      ['no broadcastAddress', { broadcastAddress: undefined }],
      ['an empty broadcastAddress', { broadcastAddress: '' }],
      ['no version', { version: undefined }],
      ['an empty version', { version: '' }],
      ['tcpPort 0', { tcpPort: 0 }],
      ['httpPort 65536', { httpPort: 65536 }],
      ['a fractional port', { tcpPort: 4150.5 }],
      ['a port as a string', { httpPort: '4151' }],
      ['a non-string hostname', { hostname: 42 }],
      ['a non-string topologyZone', { topologyZone: null }],
    ];
    for (const [what, patch] of invalid) {
      it(`refuses ${what} before writing anything`, () => {
        const info = { ...recorded, ...patch } as IdentifyInfo;
        assert.throws(
          () => encodeIdentify(info),
          (e: unknown) => e instanceof InvalidArgumentError && e.code === 'NSQ_ERR_INVALID_ARGUMENT',
        );
      });
    }
  });
});
