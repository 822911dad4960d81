import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ClosedError, type ErrorCode, FleetWorkerError, InvalidArgumentError } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import {
  FakeProducerFleet,
  type FakeProducersOptions,
  type FleetEvents,
  type FleetStatus,
} from './fake-producers.js';

/** Set in a worker's environment: the bin serves as a fleet worker instead of reading a command. */
export const FLEET_WORKER_ENV = 'NSQD_LOOKUP_FLEET_WORKER';

/** Fleet options a worker receives: everything but the logger, which cannot cross a process. */
export type WorkerFleetOptions = Omit<FakeProducersOptions, 'log'>;

type ToWorker =
  | { type: 'start'; options: WorkerFleetOptions }
  | { type: 'call'; id: number; method: 'settled' | 'verify' }
  | { type: 'close' };

type FromWorker =
  | { type: 'status'; status: FleetStatus }
  | { type: 'progress'; status: FleetStatus }
  | { type: 'error'; producer: number; address: string; code?: string; message: string }
  | { type: 'started'; status: FleetStatus }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'reply'; id: number; status?: FleetStatus; value?: number; error?: string }
  | { type: 'closed'; status: FleetStatus };

/** How often a worker reports its status, so the parent's {@link FleetWorkers.status} stays fresh. */
const STATUS_EVERY_MS = 250;
/** How long a worker gets to close its fakes after being asked, before it is killed. */
const CLOSE_GRACE_MS = 10_000;

/**
 * The soft limit on open files of this process: read from `/proc/self/limits` (Linux; Node has no
 * getrlimit). Undefined where it cannot be read.
 */
export function openFilesLimit(path = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(path, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
    const limit = Number(soft);
    return Number.isInteger(limit) && limit > 0 ? limit : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How many fakes one process can hold within `limit` descriptors: a serving fake holds two listening
 * sockets, and every fake one connection per lookupd. A quarter of the descriptors stay free for what
 * else comes: consumers connecting to serving fakes, lookupd HTTP checks, files.
 */
export function producersPerProcess({
  lookupds,
  registrationOnly,
  limit = openFilesLimit() ?? 1024,
}: {
  lookupds: number;
  registrationOnly: boolean;
  limit?: number;
}): number {
  const perFake = (registrationOnly ? 0 : 2) + lookupds;
  return Math.max(1, Math.floor((limit * 0.75) / perFake));
}

/**
 * Splits fleet options for `producers` fakes (producer `firstIndex` first) into slices of at most
 * `perProcess`, as even as possible: one per worker, with disjoint `firstIndex` ranges, the same
 * `totalProducers`, and the churn rate shared between them.
 */
export function sliceFleet(options: WorkerFleetOptions, perProcess: number): WorkerFleetOptions[] {
  const producers = options.producers ?? 1;
  const first = options.firstIndex ?? 0;
  const workers = Math.ceil(producers / perProcess);
  const slices: WorkerFleetOptions[] = [];
  for (let w = 0; w < workers; w++) {
    const start = first + Math.floor((w * producers) / workers);
    const end = first + Math.floor(((w + 1) * producers) / workers);
    slices.push({
      ...options,
      firstIndex: start,
      producers: end - start,
      totalProducers: options.totalProducers ?? first + producers,
      churnPerSecond: options.churnPerSecond === undefined ? undefined : options.churnPerSecond / workers,
      seed: options.seed === undefined ? undefined : options.seed + w,
    });
  }
  return slices;
}

interface Worker {
  child: ChildProcess;
  status: FleetStatus | undefined;
  exited: Promise<void>;
}

/**
 * One fleet spread over worker processes, each a {@link FakeProducerFleet} of one slice (see
 * {@link sliceFleet}), with one status and one event stream for all of them: for fleets larger than
 * the descriptors one process may hold. Each worker is `script` forked with {@link FLEET_WORKER_ENV}
 * set (the `nsqd-lookup` bin serves as a worker then). Workers ignore SIGINT and SIGTERM (a terminal
 * sends them to the whole process group): the parent decides, and {@link close} stops every one. A
 * worker whose parent goes away closes its fakes and exits.
 */
export class FleetWorkers extends TypedEmitter<FleetEvents> {
  readonly #slices: WorkerFleetOptions[];
  readonly #script: string;
  readonly #execArgv: string[];
  readonly #workers: Worker[] = [];
  readonly #calls = new Map<number, { resolve: (value: number) => void; reject: (error: Error) => void }>();
  #nextCall = 0;
  #closing: Promise<void> | undefined;

  constructor(
    slices: WorkerFleetOptions[],
    { script, execArgv = process.execArgv }: { script: string; execArgv?: string[] },
  ) {
    super();
    if (slices.length === 0) throw new InvalidArgumentError('a worker fleet needs at least one slice');
    this.#slices = slices;
    this.#script = script;
    this.#execArgv = execArgv;
  }

  /** Worker processes in the fleet. */
  get workers(): number {
    return this.#slices.length;
  }

  /** The workers' process ids (those started so far). */
  pids(): number[] {
    return this.#workers.flatMap((w) => (w.child.pid === undefined ? [] : [w.child.pid]));
  }

  /**
   * Forks every worker and resolves once each has started its slice (see
   * {@link FakeProducerFleet.start}). Rejects with the first worker's failure, or a
   * {@link FleetWorkerError} if one exits first.
   */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the worker fleet is closed'));
    return Promise.all(this.#slices.map((slice) => this.#fork(slice))).then(() => undefined);
  }

  /** The sum of the workers' last reported statuses (fresh within 250 ms, or since the last call). */
  status(): FleetStatus {
    const sum: FleetStatus = {
      producers: 0,
      started: 0,
      serving: 0,
      connected: 0,
      peers: 0,
      registrationsAcked: 0,
      registrationsExpected: 0,
      registrationsDropped: 0,
      verified: true,
      errors: 0,
      churnOperations: 0,
      messagesGenerated: 0,
      generationPaused: 0,
    };
    this.#slices.forEach((slice, i) => {
      const status = this.#workers[i]?.status;
      if (!status) {
        sum.producers += slice.producers ?? 1;
        sum.verified &&= (slice.lookupdHttpAddresses ?? []).length > 0;
        return;
      }
      for (const key of Object.keys(sum) as Array<keyof FleetStatus>) {
        if (key === 'verified') sum.verified &&= status.verified;
        else sum[key] += status[key];
      }
    });
    return sum;
  }

  /** Resolves once every worker's fakes have acknowledged everything sent so far. */
  async settled(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => this.#call(worker, 'settled')));
  }

  /** {@link FakeProducerFleet.verify} in every worker; resolves to the sum. */
  async verify(): Promise<number> {
    const counts = await Promise.all(this.#workers.map((worker) => this.#call(worker, 'verify')));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Asks every worker to close its fakes and waits for it to exit (killed after 10 s). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(
      this.#workers.map(async (worker) => {
        if (worker.child.exitCode === null && worker.child.signalCode === null) {
          send(worker.child, { type: 'close' });
          const timer = setTimeout(() => worker.child.kill('SIGKILL'), CLOSE_GRACE_MS);
          await worker.exited;
          clearTimeout(timer);
        }
      }),
    ).then(() => {
      for (const { reject } of this.#calls.values()) reject(new ClosedError('the worker fleet is closed'));
      this.#calls.clear();
    });
    return this.#closing;
  }

  #fork(slice: WorkerFleetOptions): Promise<void> {
    const child = fork(this.#script, [], {
      env: { ...process.env, [FLEET_WORKER_ENV]: '1' },
      execArgv: this.#execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const worker: Worker = { child, status: undefined, exited };
    this.#workers.push(worker);
    return new Promise<void>((resolve, reject) => {
      child.on('message', (message: FromWorker) => {
        if (message.type !== 'error' && message.type !== 'failed')
          worker.status = message.status ?? worker.status;
        switch (message.type) {
          case 'started':
            resolve();
            break;
          case 'failed':
            reject(new FleetWorkerError(message.message, child.pid, forwardedCode(message.code)));
            break;
          case 'progress':
            this.emit('progress', this.status());
            break;
          case 'error':
            this.emit(
              'error',
              message.producer,
              message.address,
              new FleetWorkerError(message.message, child.pid, forwardedCode(message.code)),
            );
            break;
          case 'reply': {
            const call = this.#calls.get(message.id);
            this.#calls.delete(message.id);
            if (message.error) call?.reject(new FleetWorkerError(message.error, child.pid));
            else call?.resolve(message.value ?? 0);
            break;
          }
        }
      });
      child.once('exit', (code, signal) =>
        reject(
          new FleetWorkerError(
            `fleet worker ${child.pid} exited (${signal ?? code}) before it started`,
            child.pid,
          ),
        ),
      );
      send(child, { type: 'start', options: slice });
    });
  }

  #call(worker: Worker, method: 'settled' | 'verify'): Promise<number> {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return Promise.resolve(0);
    const id = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      send(worker.child, { type: 'call', id, method });
    });
  }
}

/** A worker's error code, kept when it is one of this package's (a Node code such as EADDRINUSE is not). */
function forwardedCode(code: string | undefined): ErrorCode {
  return code?.startsWith('NSQ_ERR_') || code?.startsWith('E_')
    ? (code as ErrorCode)
    : 'NSQ_ERR_FLEET_WORKER';
}

function send(child: ChildProcess, message: ToWorker): void {
  if (child.connected) child.send(message);
}

/**
 * The worker side of {@link FleetWorkers}: runs the slice the parent sends, reports to it, and closes
 * when told to or when the parent goes away. Resolves once the fleet is closed.
 */
export async function serveAsFleetWorker(): Promise<void> {
  const parent = process;
  if (!parent.send)
    throw new InvalidArgumentError(`${FLEET_WORKER_ENV} is set but there is no parent to report to`);
  const report = (message: FromWorker) => {
    if (parent.connected) parent.send!(message);
  };
  // The parent decides when to stop; a Ctrl-C reaches the whole process group.
  const ignore = () => undefined;
  parent.on('SIGINT', ignore);
  parent.on('SIGTERM', ignore);
  let fleet: FakeProducerFleet | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    const close = async () => {
      clearInterval(ticker);
      await fleet?.close();
      if (fleet) report({ type: 'closed', status: fleet.status() });
      parent.off('SIGINT', ignore);
      parent.off('SIGTERM', ignore);
      if (parent.connected) parent.disconnect();
      resolve();
    };
    parent.once('disconnect', () => void close());
    parent.on('message', (message: ToWorker) => {
      if (message.type === 'close') void close();
      else if (message.type === 'start') {
        try {
          fleet = new FakeProducerFleet(message.options);
        } catch (error) {
          report({
            type: 'failed',
            message: (error as Error).message,
            code: (error as { code?: string }).code,
          });
          return;
        }
        const running = fleet;
        running.on('progress', (status) => report({ type: 'progress', status }));
        running.on('error', (producer, address, error) =>
          report({
            type: 'error',
            producer,
            address,
            code: (error as { code?: string }).code,
            message: error.message,
          }),
        );
        ticker = setInterval(() => report({ type: 'status', status: running.status() }), STATUS_EVERY_MS);
        running.start().then(
          () => report({ type: 'started', status: running.status() }),
          (error: Error) =>
            report({ type: 'failed', message: error.message, code: (error as { code?: string }).code }),
        );
      } else if (message.type === 'call') {
        const running = fleet;
        const answer = running
          ? message.method === 'verify'
            ? running.verify()
            : running.settled().then(() => 0)
          : Promise.resolve(0);
        answer.then(
          (value) => report({ type: 'reply', id: message.id, value, status: running?.status() }),
          (error: Error) =>
            report({ type: 'reply', id: message.id, error: error.message, status: running?.status() }),
        );
      }
    });
  });
  await done;
}
