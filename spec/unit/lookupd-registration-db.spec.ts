import { strict as assert } from 'node:assert';
import {
  filterByActive,
  type PeerInfo,
  type Registration,
  RegistrationDB,
} from '../../lib/lookupd/registration-db.js';

let nextPort = 40000;
function peer(lastUpdate = 0, id = `127.0.0.1:${nextPort++}`): PeerInfo {
  return {
    id,
    remoteAddress: id,
    hostname: 'h',
    broadcastAddress: 'b',
    tcpPort: 4150n,
    httpPort: 4151n,
    version: '1.3.0',
    topologyZone: '',
    topologyRegion: '',
    lastUpdate,
  };
}

const names = (registrations: Registration[]) => registrations.map((r) => r.name).sort();

describe('lookupd RegistrationDB', () => {
  describe('registrations and producers', () => {
    it('adds a producer once per registration and reports whether it was new', () => {
      const db = new RegistrationDB();
      const p = peer();
      assert.equal(db.addProducer('topic', 't1', '', p), true);
      assert.equal(db.addProducer('topic', 't1', '', p), false);
      assert.equal(db.get('topic', 't1', '')!.producers.size, 1);
    });

    it('keeps a registration with no producers left (names outlive producers)', () => {
      const db = new RegistrationDB();
      const p = peer();
      db.addProducer('channel', 't1', 'c1', p);
      const registration = db.get('channel', 't1', 'c1')!;
      assert.deepEqual(db.removeProducer(registration, p.id), { removed: true, left: 0 });
      assert.deepEqual(names(db.findRegistrations('channel', 't1', '*')), ['channel:t1:c1']);
      assert.deepEqual(db.removeProducer(registration, p.id), { removed: false, left: 0 });
    });

    it('counts the producers left after a removal', () => {
      const db = new RegistrationDB();
      const [a, b] = [peer(), peer()];
      db.addProducer('topic', 't', '', a);
      db.addProducer('topic', 't', '', b);
      assert.deepEqual(db.removeProducer(db.get('topic', 't', '')!, a.id), { removed: true, left: 1 });
    });

    it('removeRegistration drops the registration and its producers from every index', () => {
      const db = new RegistrationDB();
      const p = peer();
      db.addProducer('topic', 't1', '', p);
      db.addProducer('channel', 't1', 'c1', p);
      db.removeRegistration(db.get('channel', 't1', 'c1')!);
      assert.deepEqual(names(db.lookupRegistrations(p.id)), ['topic:t1:']);
      assert.deepEqual(db.findRegistrations('channel', 't1', '*'), []);
      db.removeRegistration(db.get('topic', 't1', '')!);
      assert.deepEqual(db.lookupRegistrations(p.id), []);
      assert.equal(db.size, 0);
    });

    it('a removed registration is a no-op for later removals, and re-adding makes a fresh one', () => {
      const db = new RegistrationDB();
      const p = peer();
      db.addProducer('topic', 't1', '', p);
      const old = db.get('topic', 't1', '')!;
      db.removeRegistration(old);
      db.addRegistration('topic', 't1', '');
      assert.deepEqual(db.removeProducer(old, p.id), { removed: false, left: 0 });
      assert.notEqual(db.get('topic', 't1', ''), old);
      assert.equal(db.get('topic', 't1', '')!.producers.size, 0);
    });

    it('a key crafted with the separator does not alias another registration', () => {
      const db = new RegistrationDB();
      db.addRegistration('channel', 'a', 'b');
      assert.equal(db.get('channel', 'a\u0000b', ''), undefined);
      assert.deepEqual(db.findRegistrations('channel', 'a\u0000b', ''), []);
    });
  });

  describe('wildcards', () => {
    function populated() {
      const db = new RegistrationDB();
      const [a, b] = [peer(), peer()];
      db.addProducer('topic', 't1', '', a);
      db.addProducer('channel', 't1', 'c1', a);
      db.addProducer('channel', 't1', 'c2', a);
      db.addProducer('topic', 't2', '', b);
      db.addProducer('channel', 't2', 'c1', b);
      db.addProducer('topic', 't1', '', b);
      db.addProducer('client', '', '', a);
      db.addProducer('client', '', '', b);
      db.addRegistration('topic', 'empty', '');
      return { db, a, b };
    }

    it('`*` as key matches every key of the category', () => {
      const { db } = populated();
      assert.deepEqual(names(db.findRegistrations('topic', '*', '')), [
        'topic:empty:',
        'topic:t1:',
        'topic:t2:',
      ]);
      assert.deepEqual(names(db.findRegistrations('channel', '*', '*')), [
        'channel:t1:c1',
        'channel:t1:c2',
        'channel:t2:c1',
      ]);
      assert.deepEqual(names(db.findRegistrations('channel', '*', 'c1')), ['channel:t1:c1', 'channel:t2:c1']);
    });

    it('`*` as subkey matches every channel of a topic', () => {
      const { db } = populated();
      assert.deepEqual(names(db.findRegistrations('channel', 't1', '*')), ['channel:t1:c1', 'channel:t1:c2']);
      assert.deepEqual(db.findRegistrations('channel', 'missing', '*'), []);
    });

    it('exact finds return at most the one registration', () => {
      const { db } = populated();
      assert.deepEqual(names(db.findRegistrations('topic', 't1', '')), ['topic:t1:']);
      assert.deepEqual(db.findRegistrations('topic', 't1', 'x'), []);
      assert.deepEqual(db.findRegistrations('topic', '', ''), []);
    });

    it('findProducers lists each producer id once across wildcard matches', () => {
      const { db, a, b } = populated();
      assert.deepEqual(
        db
          .findProducers('topic', '*', '')
          .map((p) => p.peer.id)
          .sort(),
        [a.id, b.id].sort(),
      );
      assert.deepEqual(
        db
          .findProducers('channel', '*', 'c1')
          .map((p) => p.peer.id)
          .sort(),
        [a.id, b.id].sort(),
      );
      assert.deepEqual(db.findProducers('topic', 'empty', ''), []);
    });

    it('lookupRegistrations lists exactly what a producer is in', () => {
      const { db, a } = populated();
      assert.deepEqual(names(db.lookupRegistrations(a.id)), [
        'channel:t1:c1',
        'channel:t1:c2',
        'client::',
        'topic:t1:',
      ]);
      assert.deepEqual(db.lookupRegistrations('127.0.0.1:1'), []);
    });
  });

  describe('tombstones and inactivity (injected clock)', () => {
    it('a tombstone lasts less than its lifetime, per registration', () => {
      const db = new RegistrationDB();
      const p = peer();
      db.addProducer('topic', 't1', '', p);
      db.addProducer('topic', 't2', '', p);
      const [producer] = db.findProducers('topic', 't1', '');
      producer!.tombstone(1000);
      assert.equal(producer!.tombstonedAt, 1000);
      assert.equal(producer!.isTombstoned(45_000, 1000), true);
      assert.equal(producer!.isTombstoned(45_000, 45_999), true);
      assert.equal(producer!.isTombstoned(45_000, 46_000), false, 'expires at exactly the lifetime');
      assert.equal(producer!.tombstonedAt, 1000, 'the time itself stays (as /debug shows)');
      assert.equal(producer!.isTombstoned(0, 1000), false, 'a lifetime of 0 never tombstones');
      assert.equal(
        db.findProducers('topic', 't2', '')[0]!.tombstonedAt,
        undefined,
        'the other topic is untouched',
      );
    });

    it('filterByActive drops producers silent for more than the timeout, and tombstoned ones', () => {
      const db = new RegistrationDB();
      const [fresh, stale, buried] = [peer(10_000), peer(0), peer(10_000)];
      for (const p of [fresh, stale, buried]) db.addProducer('topic', 't', '', p);
      const producers = db.findProducers('topic', 't', '');
      producers.find((p) => p.peer === buried)!.tombstone(10_000);
      const ids = (now: number, lifetime = 45_000) =>
        filterByActive(producers, 300_000, lifetime, now).map((p) => p.peer.id);
      assert.deepEqual(ids(20_000), [fresh.id, stale.id], 'tombstoned');
      assert.deepEqual(ids(55_000), [fresh.id, stale.id, buried.id], 'the tombstone expired');
      assert.deepEqual(
        ids(20_000, 0),
        [fresh.id, stale.id, buried.id],
        'no tombstone lifetime, as /nodes uses',
      );
      assert.deepEqual(ids(300_000), [fresh.id, stale.id, buried.id], 'exactly the timeout is still active');
      assert.deepEqual(ids(300_001), [fresh.id, buried.id], 'silent for longer than the timeout');
      stale.lastUpdate = 300_000;
      assert.deepEqual(ids(300_001), [fresh.id, stale.id, buried.id], 'a PING (lastUpdate) revives it');
    });
  });

  describe('scale', () => {
    it('10,000 producers x 10 registrations: lookups and disconnects cost what they touch', function () {
      this.timeout(20_000);
      const db = new RegistrationDB();
      const peers: PeerInfo[] = [];
      const started = performance.now();
      for (let i = 0; i < 10_000; i++) {
        const p = peer(0, `10.0.${i >> 8}.${i & 255}:4150`);
        peers.push(p);
        db.addProducer('client', '', '', p);
        for (let t = 0; t < 5; t++) {
          db.addProducer('channel', `topic-${(i + t) % 100}`, `channel-${t}`, p);
          db.addProducer('topic', `topic-${(i + t) % 100}`, '', p);
        }
      }
      const built = performance.now() - started;
      assert.equal(db.lookupRegistrations(peers[0]!.id).length, 11);

      let lookupsStarted = performance.now();
      for (let i = 0; i < 1000; i++) {
        assert.equal(db.findProducers('topic', `topic-${i % 100}`, '').length, 500);
        assert.equal(db.findRegistrations('channel', `topic-${i % 100}`, '*').length, 5);
      }
      const lookups = performance.now() - lookupsStarted;

      lookupsStarted = performance.now();
      for (const p of peers.slice(0, 5000)) {
        for (const registration of db.lookupRegistrations(p.id)) db.removeProducer(registration, p.id);
      }
      const removals = performance.now() - lookupsStarted;
      assert.equal(db.findProducers('client', '', '').length, 5000);
      assert.equal(db.findProducers('topic', '*', '').length, 5000);
      // Generous bounds, orders of magnitude above the measured times: a full scan per call
      // (as Go's map does) would take seconds here.
      assert.ok(built < 5000, `building took ${built.toFixed(0)} ms`);
      assert.ok(lookups < 2000, `1000 lookups took ${lookups.toFixed(0)} ms`);
      assert.ok(removals < 2000, `5000 disconnects took ${removals.toFixed(0)} ms`);
    });
  });
});
