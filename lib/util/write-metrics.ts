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
