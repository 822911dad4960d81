/**
 * Mocha root hooks, loaded through .mocharc.json `require`.
 *
 * - An unhandled promise rejection fails the run. Mocha on its own only re-emits it on `process`, where
 *   nobody listens, so it would pass silently. Rethrown here, it becomes an uncaught exception, which
 *   mocha reports as a failure of the test (or hook) that was running.
 * - Without `--exit`, a leaked socket or timer keeps mocha from exiting: the run would hang until CI
 *   kills it. After the last test an unref'd watchdog waits; if the process is still alive then, it
 *   prints what keeps it alive and exits non-zero. A clean run exits before the watchdog fires.
 */

const EXIT_WATCHDOG_MS = 10_000;

process.on('unhandledRejection', (reason) => {
  // Mocha's own rejections (ERR_MOCHA_*) are mocha's to report.
  if (
    typeof (reason as { code?: unknown } | null)?.code === 'string' &&
    /^ERR_MOCHA_/.test((reason as { code: string }).code)
  ) {
    return;
  }
  const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
  throw new Error(`unhandled promise rejection: ${text}`, { cause: reason });
});

export const mochaHooks = {
  afterAll(): void {
    const watchdog = setTimeout(() => {
      process.stderr.write(
        `mocha has not exited ${EXIT_WATCHDOG_MS} ms after the last test; still active: ` +
          `${JSON.stringify(process.getActiveResourcesInfo())}\n`,
      );
      // Mocha's own 'exit' listener sets the exit code to the failure count; this one runs after it.
      process.on('exit', () => {
        process.exitCode = 1;
      });
      process.exit(1);
    }, EXIT_WATCHDOG_MS);
    watchdog.unref();
  },
};
