import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** Answers a scrape: the registry's text exposition, or a 500 naming what failed. */
export function writeMetrics(registry: Registry, response: ServerResponse): void {
  registry.metrics().then(
    (text) => {
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(text);
    },
    (error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(String(error));
    },
  );
}

/**
 * The names one metrics module gives out on a registry that may be the application's: dispose() removes
 * exactly these, never clear()s the registry.
 */
export class MetricNames {
  readonly #names: string[] = [];

  constructor(private readonly prefix: string) {}

  /** `prefix` + `suffix`, remembered for {@link removeFrom}. */
  name(suffix: string): string {
    const name = `${this.prefix}${suffix}`;
    this.#names.push(name);
    return name;
  }

  removeFrom(registry: Registry): void {
    for (const name of this.#names) registry.removeSingleMetric(name);
  }
}
