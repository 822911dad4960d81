import type { IdentifyInfo } from '../protocol/encoder.js';
import { encodeRegistrations } from '../protocol/encoder.js';
import type { LookupdInfo } from '../protocol/response.js';
import type { Registry } from '../registry/registry.js';
import type { SlotHost } from './peer-slot.js';
import type { PeerStatusEvent } from './types.js';

/** What a slot tells its loop, through the one callback a {@link LoopHost} holds. */
export type SlotReport =
  | { kind: 'status'; event: PeerStatusEvent }
  | { kind: 'connected'; address: string; info: LookupdInfo }
  | { kind: 'disconnected' | 'failed'; address: string; error: Error }
  | { kind: 'pinged'; address: string; rttMs: number };

/** The loop as its slots see it: the identity and registry to send, and where to report. */
export class LoopHost implements SlotHost {
  constructor(
    readonly identity: IdentifyInfo,
    private readonly registry: Registry,
    private readonly report: (report: SlotReport) => void,
  ) {}

  registrations(): { bytes: Buffer; count: number } {
    return encodeRegistrations(this.registry.registrations());
  }

  status(event: PeerStatusEvent): void {
    this.report({ kind: 'status', event });
  }

  connected(address: string, info: LookupdInfo): void {
    this.report({ kind: 'connected', address, info });
  }

  disconnected(address: string, error: Error): void {
    this.report({ kind: 'disconnected', address, error });
  }

  failed(address: string, error: Error): void {
    this.report({ kind: 'failed', address, error });
  }

  pinged(address: string, rttMs: number): void {
    this.report({ kind: 'pinged', address, rttMs });
  }
}
