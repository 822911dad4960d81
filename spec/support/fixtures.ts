import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The recordings in spec/fixtures/ (each folder's README says what was recorded and how): what a real
 * nsqd v1.3.0 wrote to nsqlookupd (nsqd-v1.3.0/trace.json) and what a real nsqlookupd answered
 * (lookupd-v1.3.0/*.json). A missing fixture fails loudly: these specs must not pass by testing nothing.
 */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const LOOKUPD_FIXTURES_DIR = `${FIXTURES_DIR}lookupd-v1.3.0/`;

function load<T>(relative: string): T {
  const path = `${FIXTURES_DIR}${relative}`;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (cause) {
    throw new Error(`cannot read fixture ${path}`, { cause });
  }
}

// --- nsqd v1.3.0 → nsqlookupd trace ---------------------------------------------------------------

export interface TraceFrame {
  at_ms: number;
  conn: number;
  event?: 'tcp-open' | 'tcp-close';
  closed_by?: 'nsqd' | 'lookupd';
  dir?: 'nsqd->lookupd' | 'lookupd->nsqd';
  kind?: 'magic' | 'command' | 'response';
  text?: string;
  line?: string;
  body?: string;
  in_reply_to?: string;
}

export interface NsqdTrace {
  identify: {
    command_line: string;
    body_template: string;
    fields_in_order: { name: string; type: 'string' | 'number' }[];
    response_template: string;
    response_fields_in_order: { name: string; type: 'string' | 'number' }[];
  };
  steps: { name: string; action: string; frames: TraceFrame[] }[];
}

let trace: NsqdTrace | undefined;
export function nsqdTrace(): NsqdTrace {
  trace ??= load<NsqdTrace>('nsqd-v1.3.0/trace.json');
  return trace;
}

/** Every frame nsqd sent, in recorded order. */
export function traceCommands(): TraceFrame[] {
  return nsqdTrace().steps.flatMap((s) => s.frames.filter((f) => f.dir === 'nsqd->lookupd'));
}

// --- nsqlookupd v1.3.0 recordings (format in lookupd-v1.3.0/README.md) --------------------------

export type Segment = { text: string } | { int32be: number } | { hex: string };

export interface FixtureFrame {
  size?: number;
  body: string;
  hex?: string;
  repeat?: number;
  normalized?: boolean;
}

export interface ServerExit {
  code?: number | null;
  panic?: string;
}

export interface TcpExpect {
  frames?: FixtureFrame[];
  closed?: boolean;
  reset?: boolean;
  otherConnections?: unknown;
  serverExit?: ServerExit;
}

export interface HttpExpect {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  json?: unknown;
  unordered?: string[];
  serverExit?: ServerExit;
}

export type FixtureStep =
  | { op: 'connect' | 'end'; conn: string; expect?: TcpExpect }
  | { op: 'write'; conn: string; data: Segment[]; expect?: TcpExpect }
  | { op: 'close'; conn: string; expect?: TcpExpect }
  | {
      op: 'http';
      method: string;
      path: string;
      headers?: Record<string, string>;
      body?: string;
      expect: HttpExpect;
    };

export interface FixtureScenario {
  name: string;
  description: string;
  steps: FixtureStep[];
}

/** One recording file: the scenarios and what the file says about itself. */
export interface FixtureFile {
  source: string;
  format: Record<string, unknown>;
  recorded: Record<string, unknown>;
  scenarios: FixtureScenario[];
}

/** Every recording file of lookupd-v1.3.0/ (v1-tcp.json, http.json, and any added later). */
export function lookupdFixtureFiles(): string[] {
  return readdirSync(LOOKUPD_FIXTURES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

const lookupdFiles = new Map<string, FixtureFile>();
export function loadLookupdFixture(file: string): FixtureFile {
  let parsed = lookupdFiles.get(file);
  if (!parsed) {
    parsed = load<FixtureFile>(`lookupd-v1.3.0/${file}`);
    if (!Array.isArray(parsed.scenarios) || parsed.scenarios.length === 0) {
      throw new Error(`${file} has no scenarios`);
    }
    lookupdFiles.set(file, parsed);
  }
  return parsed;
}

export function loadScenarios(file: string): FixtureScenario[] {
  return loadLookupdFixture(file).scenarios;
}

export function lookupdTcpScenarios(): FixtureScenario[] {
  return loadScenarios('v1-tcp.json');
}

export function lookupdTcpScenario(name: string): FixtureScenario {
  const scenario = lookupdTcpScenarios().find((s) => s.name === name);
  if (!scenario) throw new Error(`no scenario ${name} in v1-tcp.json`);
  return scenario;
}

/** Values for the placeholders of a normalized IDENTIFY answer. */
export const LOOKUPD_VALUES = {
  lookupd_broadcast_address: 'lookupd.example',
  lookupd_hostname: 'lookupd-host',
  lookupd_tcp_port: 4160,
  lookupd_http_port: 4161,
  lookupd_version: '1.3.0',
} as const;

/**
 * A normalized body with its placeholders filled. Numbers are written unquoted: the capture quoted
 * every placeholder, the server sends integers for the ports.
 */
export function denormalize(body: string, values: Record<string, string | number> = LOOKUPD_VALUES): string {
  return body.replace(
    /"<([a-z_]+)>"|<([a-z_]+)>/g,
    (_whole, quoted: string | undefined, bare: string | undefined) => {
      const name = (quoted ?? bare)!;
      const value = values[name];
      if (value === undefined) throw new Error(`denormalize: no value for <${name}>`);
      if (quoted !== undefined) return typeof value === 'number' ? String(value) : `"${value}"`;
      return String(value);
    },
  );
}

/** The bytes of one fixture frame's body (`repeat` not applied). */
export function fixtureBody(frame: FixtureFrame): Buffer {
  if (frame.hex !== undefined) return Buffer.from(frame.hex, 'hex');
  return Buffer.from(frame.normalized ? denormalize(frame.body) : frame.body, 'utf8');
}

/** Every response body lookupd sent on each connection of a scenario, in order, repeats expanded. */
export function responseBodies(scenario: FixtureScenario): Map<string, Buffer[]> {
  const byConn = new Map<string, Buffer[]>();
  for (const step of scenario.steps) {
    if (step.op === 'http' || !step.expect?.frames) continue;
    const list = byConn.get(step.conn) ?? [];
    byConn.set(step.conn, list);
    for (const frame of step.expect.frames) {
      const body = fixtureBody(frame);
      for (let i = 0; i < (frame.repeat ?? 1); i++) list.push(body);
    }
  }
  return byConn;
}

/** Every `E_*` body recorded from the real nsqlookupd, each once, with its recorded size. */
export function fixtureErrorFrames(): { size: number; body: string }[] {
  const seen = new Map<string, number>();
  for (const scenario of lookupdTcpScenarios()) {
    for (const step of scenario.steps) {
      if (step.op === 'http') continue;
      for (const frame of step.expect?.frames ?? []) {
        if (frame.body.startsWith('E_') && frame.size !== undefined) seen.set(frame.body, frame.size);
      }
    }
  }
  return [...seen].map(([body, size]) => ({ size, body }));
}
