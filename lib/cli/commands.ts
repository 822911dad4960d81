import type { CommandMain } from './command.js';

/** Subcommands, loaded on demand so that `--help` does not pay for every module. */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  broker: {
    summary: 'a small in-memory nsqd (V2 protocol, HTTP API) registering with lookupd (nsqd flags)',
    load: async () => (await import('./broker.js')).default,
  },
  demo: {
    summary: 'a broker registering with an embedded lookupd, step by step',
    load: async () => (await import('./demo.js')).default,
  },
  'fake-producers': {
    summary: 'simulate many nsqds registering with lookupd',
    load: async () => (await import('./fake-producers.js')).default,
  },
  heartbeat: {
    summary: 'PING lookupds (and check HTTP /ping): live RTT, outages, monitoring exit codes',
    load: async () => (await import('./heartbeat.js')).default,
  },
  status: {
    summary: 'registration health from the lookupd side: producers, ghosts, tombstones, disagreements',
    load: async () => (await import('./status.js')).default,
  },
  snapshot: {
    summary: "save a lookupd's topology, replay it elsewhere, show it",
    load: async () => (await import('./snapshot.js')).default,
  },
  lookupd: {
    summary: 'run the embedded nsqlookupd-compatible server (nsqlookupd v1.3.0 flags and answers)',
    load: async () => (await import('./lookupd.js')).default,
  },
};
