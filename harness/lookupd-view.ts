import type { Registry } from '../lib/registry/registry.js';

/**
 * What one lookupd holds for one producer, read from its HTTP `/debug` (every registration with its
 * producers), as a sorted list of `topic:t` and `channel:t:c` keys.
 */
export async function producerRegistrations(
  httpAddress: string,
  producer: { broadcastAddress: string; tcpPort: number },
): Promise<string[]> {
  const response = await fetch(`http://${httpAddress}/debug`);
  if (response.status !== 200) throw new Error(`GET /debug on ${httpAddress}: ${response.status}`);
  const db = (await response.json()) as Record<
    string,
    Array<{ broadcast_address: string; tcp_port: number }>
  >;
  const keys: string[] = [];
  for (const [key, producers] of Object.entries(db)) {
    const [category, topic, channel] = key.split(':');
    if (category === 'client') continue;
    if (
      !producers.some(
        (p) => p.broadcast_address === producer.broadcastAddress && p.tcp_port === producer.tcpPort,
      )
    ) {
      continue;
    }
    keys.push(category === 'topic' ? `topic:${topic}` : `channel:${topic}:${channel}`);
  }
  return keys.sort();
}

/** The keys {@link producerRegistrations} should return for a producer announcing `registry`. */
export function expectedRegistrations(registry: Registry): string[] {
  const keys: string[] = [];
  for (const topic of registry.topics()) {
    keys.push(`topic:${topic}`);
    for (const channel of registry.channels(topic)) keys.push(`channel:${topic}:${channel}`);
  }
  return keys.sort();
}

/** Whether the producer appears in `/nodes` at all. */
export async function isListedProducer(
  httpAddress: string,
  producer: { broadcastAddress: string; tcpPort: number },
): Promise<boolean> {
  const response = await fetch(`http://${httpAddress}/nodes`);
  const body = (await response.json()) as {
    producers: Array<{ broadcast_address: string; tcp_port: number }>;
  };
  return body.producers.some(
    (p) => p.broadcast_address === producer.broadcastAddress && p.tcp_port === producer.tcpPort,
  );
}
