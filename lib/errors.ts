/** Every code this package's errors carry, apart from lookupd's own `E_*` codes. */
export type NsqErrorCode =
  | 'NSQ_ERR_CLOSED'
  | 'NSQ_ERR_CONNECT'
  | 'NSQ_ERR_CONNECT_CALLBACK'
  | 'NSQ_ERR_CONNECT_TIMEOUT'
  | 'NSQ_ERR_CONNECTION_CLOSED'
  | 'NSQ_ERR_CONNECTION_RESET'
  | 'NSQ_ERR_FLEET_WORKER'
  | 'NSQ_ERR_HTTP_CHECK'
  | 'NSQ_ERR_HTTP_STATUS'
  | 'NSQ_ERR_INVALID_ARGUMENT'
  | 'NSQ_ERR_INVALID_CHANNEL'
  | 'NSQ_ERR_INVALID_TOPIC'
  | 'NSQ_ERR_LISTEN'
  | 'NSQ_ERR_LOOKUPD_HTTP'
  | 'NSQ_ERR_LOOKUPD_HTTP_BODY_TOO_LARGE'
  | 'NSQ_ERR_NOT_IN_FLIGHT'
  | 'NSQ_ERR_PEER_CLOSED'
  | 'NSQ_ERR_PROTOCOL'
  | 'NSQ_ERR_QUEUE_FULL'
  | 'NSQ_ERR_READ_TIMEOUT'
  | 'NSQ_ERR_REGISTRY_FILE'
  | 'NSQ_ERR_SNAPSHOT_FILE'
  | 'NSQ_ERR_THROWN_VALUE'
  | 'NSQ_ERR_TIMEOUT';

/** lookupd's own error codes, as it sends them (`E_BAD_TOPIC`, `E_INVALID`, ...). */
export type LookupdErrorCode = `E_${string}`;

/** What {@link NsqLookupError.code} can be. */
export type ErrorCode = NsqErrorCode | LookupdErrorCode;

/**
 * Every error this package creates is an {@link NsqLookupError} with a stable string `code`; branch on
 * `code`, never on the message text.
 */
export class NsqLookupError extends Error {
  /** Stable identifier, e.g. `NSQ_ERR_CONNECT_TIMEOUT`, or lookupd's own `E_*` code for {@link LookupdError}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A topic or channel name that nsq would refuse; raised before any byte is written. */
export class InvalidNameError extends NsqLookupError {
  constructor(
    /**
     * Which name was refused: a `topic` (code `NSQ_ERR_INVALID_TOPIC`) or a `channel`
     * (`NSQ_ERR_INVALID_CHANNEL`).
     */
    readonly kind: 'topic' | 'channel',
    /** The refused name, exactly as given. */
    readonly value: string,
  ) {
    super(
      kind === 'topic' ? 'NSQ_ERR_INVALID_TOPIC' : 'NSQ_ERR_INVALID_CHANNEL',
      `invalid ${kind} name ${JSON.stringify(value)}: nsq names are 1-64 characters of [.a-zA-Z0-9_-], optionally ending in #ephemeral`,
    );
  }
}

/** An argument that cannot be encoded (a missing IDENTIFY field, a port out of range...). */
export class InvalidArgumentError extends NsqLookupError {
  constructor(message: string) {
    super('NSQ_ERR_INVALID_ARGUMENT', message);
  }
}

/** The byte stream from lookupd broke the framing rules; the connection it came from is unusable. */
export class ProtocolError extends NsqLookupError {
  /** True when the bytes read were an HTTP server's answer: the address is an HTTP port. */
  readonly reachedHttp: boolean;

  constructor(message: string, options?: { cause?: unknown; reachedHttp?: boolean }) {
    super('NSQ_ERR_PROTOCOL', message, options);
    this.reachedHttp = options?.reachedHttp ?? false;
  }
}

/**
 * An `E_*` answer from nsqlookupd, such as `E_BAD_TOPIC REGISTER topic name 'a b' is not valid`.
 * nsqlookupd closes the connection after every one of these.
 */
export class LookupdError extends NsqLookupError {
  /** The text after the code, e.g. `REGISTER topic name '' is not valid`; may be empty. */
  readonly description: string;

  constructor(code: LookupdErrorCode, description: string, options?: { cause?: unknown; address?: string }) {
    const where = options?.address ? `lookupd ${options.address} answered ` : '';
    super(code, `${where}${description ? `${code} ${description}` : code}`, options);
    this.description = description;
  }

  /** Parses an `E_<CODE>[ description]` response body; null when the body is not an error. */
  static parse(body: string | Buffer, address?: string): LookupdError | null {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const match = /^(E_[A-Z0-9_]+)(?: ([\s\S]*))?$/.exec(text);
    if (!match) return null;
    return new LookupdError(
      match[1] as LookupdErrorCode,
      match[2] ?? '',
      address === undefined ? undefined : { address },
    );
  }
}

/** An operation cut short because its owner was closed, such as `FakeProducerFleet.start()` during `close()`. */
export class ClosedError extends NsqLookupError {
  constructor(message: string) {
    super('NSQ_ERR_CLOSED', message);
  }
}

/** A wait that ran past its deadline, such as the demo waiting for a broker to (re)connect. */
export class TimeoutError extends NsqLookupError {
  declare readonly code: 'NSQ_ERR_TIMEOUT';

  constructor(
    message: string,
    /** The deadline that passed, in ms. */
    readonly timeoutMs: number,
  ) {
    super('NSQ_ERR_TIMEOUT', message);
  }
}

/**
 * Something that is not an `Error` was thrown (`throw 'text'`, say): wrapped so that whoever reports it
 * gets a code, a message and a stack. The thrown value is the `cause`.
 */
export class ThrownValueError extends NsqLookupError {
  declare readonly code: 'NSQ_ERR_THROWN_VALUE';

  constructor(value: unknown) {
    let text: string;
    try {
      text = String(value);
    } catch {
      text = `a ${typeof value} that cannot be shown`; // Object.create(null) has no toString
    }
    super('NSQ_ERR_THROWN_VALUE', `a non-Error value was thrown: ${text}`, { cause: value });
  }

  /** `error` itself when it is an Error, else wrapped. */
  static wrap(error: unknown): Error {
    return error instanceof Error ? error : new ThrownValueError(error);
  }
}

/** A request to lookupd's HTTP API that failed: no answer, an error status, or a body that is not JSON. */
export class LookupdHttpError extends NsqLookupError {
  constructor(
    /** The full URL requested, query included. */
    readonly url: string,
    /** The HTTP status lookupd answered; undefined when no answer came (refused, reset, timed out). */
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown; code?: 'NSQ_ERR_LOOKUPD_HTTP' | 'NSQ_ERR_LOOKUPD_HTTP_BODY_TOO_LARGE' },
  ) {
    super(options?.code ?? 'NSQ_ERR_LOOKUPD_HTTP', `${url}: ${message}`, options);
  }
}

/**
 * A lookupd HTTP answer whose body (declared or received) is larger than the client reads; the
 * connection is dropped before more than `limit` bytes are held.
 */
export class LookupdHttpBodyTooLargeError extends LookupdHttpError {
  constructor(
    url: string,
    status: number,
    /** The limit, in bytes. */
    readonly limit: number,
    /** The client option that sets it. */
    readonly option: string,
    /** The Content-Length lookupd declared, when that is how the body was found too large. */
    readonly declared?: number,
  ) {
    super(
      url,
      status,
      `response body ${declared === undefined ? 'is' : `declares ${declared} bytes,`} larger than ` +
        `${option} (${limit} bytes); raise the client's ${option} option to read it`,
      { code: 'NSQ_ERR_LOOKUPD_HTTP_BODY_TOO_LARGE' },
    );
  }
}

/** The code of {@link HttpStatusError}. */
export type HttpStatusErrorCode = 'NSQ_ERR_HTTP_STATUS';

/**
 * A request the embedded lookupd's (or the broker's) HTTP API refuses: the status it answers and nsq's
 * message for it (`MISSING_ARG_TOPIC`, `TOPIC_NOT_FOUND`...), which goes out as `{"message":"..."}`.
 * Internal to the server: thrown by an endpoint, caught by its router, never handed to a caller.
 */
export class HttpStatusError extends NsqLookupError {
  declare readonly code: HttpStatusErrorCode;

  constructor(
    readonly status: number,
    message: string,
  ) {
    super('NSQ_ERR_HTTP_STATUS', message);
  }
}

/**
 * Failures of one connection to a lookupd. `code` says which:
 * - `NSQ_ERR_CONNECT`: the TCP connection could not be made (refused, unreachable, DNS...).
 * - `NSQ_ERR_CONNECT_TIMEOUT`: no TCP connection within the dial timeout.
 * - `NSQ_ERR_READ_TIMEOUT`: an answer did not arrive whole within the read timeout.
 * - `NSQ_ERR_CONNECTION_CLOSED`: lookupd hung up (after an `E_*` answer, say), or the caller dropped it.
 * - `NSQ_ERR_CONNECTION_RESET`: the connection was reset or broke while writing (`ECONNRESET`, `EPIPE`).
 * - `NSQ_ERR_PROTOCOL`: lookupd's bytes broke the framing rules, or its IDENTIFY answer was malformed.
 * - `NSQ_ERR_CONNECT_CALLBACK`: the connect callback threw or rejected; what it threw is the `cause`.
 * - `NSQ_ERR_PEER_CLOSED`: the peer was closed (or removed from its loop); commands waiting then, or
 *   issued afterwards, reject with it.
 */
export type ConnectionErrorCode =
  | 'NSQ_ERR_CONNECT'
  | 'NSQ_ERR_CONNECT_TIMEOUT'
  | 'NSQ_ERR_READ_TIMEOUT'
  | 'NSQ_ERR_CONNECTION_CLOSED'
  | 'NSQ_ERR_CONNECTION_RESET'
  | 'NSQ_ERR_PROTOCOL'
  | 'NSQ_ERR_CONNECT_CALLBACK'
  | 'NSQ_ERR_PEER_CLOSED';

/**
 * One connection to a lookupd failed, or a command could not be answered on it; `code` (a
 * {@link ConnectionErrorCode}) says how, `address` says which lookupd.
 */
export class ConnectionError extends NsqLookupError {
  constructor(
    code: ConnectionErrorCode,
    /**
     * The lookupd's `host:port`, as given: its TCP address, or its HTTP address for a heartbeat's HTTP check.
     */
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, `lookupd ${address}: ${message}`, options);
  }
}

/** Raised by {@link Registry.load} for a file that is not a valid registry snapshot. */
export class RegistryFileError extends NsqLookupError {
  constructor(
    /** The file that could not be loaded (`<buffer>` for {@link Registry.decode} without a path). */
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NSQ_ERR_REGISTRY_FILE', `registry file ${path}: ${message}`, options);
  }
}

/**
 * A snapshot that cannot be read or is not valid: code `NSQ_ERR_SNAPSHOT_FILE`; the message says what
 * is wrong and where.
 */
export class SnapshotFileError extends NsqLookupError {
  constructor(
    /** The file (`<buffer>` for {@link decodeSnapshot} without a path). */
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NSQ_ERR_SNAPSHOT_FILE', `snapshot ${path}: ${message}`, options);
  }
}

/** Failures of an HTTP `/ping` check that reached the server. */
export class HttpCheckError extends NsqLookupError {
  constructor(
    /** The lookupd's HTTP `host:port` that was checked. */
    readonly address: string,
    /**
     * The HTTP status it answered: anything but 200, or 200 with a body other than `OK`; 0 if none was read.
     */
    readonly status: number,
    /**
     * The start of the body it answered (about the first four kibibytes); the message quotes its first
     * hundred characters.
     */
    readonly body: string,
  ) {
    super(
      'NSQ_ERR_HTTP_CHECK',
      `lookupd http ${address}: GET /ping answered ${status} ${JSON.stringify(body.slice(0, 100))}, expected 200 "OK"`,
    );
  }
}

/**
 * An `E_*` answer of the broker's V2 protocol (nsqd's), such as `E_INVALID cannot SUB in current state`.
 * Fatal ones close the connection after they are sent, as nsqd's FatalClientErr; the others
 * (E_FIN_FAILED, E_REQ_FAILED, E_TOUCH_FAILED) leave it open.
 */
export class V2Error extends NsqLookupError {
  declare readonly code: LookupdErrorCode;

  constructor(
    code: LookupdErrorCode,
    /** The text after the code, worded as nsqd's; may be empty. */
    readonly description: string,
    /** Whether the broker closes the connection after sending it. */
    readonly fatal = true,
  ) {
    super(code, description ? `${code} ${description}` : code);
  }
}

/**
 * A broker's topic or channel has no room for what was published (`memQueueSize` messages held): code
 * `NSQ_ERR_QUEUE_FULL`. Nothing was queued. The V2 protocol answers it with `E_PUB_FAILED` (or MPUB's,
 * DPUB's), HTTP with 503 `QUEUE_FULL`.
 */
export class QueueFullError extends NsqLookupError {
  declare readonly code: 'NSQ_ERR_QUEUE_FULL';

  constructor(message: string) {
    super('NSQ_ERR_QUEUE_FULL', message);
  }
}

/**
 * FIN, REQ or TOUCH named a message that is not in flight on that channel, or is in flight to another
 * client: code `NSQ_ERR_NOT_IN_FLIGHT`; the message is nsqd's reason (`ID not in flight`, `client does
 * not own message`).
 */
export class NotInFlightError extends NsqLookupError {
  declare readonly code: 'NSQ_ERR_NOT_IN_FLIGHT';

  constructor(message: string) {
    super('NSQ_ERR_NOT_IN_FLIGHT', message);
  }
}

/**
 * From a fake-producer fleet spread over worker processes: a worker that failed or exited
 * (`NSQ_ERR_FLEET_WORKER`), or an error raised in a worker and forwarded with its own code and
 * message.
 */
export class FleetWorkerError extends NsqLookupError {
  constructor(
    message: string,
    /** The worker's process id. */
    readonly pid: number | undefined,
    code: ErrorCode = 'NSQ_ERR_FLEET_WORKER',
  ) {
    super(code, message);
  }
}
