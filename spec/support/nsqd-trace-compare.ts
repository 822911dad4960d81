/**
 * Compares a fresh recording of the nsqd → nsqlookupd trace (scripts/record-nsqd-trace.ts) with the
 * committed one (spec/fixtures/nsqd-v1.3.0/trace.json), apart from what may differ between two
 * recordings: MAY_DIFFER below is that list, in words, and the code under it applies exactly that
 * list, nothing more. A pure function of the two parsed files.
 */

import type { TraceFrame } from './fixtures.js';

export type { TraceFrame };

export interface RestartTiming {
  kill_after_tick_ms: number;
  lookupd_down_ms: number;
  kill_to_nsqd_notices_ms: number | null;
  restart_to_reconnect_ms: number | null;
  kill_to_reconnect_ms: number | null;
  reconnect_to_last_register_response_ms: number | null;
  reconnect_to_ping_response_ms: number | null;
}

export interface TraceStep {
  name: string;
  action: string;
  http_status?: number;
  frames: TraceFrame[];
  nsqd_log: string[];
  lookupd_http_log: string[];
  ping_interval_ms?: number[];
  first_ping_after_nsqd_start_ms?: number;
  timing?: RestartTiming;
}

interface FieldType {
  name: string;
  type: 'string' | 'number';
}

/** The whole of trace.json (its README describes the format). */
export interface NsqdTraceFile {
  format: string;
  recorded_from: string;
  wire: Record<string, string>;
  placeholders: Record<string, { type: string; meaning: string }>;
  recorded_values: Record<string, string>;
  identify: {
    command_line: string;
    body_template: string;
    fields_in_order: FieldType[];
    note: string;
    response_template: string;
    response_fields_in_order: FieldType[];
  };
  heartbeat: number[];
  reconnect_after_lookupd_restart: {
    runs: RestartTiming[];
    summary_ms: Record<string, { median: number; min: number; max: number; runs: number[] }>;
  };
  steps: TraceStep[];
}

/** What may differ between the committed trace and a fresh recording, as the README lists it. */
export const MAY_DIFFER: readonly string[] = [
  'at_ms of every frame, and every timing figure (heartbeat, reconnect_after_lookupd_restart, a ' +
    "step's timing, ping_interval_ms, first_ping_after_nsqd_start_ms): only their presence and shape " +
    'are compared, not their values',
  'ports, host names, times and paths: they are placeholders on both sides (a literal value where the ' +
    'committed trace has a placeholder is a difference)',
  'the topology fields: the committed trace was recorded from nsq commit 3103474, whose IDENTIFY ' +
    'carries "topology_region" and "topology_zone" (empty, none configured); the v1.3.0 tag does not ' +
    'send them. Empty ones are dropped from IDENTIFY bodies, and both names from the field lists, on ' +
    'both sides',
  'the order within a run of consecutive REGISTER (or UNREGISTER) round trips of one step: ' +
    're-REGISTERs after a reconnect and pre-created channels come in Go map order, and notifications ' +
    "raised together (a deleted topic's and its channels') race each other. The run must still hold " +
    'the same commands, each answered before the next is sent',
  'the order of log lines within one step: the query of lookupd for a new topic\'s channels ("CI: ' +
    'querying") runs beside its REGISTER, and goroutines log as they are scheduled (the committed ' +
    'trace has both orders). The same lines must be there, as many times',
];

export interface TraceDifference {
  /** Where, e.g. `steps[12] "delete channel" frames`. */
  where: string;
  what: 'changed' | 'missing' | 'unexpected';
  committed?: unknown;
  fresh?: unknown;
}

/** The topology fields as the recorded build sends them when none is configured: empty. */
const TOPOLOGY_FIELD = /,"topology_(?:region|zone)":""|"topology_(?:region|zone)":"",?/g;
const TIMING_KEYS = new Set(['timing', 'ping_interval_ms', 'first_ping_after_nsqd_start_ms']);

function dropTopology(body: string): string {
  return body.replace(TOPOLOGY_FIELD, '');
}

function withoutTopology(fields: FieldType[]): FieldType[] {
  return fields.filter((field) => !field.name.startsWith('topology_'));
}

/** A timing figure reduced to its shape: numbers become one marker, keys and lengths stay. */
function shape(value: unknown): unknown {
  if (typeof value === 'number') return '<ms>';
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  }
  return value;
}

/** Canonical text of a value, keys sorted, so equal frames compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

type Frame = Omit<TraceFrame, 'at_ms'>;

function comparableFrame(frame: TraceFrame): Frame {
  const { at_ms: _at, ...rest } = frame;
  if (rest.body !== undefined) rest.body = dropTopology(rest.body);
  return rest;
}

function registrationVerb(frame: Frame): string | undefined {
  if (frame.kind !== 'command' || frame.line === undefined) return undefined;
  return /^(UNREGISTER|REGISTER) /.exec(frame.line)?.[1];
}

/**
 * Frames without at_ms and topology, each run of two or more consecutive REGISTER (or UNREGISTER)
 * round trips on one connection sorted by command: a command directly followed by its response.
 */
function comparableFrames(frames: TraceFrame[]): Frame[] {
  const list = frames.map(comparableFrame);
  const out: Frame[] = [];
  const pairAt = (i: number): string | undefined => {
    const command = list[i];
    const response = list[i + 1];
    if (!command || !response) return undefined;
    const verb = registrationVerb(command);
    const answers =
      response.kind === 'response' && response.in_reply_to === command.line && response.conn === command.conn;
    return verb !== undefined && answers ? `${verb} ${command.conn}` : undefined;
  };
  let i = 0;
  while (i < list.length) {
    const run = pairAt(i);
    if (run === undefined) {
      out.push(list[i]!);
      i++;
      continue;
    }
    const pairs: [Frame, Frame][] = [];
    while (pairAt(i) === run) {
      pairs.push([list[i]!, list[i + 1]!]);
      i += 2;
    }
    pairs.sort(([a], [b]) => (canonical(a) < canonical(b) ? -1 : canonical(a) > canonical(b) ? 1 : 0));
    for (const [command, response] of pairs) out.push(command, response);
  }
  return out;
}

/** Longest common subsequence of two key lists, as index pairs in order. */
function lcs(a: string[], b: string[]): [number, number][] {
  const table: number[][] = Array.from({ length: a.length + 1 }, () =>
    new Array<number>(b.length + 1).fill(0),
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i]![j] =
        a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const pairs: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) {
      i++;
    } else {
      j++;
    }
  }
  return pairs;
}

/**
 * A sequence difference: whatever lies between two matched elements is paired off as `changed`
 * (one difference for one altered frame), the rest is `missing` or `unexpected`.
 */
function diffSequence<T>(where: string, committed: T[], fresh: T[], out: TraceDifference[]): void {
  const matches = lcs(committed.map(canonical), fresh.map(canonical));
  let i = 0;
  let j = 0;
  for (const [mi, mj] of [...matches, [committed.length, fresh.length] as [number, number]]) {
    const gone = committed.slice(i, mi);
    const added = fresh.slice(j, mj);
    const paired = Math.min(gone.length, added.length);
    for (let k = 0; k < paired; k++) {
      out.push({ where: `${where}[${i + k}]`, what: 'changed', committed: gone[k], fresh: added[k] });
    }
    for (let k = paired; k < gone.length; k++) {
      out.push({ where: `${where}[${i + k}]`, what: 'missing', committed: gone[k] });
    }
    for (let k = paired; k < added.length; k++) {
      out.push({ where: `${where}[+${j + k}]`, what: 'unexpected', fresh: added[k] });
    }
    i = mi + 1;
    j = mj + 1;
  }
}

/** Lines compared as a multiset; a line that is only on one side is paired off with one only on the other. */
function diffLines(where: string, committed: string[], fresh: string[], out: TraceDifference[]): void {
  const left = [...committed];
  const unmatched: string[] = [];
  for (const line of fresh) {
    const at = left.indexOf(line);
    if (at >= 0) left.splice(at, 1);
    else unmatched.push(line);
  }
  diffSequence(where, left, unmatched, out);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Structural difference of two plain JSON values, one entry per differing leaf. */
function diffValue(where: string, committed: unknown, fresh: unknown, out: TraceDifference[]): void {
  if (Array.isArray(committed) && Array.isArray(fresh)) {
    for (let i = 0; i < Math.max(committed.length, fresh.length); i++) {
      diffMember(`${where}[${i}]`, i < committed.length, i < fresh.length, committed[i], fresh[i], out);
    }
    return;
  }
  if (isObject(committed) && isObject(fresh)) {
    for (const key of new Set([...Object.keys(committed), ...Object.keys(fresh)])) {
      const path = where ? `${where}.${key}` : key;
      diffMember(path, key in committed, key in fresh, committed[key], fresh[key], out);
    }
    return;
  }
  if (canonical(committed) !== canonical(fresh)) out.push({ where, what: 'changed', committed, fresh });
}

function diffMember(
  where: string,
  inCommitted: boolean,
  inFresh: boolean,
  committed: unknown,
  fresh: unknown,
  out: TraceDifference[],
): void {
  if (!inFresh) out.push({ where, what: 'missing', committed });
  else if (!inCommitted) out.push({ where, what: 'unexpected', fresh });
  else diffValue(where, committed, fresh, out);
}

function comparableIdentify(identify: NsqdTraceFile['identify']): unknown {
  if (!isObject(identify)) return identify;
  return {
    ...identify,
    body_template: dropTopology(identify.body_template),
    fields_in_order: withoutTopology(identify.fields_in_order ?? []),
    response_template: dropTopology(identify.response_template),
    response_fields_in_order: withoutTopology(identify.response_fields_in_order ?? []),
  };
}

function diffStep(where: string, committed: TraceStep, fresh: TraceStep, out: TraceDifference[]): void {
  for (const key of new Set([...Object.keys(committed), ...Object.keys(fresh)])) {
    const path = `${where} ${key}`;
    const a = (committed as unknown as Record<string, unknown>)[key];
    const b = (fresh as unknown as Record<string, unknown>)[key];
    if (!(key in fresh) || !(key in committed)) diffMember(path, key in committed, key in fresh, a, b, out);
    else if (key === 'frames')
      diffSequence(path, comparableFrames(committed.frames), comparableFrames(fresh.frames), out);
    else if (key === 'nsqd_log' || key === 'lookupd_http_log')
      diffLines(path, a as string[], b as string[], out);
    else if (TIMING_KEYS.has(key)) diffValue(path, shape(a), shape(b), out);
    else diffValue(path, a, b, out);
  }
}

/** Every difference between `committed` and `fresh` beyond MAY_DIFFER; an empty list when they agree. */
export function compareNsqdTraces(committed: NsqdTraceFile, fresh: NsqdTraceFile): TraceDifference[] {
  const out: TraceDifference[] = [];
  const top = (trace: NsqdTraceFile) => {
    const { steps: _steps, identify, heartbeat, reconnect_after_lookupd_restart, ...rest } = trace;
    return {
      ...rest,
      identify: comparableIdentify(identify),
      heartbeat: shape(heartbeat),
      reconnect_after_lookupd_restart: shape(reconnect_after_lookupd_restart),
    };
  };
  diffValue('', top(committed), top(fresh), out);
  const a = committed.steps ?? [];
  const b = fresh.steps ?? [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const name = JSON.stringify(a[i]?.name ?? b[i]?.name);
    const where = `steps[${i}] ${name}`;
    if (i >= b.length) out.push({ where, what: 'missing', committed: a[i] });
    else if (i >= a.length) out.push({ where, what: 'unexpected', fresh: b[i] });
    else diffStep(where, a[i]!, b[i]!, out);
  }
  return out;
}

/** One difference as a line or three, for a person reading the recorder's output. */
export function describeDifference(difference: TraceDifference): string {
  const show = (value: unknown) => JSON.stringify(value);
  switch (difference.what) {
    case 'changed':
      return `${difference.where}: changed\n    committed: ${show(difference.committed)}\n    fresh:     ${show(difference.fresh)}`;
    case 'missing':
      return `${difference.where}: missing from the fresh trace: ${show(difference.committed)}`;
    case 'unexpected':
      return `${difference.where}: only in the fresh trace: ${show(difference.fresh)}`;
  }
}
