/**
 * PINGs one connection every `intervalMs`, in the shape of nats.js' Heartbeat: it owns its one timer,
 * start() re-arms it, cancel() clears it, and a tick that comes while a PING is still out sends no
 * second one (the connection's deadline fails a PING that is never answered, which ends the
 * connection and, through it, this pinger).
 */
export class Pinger {
  #timer: NodeJS.Timeout | undefined;
  #outstanding = false;

  constructor(
    readonly intervalMs: number,
    private readonly ping: () => Promise<void>,
    private readonly onAnswer: (rttMs: number) => void,
  ) {}

  start(): void {
    this.cancel();
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    this.#timer.unref();
  }

  cancel(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#outstanding = false;
  }

  #tick(): void {
    if (this.#outstanding) return;
    this.#outstanding = true;
    const timer = this.#timer;
    const started = performance.now();
    this.ping().then(
      () => {
        if (this.#timer !== timer) return;
        this.#outstanding = false;
        this.onAnswer(performance.now() - started);
      },
      () => {
        // The failure is the connection's: whoever owns it has already been told.
        if (this.#timer === timer) this.#outstanding = false;
      },
    );
  }
}
