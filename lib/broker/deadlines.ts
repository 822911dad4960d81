/** Something with a deadline, kept in a {@link DeadlineHeap}. */
export interface Deadlined {
  /** Epoch ms. */
  deadline: number;
  /** Breaks ties between equal deadlines: lower first (the order they were set in). */
  order: number;
  /** Where it sits in its heap; -1 when in none. */
  heapIndex: number;
}

/**
 * A binary min-heap by deadline that knows where each item is, so any item can be taken out in
 * O(log n): one of these and one timer per channel replace a timer per message in flight.
 */
export class DeadlineHeap<T extends Deadlined> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The item due first. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  /** Takes `item` out; nothing if it is in no heap. */
  remove(item: T): void {
    const index = item.heapIndex;
    if (index < 0) return;
    item.heapIndex = -1;
    const last = this.#items.pop()!;
    if (index === this.#items.length) return;
    this.#items[index] = last;
    last.heapIndex = index;
    this.#down(index);
    this.#up(last.heapIndex);
  }

  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items = [];
  }

  #before(a: T, b: T): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!this.#before(item, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && this.#before(items[child + 1]!, items[child]!)) child++;
      const first = items[child]!;
      if (!this.#before(first, item)) break;
      items[index] = first;
      first.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
