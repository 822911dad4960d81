/**
 * The real nsqadmin (v1.3.0), pointed at a lookupd only, browses a fleet of 20 fake nsqds and deletes
 * a topic across it. nsqadmin finds the fakes through lookupd's /lookup and /nodes, names each one
 * `broadcast_address:http_port`, then calls their nsqd HTTP API (`/stats?format=json`,
 * `/topic/delete`) itself; any answer it cannot decode shows up in its `message` field or as a 502.
 * Runs against every lookupd in LOOKUPD_TARGETS; skipped (with the oracle note) without NSQADMIN_BIN.
 */
import assert from 'node:assert/strict';
import { NSQADMIN_BIN, startRealNsqadmin } from '../../harness/oracle.js';
import { LOOKUPD_TARGETS, type RunningLookupd } from '../../harness/targets.js';
import type { Broker } from '../../lib/broker/index.js';
import { startFakeProducers } from '../../lib/tools/fake-producers.js';
import { joinHostPort, splitHostPort } from '../../lib/util/address.js';
import { useCleanup, useLeakChecks } from '../support/harness.js';
import { getJson, httpCall } from '../support/http.js';
import { eventually } from '../support/wait.js';

const FLEET_SIZE = 20;
const TOPIC = 'topic-0';
const CHANNEL = 'channel-0';

/** The fleet: every fake serves TOPIC with CHANNEL and registers with `lookupd`. */
async function startFakes(
  lookupd: RunningLookupd,
  count: number,
): Promise<{ brokers: Broker[]; close(): Promise<void> }> {
  // topic-0 / channel-0 are the fleet's defaults.
  const fleet = await startFakeProducers({ addresses: [lookupd.tcpAddress], producers: count });
  const brokers = Array.from({ length: count }, (_, i) => fleet.broker(i)!);
  return { brokers, close: () => fleet.close() };
}

/** How nsqadmin names a node: the producer's HTTP address as lookupd announces it. */
function nodeName(broker: Broker): string {
  return joinHostPort(broker.broadcastAddress, splitHostPort(broker.httpAddress).port);
}

/** lookupd's /debug: every registration key (`topic:t:`, `channel:t:c`) with its producers. */
function lookupdDebug(lookupd: RunningLookupd): Promise<Record<string, { tcp_port: number }[]>> {
  return getJson(lookupd.httpAddress, '/debug');
}

interface NodeTopicStats {
  node: string;
  hostname: string;
  topic_name: string;
  channels: { channel_name: string; node: string }[];
}

interface AdminTopic {
  topic_name: string;
  nodes: NodeTopicStats[];
  channels: { channel_name: string }[];
  message: string;
}

interface AdminChannel {
  channel_name: string;
  nodes: { node: string }[];
  message: string;
}

interface AdminNode {
  node: string;
  topics: NodeTopicStats[];
  message: string;
}

for (const target of LOOKUPD_TARGETS) {
  (NSQADMIN_BIN ? describe : describe.skip)(
    `nsqadmin over ${FLEET_SIZE} fake nsqds, through the ${target.name}`,
    function () {
      this.timeout(30_000);
      const cleanup = useCleanup();
      useLeakChecks(cleanup);
      let lookupd: RunningLookupd;
      let brokers: Broker[];
      let admin: string;

      beforeEach(async () => {
        lookupd = await target.start();
        cleanup(() => lookupd.close());
        const fakes = await startFakes(lookupd, FLEET_SIZE);
        cleanup(() => fakes.close());
        brokers = fakes.brokers;
        const nsqadmin = await startRealNsqadmin({ lookupdHttpAddresses: [lookupd.httpAddress] });
        cleanup(() => nsqadmin.close());
        admin = nsqadmin.httpAddress;

        // Both registrations of every fake, so none is still on its way when a test deletes the topic.
        const ports = brokers.map((broker) => splitHostPort(broker.tcpAddress).port).sort((a, b) => a - b);
        await eventually(async () => {
          const debug = await lookupdDebug(lookupd);
          return [`topic:${TOPIC}:`, `channel:${TOPIC}:${CHANNEL}`].every(
            (key) =>
              (debug[key] ?? [])
                .map((producer) => producer.tcp_port)
                .sort((a, b) => a - b)
                .join() === ports.join(),
          );
        }, `lookupd holds ${TOPIC} and ${TOPIC}/${CHANNEL} for all ${FLEET_SIZE} fakes`);
      });

      it('shows the topic on every fake and each fake as a node with its topic and channel', async () => {
        const expectedNodes = brokers.map(nodeName).sort();

        const topic = await getJson<AdminTopic>(admin, `/api/topics/${TOPIC}`);
        assert.equal(topic.message, '', 'nsqadmin warned about the topic');
        assert.equal(topic.topic_name, TOPIC);
        assert.deepEqual(topic.nodes.map((n) => n.node).sort(), expectedNodes);
        assert.deepEqual(
          topic.nodes.map((n) => n.hostname).sort(),
          brokers.map((broker) => broker.hostname).sort(),
        );
        // The topic's channel list is an aggregate whose `nodes` leave out the first fake (nsqadmin
        // aggregates into that fake's own entry); the channel's own page counts every fake.
        assert.deepEqual(
          topic.channels.map((c) => c.channel_name),
          [CHANNEL],
        );
        const channel = await getJson<AdminChannel>(admin, `/api/topics/${TOPIC}/${CHANNEL}`);
        assert.equal(channel.message, '', 'nsqadmin warned about the channel');
        assert.deepEqual(channel.nodes.map((n) => n.node).sort(), expectedNodes);

        const nodes = await Promise.all(
          brokers.map((broker) => getJson<AdminNode>(admin, `/api/nodes/${nodeName(broker)}`)),
        );
        nodes.forEach((node, i) => {
          const name = nodeName(brokers[i]!);
          assert.equal(node.message, '', `nsqadmin warned about ${name}`);
          assert.equal(node.node, name);
          assert.deepEqual(
            (node.topics ?? []).map((t) => [t.node, t.topic_name, t.channels.map((c) => c.channel_name)]),
            [[name, TOPIC, [CHANNEL]]],
            `${name}'s topics`,
          );
        });
      });

      it('deletes the topic from every fake and from lookupd', async () => {
        const reply = await httpCall(admin, 'DELETE', `/api/topics/${TOPIC}`);
        assert.equal(reply.status, 200, reply.body);
        assert.equal((JSON.parse(reply.body) as { message: string }).message, '', 'nsqadmin warned');

        // nsqadmin answers once it has posted /topic/delete to lookupd and to every producer.
        const left = brokers.filter((broker) => broker.topic(TOPIC) !== undefined).map(nodeName);
        assert.deepEqual(left, [], 'fakes still holding the topic');
        const { topics } = await getJson<{ topics: string[] }>(lookupd.httpAddress, '/topics');
        assert.ok(!topics.includes(TOPIC), 'lookupd /topics still lists it');
        // nsqlookupd answers 404 TOPIC_NOT_FOUND for a topic it no longer has.
        const lookup = await httpCall(lookupd.httpAddress, 'GET', `/lookup?topic=${TOPIC}`);
        assert.equal(lookup.status, 404, `lookupd /lookup still answers: ${lookup.body}`);
        // Each fake unregisters too; once lookupd has heard them all, nothing of the topic remains.
        await eventually(
          async () => Object.keys(await lookupdDebug(lookupd)).every((key) => !key.includes(`:${TOPIC}:`)),
          'lookupd drops every registration of the topic',
        );
      });
    },
  );
}
