import { createHook } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';

/** Resource types that would outlive a leaky close(): timers (ref'd or not), sockets, dials, HTTP requests. */
const TRACKED = new Set(['Timeout', 'TCPWRAP', 'TCPCONNECTWRAP', 'HTTPCLIENTREQUEST', 'HTTPINCOMINGMESSAGE']);

/** The package's own source directory: resources whose creation passed through it are the library's. */
export const LIB_DIR = fileURLToPath(new URL('../../lib/', import.meta.url));

export interface ResourceTracker {
  /**
   * Resources created since tracking began and not destroyed yet, each as its type and the first
   * frames that created it. With `createdIn`, only those whose creation passed through that path
   * (e.g. {@link LIB_DIR}), so that a server's own sockets, still open, do not count. Keeps tracking.
   */
  live(options?: { createdIn?: string }): Promise<string[]>;
  /** {@link live}, then stops tracking. */
  stop(options?: { createdIn?: string }): Promise<string[]>;
}

/**
 * Records the timers and sockets created from now on (unref'd ones included, which
 * `process.getActiveResourcesInfo()` would miss). Servers created inside the window must be closed
 * before `stop()` unless `createdIn` leaves their sockets out.
 */
export function trackResources(): ResourceTracker {
  const live = new Map<number, { type: string; stack: string }>();
  const hook = createHook({
    init(asyncId, type) {
      if (!TRACKED.has(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      // Not ours: mocha's per-test timeout timer (started when a test awaits), and the process-wide
      // 1 s cache of the HTTP Date header (utcDate in node:internal/http).
      if (stack.includes('/node_modules/mocha/') || stack.includes('utcDate')) return;
      live.set(asyncId, { type, stack });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  hook.enable();
  const list = async (options: { createdIn?: string } = {}) => {
    // Destroy hooks are delivered asynchronously, after the handle's close callback.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    const { createdIn } = options;
    return [...live.values()]
      .filter((r) => createdIn === undefined || r.stack.includes(createdIn))
      .map((r) => `${r.type} ${creator(r.stack)}`.trim());
  };
  return {
    live: list,
    async stop(options) {
      const result = await list(options);
      hook.disable();
      return result;
    },
  };
}

/** The first frames outside Node's internals and this file. */
function creator(stack: string): string {
  return stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line) && !line.includes('node:') && !line.includes('leak-check'))
    .slice(0, 4)
    .map((line) => line.trim().replace(/^at /, ''))
    .join(' < ');
}
