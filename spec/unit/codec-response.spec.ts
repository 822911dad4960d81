import assert from 'node:assert/strict';
import { LookupdError, NsqLookupError, ProtocolError } from '../../lib/errors.js';
import { isErrorBody, isOk, parseIdentifyResponse } from '../../lib/protocol/index.js';
import { denormalize, fixtureErrorFrames, LOOKUPD_VALUES, nsqdTrace } from '../support/fixtures.js';
import { fillTemplate } from '../support/wire-builder.js';

describe('codec: responses', () => {
  describe('LookupdError.parse on every E_* text lookupd v1.3.0 sent', () => {
    const errors = fixtureErrorFrames();

    it('covers the recorded error texts', () => {
      const codes = new Set(errors.map((e) => e.body.split(' ')[0]));
      assert.deepEqual([...codes].sort(), [
        'E_BAD_BODY',
        'E_BAD_CHANNEL',
        'E_BAD_PROTOCOL',
        'E_BAD_TOPIC',
        'E_INVALID',
      ]);
      assert.ok(errors.length >= 20, `${errors.length} distinct error texts`);
    });

    for (const { body, size } of fixtureErrorFrames()) {
      it(`parses ${JSON.stringify(body)}`, () => {
        const space = body.indexOf(' ');
        const code = space < 0 ? body : body.slice(0, space);
        const description = space < 0 ? '' : body.slice(space + 1);
        const bytes = Buffer.from(body, 'utf8');
        assert.equal(bytes.length, size);
        assert.ok(isErrorBody(bytes));
        assert.ok(!isOk(bytes));
        for (const input of [body, bytes]) {
          const error = LookupdError.parse(input, '127.0.0.1:4160');
          assert.ok(error instanceof LookupdError);
          assert.ok(error instanceof NsqLookupError);
          assert.equal(error.name, 'LookupdError');
          assert.equal(error.code, code);
          assert.equal(error.description, description);
          assert.equal(error.message, `lookupd 127.0.0.1:4160 answered ${body}`);
        }
        const anonymous = LookupdError.parse(bytes);
        assert.equal(anonymous?.message, body);
        assert.equal(anonymous?.code, code);
      });
    }

    it('keeps a trailing space and UTF-8 in the description', () => {
      assert.equal(LookupdError.parse('E_INVALID invalid command ')?.description, 'invalid command ');
      const error = LookupdError.parse(Buffer.from("E_BAD_TOPIC REGISTER topic name 'tópico' is not valid"));
      assert.equal(error?.description, "REGISTER topic name 'tópico' is not valid");
    });

    it('returns null for anything that is not an error answer', () => {
      for (const text of [
        'OK',
        '',
        '{"tcp_port":4160}',
        'E_',
        'e_invalid x',
        'E_lower case',
        ' E_INVALID x',
        'XE_INVALID',
      ]) {
        assert.equal(LookupdError.parse(text), null, JSON.stringify(text));
      }
    });
  });

  describe('isOk / isErrorBody', () => {
    it('recognises exactly "OK"', () => {
      assert.ok(isOk(Buffer.from('OK')));
      for (const text of ['ok', 'OK\n', 'OKK', '', 'O']) assert.ok(!isOk(Buffer.from(text)), text);
    });

    it('recognises the E_ prefix only', () => {
      assert.ok(isErrorBody(Buffer.from('E_INVALID')));
      for (const text of ['E', '', 'OK', 'e_x', '_E']) assert.ok(!isErrorBody(Buffer.from(text)), text);
    });
  });

  describe('parseIdentifyResponse', () => {
    const { identify } = nsqdTrace();
    const answer = fillTemplate(identify.response_template, {
      lookupd_broadcast_address: 'lookupd.example',
      lookupd_hostname: 'lookupd-host',
      lookupd_http_port: 4161,
      lookupd_tcp_port: 4160,
      lookupd_version: '1.3.0',
    });
    const expected = {
      tcpPort: 4160,
      httpPort: 4161,
      version: '1.3.0',
      broadcastAddress: 'lookupd.example',
      hostname: 'lookupd-host',
    };

    it('reads the answer recorded by nsqd (trace.json template)', () => {
      assert.deepEqual(parseIdentifyResponse(Buffer.from(answer)), expected);
      assert.deepEqual(parseIdentifyResponse(answer), expected);
    });

    it('reads the answer recorded from lookupd (v1-tcp.json, normalized)', () => {
      const normalized =
        '{"broadcast_address":"<lookupd_broadcast_address>","hostname":"<lookupd_hostname>",' +
        '"http_port":"<lookupd_http_port>","tcp_port":"<lookupd_tcp_port>","version":"<lookupd_version>"}';
      assert.deepEqual(parseIdentifyResponse(denormalize(normalized)), {
        tcpPort: LOOKUPD_VALUES.lookupd_tcp_port,
        httpPort: LOOKUPD_VALUES.lookupd_http_port,
        version: LOOKUPD_VALUES.lookupd_version,
        broadcastAddress: LOOKUPD_VALUES.lookupd_broadcast_address,
        hostname: LOOKUPD_VALUES.lookupd_hostname,
      });
    });

    it('ignores unknown fields', () => {
      const extra = `${answer.slice(0, -1)},"future_field":[1,2]}`;
      assert.deepEqual(parseIdentifyResponse(extra), expected);
    });

    it('throws the LookupdError for an E_* answer', () => {
      assert.throws(
        () => parseIdentifyResponse(Buffer.from('E_INVALID cannot IDENTIFY again'), '127.0.0.1:4160'),
        (e: unknown) =>
          e instanceof LookupdError &&
          e.code === 'E_INVALID' &&
          e.description === 'cannot IDENTIFY again' &&
          e.message.includes('127.0.0.1:4160'),
      );
      assert.throws(() => parseIdentifyResponse('E_BAD_BODY IDENTIFY missing fields'), LookupdError);
    });

    for (const [what, body] of [
      ['not JSON', '{not json'],
      ['empty', ''],
      ['OK', 'OK'],
      ['a JSON array', '[1,2]'],
      ['JSON null', 'null'],
      ['a JSON string', '"x"'],
      ['a port as a string', answer.replace('"tcp_port":4160', '"tcp_port":"4160"')],
      ['a fractional port', answer.replace('"http_port":4161', '"http_port":41.5')],
      ['a numeric version', answer.replace('"version":"1.3.0"', '"version":1.3')],
      ['a null hostname', answer.replace('"hostname":"lookupd-host"', '"hostname":null')],
    ] as const) {
      it(`refuses an answer that is ${what} with a ProtocolError`, () => {
        assert.throws(
          () => parseIdentifyResponse(body),
          (e: unknown) => e instanceof ProtocolError && e.code === 'NSQ_ERR_PROTOCOL',
        );
      });
    }
  });
});
