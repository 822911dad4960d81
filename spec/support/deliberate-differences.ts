/**
 * Where the embedded server answers what nsqlookupd waits on forever or dies of. It tracks, per
 * connection, only the framing of what the client wrote (magic, lines, IDENTIFY size and body),
 * consuming one recorded answer per completed command, and reports the first point where the
 * embedded server refuses:
 *   - an IDENTIFY size that is negative or above maxIdentifyBodyBytes (nsqlookupd panics on a
 *     negative one and allocates the rest): `E_BAD_BODY IDENTIFY failed to read body size`;
 *   - a line longer than maxLineBytes (nsqlookupd buffers without bound): `E_INVALID line longer
 *     than ... bytes`.
 */
export class FramingModel {
  #phase: 'magic' | 'line' | 'size' | 'body' | 'closed' = 'magic';
  #magic: number[] = [];
  #lineLength = 0;
  #lineHead: number[] = [];
  #size: number[] = [];
  #bodyLeft = 0;
  #identified = false;

  constructor(
    readonly maxLineBytes: number,
    readonly maxIdentifyBodyBytes: number,
  ) {}

  /**
   * Feeds one write. `answers` are the frames nsqlookupd sent during that step, consumed as commands
   * complete. Returns the refusal, if any, with how many answers came before it.
   */
  feed(bytes: Buffer, answers: Buffer[]): Refusal | undefined {
    let used = 0;
    const answer = () => {
      const body = answers[used++];
      if (body === undefined) return;
      if (body.toString('latin1').startsWith('E_')) this.#phase = 'closed';
      return body;
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      switch (this.#phase) {
        case 'closed':
          return undefined;
        case 'magic':
          this.#magic.push(b);
          if (this.#magic.length === 4) {
            this.#phase = Buffer.from(this.#magic).toString('latin1') === '  V1' ? 'line' : 'closed';
          }
          break;
        case 'line':
          if (b !== 0x0a) {
            this.#lineLength++;
            if (this.#lineHead.length < 64) this.#lineHead.push(b);
            if (this.#lineLength > this.maxLineBytes) {
              return {
                answersBefore: used,
                error: `E_INVALID line longer than ${this.maxLineBytes} bytes`,
                reason: 'line',
              };
            }
            break;
          }
          {
            const command = goTrimAscii(Buffer.from(this.#lineHead).toString('latin1')).split(' ')[0];
            this.#lineLength = 0;
            this.#lineHead = [];
            if (command === 'IDENTIFY' && !this.#identified) this.#phase = 'size';
            else answer();
          }
          break;
        case 'size':
          this.#size.push(b);
          if (this.#size.length === 4) {
            const size = Buffer.from(this.#size).readInt32BE(0);
            this.#size = [];
            if (size < 0 || size > this.maxIdentifyBodyBytes) {
              return {
                answersBefore: used,
                error: 'E_BAD_BODY IDENTIFY failed to read body size',
                reason: 'size',
                size,
              };
            }
            this.#bodyLeft = size;
            this.#phase = 'body';
            if (size === 0) this.#endBody(answer());
          }
          break;
        case 'body':
          this.#bodyLeft--;
          if (this.#bodyLeft === 0) this.#endBody(answer());
          break;
      }
    }
    return undefined;
  }

  #endBody(body: Buffer | undefined): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'line';
    if (body !== undefined) this.#identified = true;
  }
}

/** Where and why the embedded server refuses a stream nsqlookupd would wait on or die of. */
export interface Refusal {
  /** Answers nsqlookupd gave, in the same write, before that point. */
  answersBefore: number;
  /** The embedded server's error answer. */
  error: string;
  reason: 'line' | 'size';
  /** The refused IDENTIFY size (negative ones crash nsqlookupd). */
  size?: number;
}

/** Go's TrimSpace, enough to find a command word (ASCII spaces, NEL and NBSP). */
function goTrimAscii(line: string): string {
  return line.replace(/^(?:[\t\n\v\f\r ]|\xc2[\x85\xa0])+|(?:[\t\n\v\f\r ]|\xc2[\x85\xa0])+$/g, '');
}
