/** lib/broker/deadlines.ts: the heap that orders a channel's in-flight messages by timeout. */
import assert from 'node:assert/strict';
import { type Deadlined, DeadlineHeap } from '../../lib/broker/deadlines.js';
import { mulberry32 } from '../../lib/util/random.js';

interface Item extends Deadlined {
  name: number;
}

describe('broker DeadlineHeap', () => {
  it('takes items out in deadline order, then set order, whatever was removed in between', () => {
    const random = mulberry32(7);
    const heap = new DeadlineHeap<Item>();
    const live = new Set<Item>();
    let order = 0;
    const due = (a: Item, b: Item) => a.deadline - b.deadline || a.order - b.order;
    for (let step = 0; step < 20_000; step++) {
      const roll = random();
      if (roll < 0.5 || live.size === 0) {
        // Few distinct deadlines, so ties are common.
        const item: Item = { name: step, deadline: Math.floor(random() * 50), order: order++, heapIndex: -1 };
        heap.push(item);
        live.add(item);
      } else if (roll < 0.8) {
        const victims = [...live];
        const victim = victims[Math.floor(random() * victims.length)]!;
        heap.remove(victim);
        assert.equal(victim.heapIndex, -1);
        heap.remove(victim); // a second removal does nothing
        live.delete(victim);
      } else {
        const first = [...live].sort(due)[0]!;
        assert.equal(heap.peek(), first);
        heap.remove(first);
        live.delete(first);
      }
      assert.equal(heap.size, live.size);
    }
    const rest: Item[] = [];
    for (let item = heap.peek(); item; item = heap.peek()) {
      rest.push(item);
      heap.remove(item);
    }
    assert.deepEqual(rest, [...live].sort(due));
  });

  it('clear() leaves every item out of the heap', () => {
    const heap = new DeadlineHeap<Item>();
    const items = [3, 1, 2].map((deadline, i) => ({ name: i, deadline, order: i, heapIndex: -1 }));
    for (const item of items) heap.push(item);
    heap.clear();
    assert.equal(heap.size, 0);
    assert.equal(heap.peek(), undefined);
    assert.ok(items.every((item) => item.heapIndex === -1));
  });
});
