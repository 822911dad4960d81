/**
 * The one switch between the suite a developer runs often and the whole suite CI runs:
 * NSQD_LOOKUP_FULL=1 (set by .ci/run) turns on the slow specs and makes a missing real-server binary
 * a failure instead of a skip. Without it, `npm test` stays fast and prints what it left out.
 */
export const FULL_SUITE = process.env.NSQD_LOOKUP_FULL === '1';

const noted = new Set<string>();

/** Prints a note once per distinct text, on stderr so it stands out from the spec reporter. */
export function noteOnce(text: string): void {
  if (noted.has(text)) return;
  noted.add(text);
  process.stderr.write(`note: ${text}\n`);
}

/** `describe` for a slow suite: it runs with NSQD_LOOKUP_FULL=1 and is listed as pending otherwise. */
export function describeSlow(title: string, body: (this: Mocha.Suite) => void): void {
  if (FULL_SUITE) {
    describe(title, body);
    return;
  }
  noteOnce('slow specs are skipped; NSQD_LOOKUP_FULL=1 runs them (with the real servers, see the README)');
  describe.skip(title, body);
}

/** `it` for a slow case inside a fast suite: it runs with NSQD_LOOKUP_FULL=1 and is pending otherwise. */
export function itSlow(title: string, body: Mocha.AsyncFunc): void {
  if (FULL_SUITE) {
    it(title, body);
    return;
  }
  noteOnce('slow specs are skipped; NSQD_LOOKUP_FULL=1 runs them (with the real servers, see the README)');
  it.skip(title, body);
}
