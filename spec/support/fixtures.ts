import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The recordings in shared/fixtures (beside this repository): what a real nsqd v1.3.0 wrote to
 * nsqlookupd (nsqd-v1.3.0/trace.json) and what a real nsqlookupd answered (lookupd-v1.3.0/v1-tcp.json).
 * NSQ_FIXTURES_DIR overrides the location. A missing fixture fails loudly: these specs must not pass
 * by testing nothing.
 */
export const FIXTURES_DIR =
  process.env.NSQ_FIXTURES_DIR ?? fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

function load<T>(relative: string): T {
  const path = `${FIXTURES_DIR.replace(/\/$/, '')}/${relative}`;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (cause) {
    throw new Error(`cannot read fixture ${path} (set NSQ_FIXTURES_DIR to shared/fixtures)`, { cause });
  }
}

// --- nsqd v1.3.0 → nsqlookupd trace ---------------------------------------------------------------

export interface TraceFrame {
  at_ms: number;
  conn: number;
  event?: 'tcp-open' | 'tcp-close';
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

// --- nsqlookupd v1.3.0 V1 TCP recordings --------------------------------------------------------

export interface FixtureFrame {
  size?: number;
  body: string;
  hex?: string;
  repeat?: number;
  normalized?: boolean;
}

export interface FixtureStep {
  op: 'connect' | 'write' | 'end' | 'close' | 'http';
  conn?: string;
  data?: ({ text: string } | { int32be: number } | { hex: string })[];
  expect?: { frames?: FixtureFrame[]; closed?: boolean; reset?: boolean };
}

export interface FixtureScenario {
  name: string;
  description: string;
  steps: FixtureStep[];
}

let tcp: { scenarios: FixtureScenario[] } | undefined;
export function lookupdTcpScenarios(): FixtureScenario[] {
  tcp ??= load<{ scenarios: FixtureScenario[] }>('lookupd-v1.3.0/v1-tcp.json');
  return tcp.scenarios;
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
    if (step.conn === undefined || !step.expect?.frames) continue;
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
      for (const frame of step.expect?.frames ?? []) {
        if (frame.body.startsWith('E_') && frame.size !== undefined) seen.set(frame.body, frame.size);
      }
    }
  }
  return [...seen].map(([body, size]) => ({ size, body }));
}
