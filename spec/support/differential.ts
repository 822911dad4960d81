import { hostname as osHostname } from 'node:os';
import { startRealLookupd } from '../../harness/oracle.js';
import { portOf } from '../../harness/targets.js';
import { startLookupd } from '../../lib/lookupd/index.js';
import { connectSocket } from './connect.js';
import { type ExactJson, ExactObject, parseExactJson, showExact } from './exact-json.js';
import { httpRequest } from './http.js';
import { dropTopologyFromRaw, GO_ZERO_TIME_UNIX_NANO, TOPOLOGY_KEYS } from './recorded-json.js';
import { V1Client } from './v1-client.js';

/**
 * Runs one script of TCP writes and HTTP requests against a lookupd and returns a transcript that can
 * be compared across servers: what the embedded lookupd does next to what the real nsqlookupd does for
 * inputs the recordings do not cover. The transcript is normalized: client ports, the server's own
 * ports and times become placeholders, arrays Go emits in map order are sorted, and (the real binary
 * being the v1.3.0 tag) topology fields are dropped.
 */

export type DiffStep =
  | { conn: string; write: Buffer | string; frames: number }
  | { conn: string; end: true }
  | { conn: string; close: true }
  /**
   * Raw bytes on a connection of their own to the HTTP port, for requests an HTTP client will not
   * send (a broken chunked body, pipelining); the server must close the connection at the end,
   * after the client's FIN with `halfClose`.
   */
  | { raw: Buffer | string; label: string; halfClose?: boolean }
  | {
      http: string;
      path: string;
      body?: string;
      headers?: Record<string, string>;
      /** Answer headers to show beside the recorded four (content-type, x-nsq-content-type, allow, location). */
      show?: string[];
    };

export interface DiffServer {
  tcpAddress: string;
  httpAddress: string;
  close(): Promise<void>;
}

export async function startDiffServer(kind: 'embedded' | 'real'): Promise<DiffServer> {
  if (kind === 'real') return startRealLookupd();
  const server = await startLookupd({
    tcpAddress: '127.0.0.1:0',
    httpAddress: '127.0.0.1:0',
    hostname: osHostname(),
    broadcastAddress: osHostname(),
  });
  return server;
}

/** One request, the body as latin1 text (each byte one character, as the transcript shows it). */
async function http(
  address: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string | undefined>; body: string }> {
  const result = await httpRequest(address, method, path, headers, body);
  return { ...result, body: result.body.toString('latin1') };
}

/** Runs `steps` and returns the normalized transcript, one line per observation. */
export async function runDiffScript(server: DiffServer, steps: DiffStep[]): Promise<string[]> {
  const clients = new Map<string, V1Client>();
  const lines: string[] = [];
  const tcpPort = portOf(server.tcpAddress);
  const httpPort = portOf(server.httpAddress);
  const ports = new Map<string, string>();
  const normalize = (text: string) => {
    let out = text;
    for (const [port, name] of ports) out = out.split(`127.0.0.1:${port}`).join(`127.0.0.1:<${name}>`);
    return out
      .replace(new RegExp(`"tcp_port":${tcpPort}\\b`, 'g'), '"tcp_port":<lookupd_tcp>')
      .replace(new RegExp(`"http_port":${httpPort}\\b`, 'g'), '"http_port":<lookupd_http>');
  };
  try {
    for (const step of steps) {
      if ('http' in step) {
        let result = await http(server.httpAddress, step.http, step.path, step.headers, step.body);
        // A close the client made may not be seen yet by the server; wait for the registry to settle.
        for (let i = 0; i < 20 && steps.some((s) => 'close' in s); i++) {
          const again = await http(server.httpAddress, step.http, step.path, step.headers, step.body);
          if (again.body === result.body && again.status === result.status) break;
          result = again;
        }
        const shown = ['content-type', 'x-nsq-content-type', 'allow', 'location', ...(step.show ?? [])]
          .filter((h) => result.headers[h] !== undefined)
          .map((h) => `${h}=${String(result.headers[h])}`);
        lines.push(
          `${step.http} ${step.path} -> ${result.status} [${shown.join(' ')}] ${canonicalBody(normalize(result.body))}`,
        );
        continue;
      }
      if ('raw' in step) {
        const answers = await rawHttp(server.httpAddress, step.raw, step.halfClose ?? false);
        const shown = answers.map((a) => `${a.head} ${canonicalBody(normalize(a.body))}`);
        lines.push(`raw ${step.label} -> ${[...shown, 'closed'].join(' | ')}`);
        continue;
      }
      let client = clients.get(step.conn);
      if (!client) {
        client = await V1Client.open(server.tcpAddress);
        clients.set(step.conn, client);
        ports.set(String(client.localPort), step.conn);
      }
      const c = client;
      if ('write' in step) {
        const before = c.frames.length;
        void c.write(step.write);
        await c.until(() => c.frames.length >= before + step.frames || c.closed, `${step.frames} frame(s)`);
        const got = c.frames.slice(before).map((f) => frameText(normalize(f.body.toString('latin1'))));
        lines.push(`${step.conn} write -> [${got.join(' | ')}]${c.closed ? ' closed' : ''}`);
      } else if ('end' in step) {
        const before = c.frames.length;
        c.end();
        await c.until(() => c.closed, 'the server to close');
        const got = c.frames.slice(before).map((f) => frameText(normalize(f.body.toString('latin1'))));
        lines.push(`${step.conn} end -> [${got.join(' | ')}] closed`);
      } else {
        c.destroy();
        lines.push(`${step.conn} close`);
      }
    }
  } finally {
    for (const c of clients.values()) c.destroy();
  }
  return lines;
}

function frameText(text: string): string {
  return text.startsWith('{') ? canonicalBody(text) : JSON.stringify(text);
}

/**
 * JSON with times as <ns>, topology dropped and map-ordered arrays sorted; other text as is. Parsing
 * loses how strings were escaped (Go writes `<` as `\u003c`), so the raw string literals follow, sorted.
 */
export function canonicalBody(text: string): string {
  let value: ExactJson;
  try {
    value = parseExactJson(text);
  } catch {
    return JSON.stringify(text);
  }
  const withoutTopology = dropTopologyFromRaw(text);
  const literals = (withoutTopology.match(/"(?:[^"\\]|\\.)*"/g) ?? []).sort();
  return `${showExact(canonical(value))} literals: ${literals.join(' ')}`;
}

function canonical(value: ExactJson): ExactJson {
  if (typeof value === 'bigint') return '<ns>';
  if (Array.isArray(value)) {
    return value
      .map(canonical)
      .sort((a, b) => (showExact(a) < showExact(b) ? -1 : showExact(a) > showExact(b) ? 1 : 0));
  }
  if (value instanceof ExactObject) {
    let entries = value.entries
      .filter(([k]) => !TOPOLOGY_KEYS.has(k))
      .map(([k, v]): [string, ExactJson] => [
        k,
        k === 'last_update' || k === 'tombstoned_at' ? timeOf(v) : canonical(v),
      ]);
    const topics = value.get('topics');
    const tombstones = value.get('tombstones');
    if (Array.isArray(topics) && Array.isArray(tombstones)) {
      const pairs = topics.map((t, i) => `${showExact(t)}=${showExact(tombstones[i])}`).sort();
      entries = entries
        .filter(([k]) => k !== 'tombstones')
        .map(([k, v]): [string, ExactJson] => (k === 'topics' ? ['topics=tombstones', pairs] : [k, v]));
    }
    return new ExactObject(entries);
  }
  return value;
}

function timeOf(v: ExactJson): ExactJson {
  if (v === GO_ZERO_TIME_UNIX_NANO) return '<zero time>';
  return typeof v === 'bigint' ? '<ns>' : v;
}

// Shown from a raw answer: the recorded headers and what framing and connection reuse depend on.
const RAW_SHOWN = [
  'content-type',
  'x-nsq-content-type',
  'allow',
  'location',
  'content-length',
  'transfer-encoding',
];

/**
 * Writes `bytes` on a fresh connection to `address` and reads until the server closes it; returns
 * each answer as `status [headers]` and its body (chunked bodies decoded). `Connection` is shown
 * only as `close`: node:http says `keep-alive` where Go says nothing.
 */
async function rawHttp(
  address: string,
  bytes: Buffer | string,
  halfClose: boolean,
): Promise<{ head: string; body: string }[]> {
  const socket = await connectSocket(address);
  const received: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error('timed out waiting for the server to close a raw HTTP connection'));
    }, 5000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve();
    });
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    if (halfClose) socket.end();
  });
  const text = Buffer.concat(received).toString('latin1');
  const answers: { head: string; body: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) {
      answers.push({ head: 'unparsed', body: text.slice(at) });
      break;
    }
    const [statusLine = '', ...headerLines] = text.slice(at, end).split('\r\n');
    const headers = new Map<string, string>();
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    at = end + 4;
    let body = '';
    if (headers.get('transfer-encoding') === 'chunked') {
      for (;;) {
        const sizeEnd = text.indexOf('\r\n', at);
        const size = Number.parseInt(text.slice(at, sizeEnd), 16);
        at = sizeEnd + 2;
        if (!(size > 0)) {
          at += 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else {
      const length = headers.has('content-length') ? Number(headers.get('content-length')) : text.length - at;
      body = text.slice(at, at + length);
      at += length;
    }
    const shown = RAW_SHOWN.filter((h) => headers.has(h)).map((h) => `${h}=${headers.get(h)}`);
    if (headers.get('connection')?.toLowerCase() === 'close') shown.push('connection=close');
    answers.push({ head: `${statusLine.split(' ')[1]} [${shown.join(' ')}]`, body });
  }
  return answers;
}
