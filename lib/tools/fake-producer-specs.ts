import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';
import type { IdentifyInfo } from '../protocol/encoder.js';
import { checkIdentity } from '../protocol/identity.js';
import type { Registration } from '../registry/registry.js';
import { integerAtLeast, nonEmptyText, optionalText, port } from '../util/validate.js';

/** One simulated nsqd: what it tells lookupd about itself and what it registers. */
export interface FakeProducerSpec {
  /**
   * What its IDENTIFY says; checked when the fleet is built. A serving fake keeps its hostname,
   * version and topology but advertises where it really listens instead of this broadcast address
   * and these ports.
   */
  identity: IdentifyInfo;
  /** Topics and channels it has at start-up (its registry starts from a copy). */
  registrations: Registration[];
}

/** The options {@link generateProducerSpecs} reads (a subset of the fleet's). */
export interface ProducerShape {
  /** Producers to simulate (default 1). */
  producers?: number;
  /** Topics per producer (default 1). */
  topics?: number;
  /** Channels per topic (default 1; 0 registers bare topics). */
  channels?: number;
  /** Topic names; `%d` is the topic's index (default `topic-%d`). Every producer has the same topics. */
  topicPattern?: string;
  /** Channel names; `%d` is the channel's index (default `channel-%d`). */
  channelPattern?: string;
  /**
   * Broadcast address of producer i; `%d` is i. Default `127.0.0.1`, an address that resolves at
   * once (serving fakes: the address they listen on).
   */
  broadcastAddressPattern?: string;
  /** Hostname of producer i; `%d` is i (default `fake-nsqd-%d`). */
  hostnamePattern?: string;
  /** TCP port of producer i is `tcpPortBase + i` (default: see {@link registrationOnlyPorts}). */
  tcpPortBase?: number;
  /** HTTP port of producer i is `httpPortBase + i` (default: see {@link registrationOnlyPorts}). */
  httpPortBase?: number;
  /** Version sent in IDENTIFY (default `1.3.0`). */
  version?: string;
  /**
   * The whole fleet's index of this fleet's producer 0 (default 0): a fleet spread over processes or
   * machines (`--shard`) is many fleets, each a slice, with disjoint names and ports.
   */
  firstIndex?: number;
  /** Producers in the whole fleet, all slices (default `firstIndex + producers`); sets default ports. */
  totalProducers?: number;
}

/**
 * Producer i's identity and registrations from the generating options. A bad option is an
 * {@link InvalidArgumentError} naming it, thrown before any producer exists.
 */
export function generateProducerSpecs(options: ProducerShape): FakeProducerSpec[] {
  const count = integerAtLeast('producers', options.producers, 1, 1);
  const topics = integerAtLeast('topics', options.topics, 0, 1);
  const channels = integerAtLeast('channels', options.channels, 0, 1);
  const first = integerAtLeast('firstIndex', options.firstIndex, 0, 0);
  const total = integerAtLeast('totalProducers', options.totalProducers, first + count, first + count);
  const defaults = registrationOnlyPorts(total);
  const tcpPortBase = port('tcpPortBase', options.tcpPortBase ?? defaults.tcpPortBase);
  const httpPortBase = port('httpPortBase', options.httpPortBase ?? defaults.httpPortBase);
  const broadcastAddressPattern = nonEmptyText(
    'broadcastAddressPattern',
    options.broadcastAddressPattern ?? '127.0.0.1',
  );
  const hostnamePattern = optionalText('hostnamePattern', options.hostnamePattern) ?? 'fake-nsqd-%d';
  const version = nonEmptyText('version', options.version ?? '1.3.0');
  const last = first + count - 1;
  if (tcpPortBase + last > 65535 || httpPortBase + last > 65535) {
    throw new InvalidArgumentError(
      `${last + 1} producers do not fit in ports from tcpPortBase ${tcpPortBase} / httpPortBase ${httpPortBase}`,
    );
  }
  const registrations: Registration[] = [];
  for (let t = 0; t < topics; t++) {
    const topic = fill(options.topicPattern ?? 'topic-%d', t);
    if (channels === 0) registrations.push({ topic });
    for (let c = 0; c < channels; c++)
      registrations.push({ topic, channel: fill(options.channelPattern ?? 'channel-%d', c) });
  }
  const specs: FakeProducerSpec[] = [];
  for (let i = first; i <= last; i++) {
    specs.push({
      identity: {
        broadcastAddress: fill(broadcastAddressPattern, i),
        hostname: fill(hostnamePattern, i),
        tcpPort: tcpPortBase + i,
        httpPort: httpPortBase + i,
        version,
      },
      // Shared and never mutated: each producer's Registry copies it.
      registrations,
    });
  }
  return specs;
}

/** Where producer i's ports start: `tcpPortBase + i`, `httpPortBase + i`. */
export interface PortBases {
  /** Producer 0's TCP port. */
  tcpPortBase: number;
  /** Producer 0's HTTP port. */
  httpPortBase: number;
}

/** Where the first port of the kernel's ephemeral range is read from (Linux). */
const EPHEMERAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
/** Linux's default first ephemeral port, used where the range cannot be read. */
const DEFAULT_EPHEMERAL_LOW = 32768;
/** Ports below this need privileges on most systems. */
const FIRST_UNPRIVILEGED = 1024;

/**
 * The ports a registration-only fleet of `count` advertises by default. Nothing listens on them, so a
 * consumer that dials one should be refused at once: they are kept below the kernel's ephemeral range,
 * where no outgoing connection's own port can answer (on loopback a connection to a port in that range
 * can even connect to itself). TCP 10000+i and HTTP 20000+i when both fit below it (up to 10,000
 * producers with Linux's default range), else TCP from 1024 and HTTP right after; past that, the
 * ports run on above 1024 + 2 × count and into the range.
 */
export function registrationOnlyPorts(count: number, ephemeralLow = readEphemeralLow()): PortBases {
  if (count <= 10_000 && 20_000 + count <= ephemeralLow) return { tcpPortBase: 10_000, httpPortBase: 20_000 };
  return { tcpPortBase: FIRST_UNPRIVILEGED, httpPortBase: FIRST_UNPRIVILEGED + count };
}

function readEphemeralLow(): number {
  try {
    const low = Number.parseInt(readFileSync(EPHEMERAL_RANGE_FILE, 'utf8'), 10);
    return Number.isInteger(low) && low > FIRST_UNPRIVILEGED ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

/**
 * Each producer's identity as IDENTIFY needs it, named by its index among the specs. Serving fakes
 * advertise where they listen, so only the identity's other fields are theirs to check.
 */
export function checkSpecs(specs: FakeProducerSpec[]): FakeProducerSpec[] {
  if (!Array.isArray(specs)) throw new InvalidArgumentError(`specs must be a list, got ${typeof specs}`);
  specs.forEach((spec, i) => {
    if (spec === null || typeof spec !== 'object')
      throw new InvalidArgumentError(`specs[${i}] must be an object, got ${String(spec)}`);
    checkIdentity(spec.identity, `specs[${i}].identity`);
    if (!Array.isArray(spec.registrations))
      throw new InvalidArgumentError(`specs[${i}].registrations must be a list`);
  });
  return specs;
}

export function fill(pattern: string, index: number): string {
  return pattern.replaceAll('%d', String(index));
}
