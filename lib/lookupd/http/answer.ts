import type { ServerResponse } from 'node:http';
import { HttpStatusError } from '../../errors.js';
import { goString } from '../../protocol/encoder.js';
import type { LookupdLogFn } from '../options.js';

/**
 * How nsqlookupd's answers leave the server: nsq's V1 envelope (JSON bodies, `{"message":"..."}`
 * errors, the `X-NSQ-Content-Type: nsq; version=1.0` header) and the writer that sends a large
 * answer in slices, framed the way net/http frames it.
 */

/**
 * Yielded by a body generator after a slice's worth of work that wrote nothing (sorting, say), so
 * that the writer lets the event loop turn.
 */
export const PAUSE = Symbol('pause');
export type BodyPiece = string | typeof PAUSE;
/** An answer rendered piece by piece, so that a large one is written in slices. */
export type BodyPieces = Generator<BodyPiece, void, undefined>;

export const JSON_TYPE = 'application/json; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';
// Spelled as Go's canonical header keys write it.
const NSQ_TYPE_HEADER = 'X-Nsq-Content-Type';
const NSQ_TYPE = 'nsq; version=1.0';

// net/http buffers this much of a handler's answer before it commits to chunked encoding: an answer
// that fits goes out with a Content-Length, a longer one chunked (as nsqlookupd's large answers do).
const GO_CHUNKING_THRESHOLD = 2048;
// Text rendered between two turns of the event loop: about a millisecond of work, so that a
// producer's PING never waits long behind the largest answer (a 30 MB /debug is ~500 slices).
const SLICE_CHARS = 64 * 1024;

export function sendV1(res: ServerResponse, status: number, json: string | undefined): void {
  const body = json === undefined ? undefined : Buffer.from(json, 'utf8');
  if (body) res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader(NSQ_TYPE_HEADER, NSQ_TYPE);
  res.statusCode = status;
  res.end(body);
}

export function sendV1Error(res: ServerResponse, status: number, message: string): void {
  sendV1(res, status, `{"message":${goString(message)}}`);
}

/** Answers a handler's error as nsq's V1 envelope does; returns the status sent. */
export function sendFailure(log: LookupdLogFn, res: ServerResponse, error: unknown): number {
  if (error instanceof HttpStatusError) {
    sendV1Error(res, error.status, error.message);
    return error.status;
  }
  log('error', 'panic in HTTP handler - %s', error instanceof Error ? error.message : String(error));
  sendV1Error(res, 500, 'INTERNAL_ERROR');
  return 500;
}

/**
 * Writes a 200 answer rendered in slices: up to SLICE_CHARS of text per turn of the event loop, the
 * next slice after a setImmediate, or after 'drain' when the client reads slower than it is written,
 * so that neither the loop nor memory is held by one large answer. Like net/http, it sends an answer
 * of at most GO_CHUNKING_THRESHOLD bytes with a Content-Length and a longer one chunked.
 */
export class SlicedAnswer {
  readonly #log: LookupdLogFn;
  readonly #res: ServerResponse;
  readonly #pieces: BodyPieces;
  readonly #logStatus: (status: number) => void;
  #pending = '';
  #committed = false;
  #stopped = false;
  #immediate: NodeJS.Immediate | undefined;

  constructor(
    log: LookupdLogFn,
    res: ServerResponse,
    pieces: BodyPieces,
    logStatus: (status: number) => void,
  ) {
    this.#log = log;
    this.#res = res;
    this.#pieces = pieces;
    this.#logStatus = logStatus;
  }
  start(): void {
    // 'close' comes after the last byte or when the client or close() ends the connection early.
    this.#res.once('close', () => this.#stop());
    this.#slice();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.#pieces.return();
  }

  readonly #next = () => {
    this.#immediate = undefined;
    this.#slice();
  };

  // 'drain' can come from a write that completed at once, on the same turn: wait for the next one.
  readonly #afterDrain = () => {
    if (!this.#stopped) this.#immediate = setImmediate(this.#next);
  };

  #slice(): void {
    if (this.#stopped) return;
    let done = false;
    try {
      for (;;) {
        const piece = this.#pieces.next();
        if (piece.done) {
          done = true;
          break;
        }
        if (piece.value === PAUSE) break;
        this.#pending += piece.value;
        if (this.#pending.length >= SLICE_CHARS) break;
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    const res = this.#res;
    if (!this.#committed) {
      // Until the answer outgrows net/http's buffer, it may still go out whole, with its length.
      const small =
        this.#pending.length <= GO_CHUNKING_THRESHOLD &&
        Buffer.byteLength(this.#pending, 'utf8') <= GO_CHUNKING_THRESHOLD;
      if (small && done) {
        this.#stopped = true;
        sendV1(res, 200, this.#pending);
        this.#logStatus(200);
        return;
      }
      if (!small) {
        this.#committed = true;
        res.statusCode = 200;
        res.setHeader('Content-Type', JSON_TYPE);
        res.setHeader(NSQ_TYPE_HEADER, NSQ_TYPE);
        this.#logStatus(200);
      }
    }
    let flowing = true;
    if (this.#committed && this.#pending !== '') {
      flowing = res.write(Buffer.from(this.#pending, 'utf8'));
      this.#pending = '';
    }
    if (done) {
      this.#stopped = true;
      res.end();
    } else if (flowing) {
      this.#immediate = setImmediate(this.#next);
    } else {
      res.once('drain', this.#afterDrain);
    }
  }

  #fail(error: unknown): void {
    if (!this.#committed) {
      this.#stopped = true;
      this.#logStatus(sendFailure(this.#log, this.#res, error));
      return;
    }
    // The status is out already: all that is left is to cut the answer short.
    this.#log('error', 'panic in HTTP handler - %s', error instanceof Error ? error.message : String(error));
    this.#stop();
    this.#res.destroy();
  }
}
