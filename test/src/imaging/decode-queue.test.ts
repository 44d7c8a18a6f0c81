/**
 * The decode queue: never more than its slots at once, waiting tasks started in arrival order, a failing task frees
 * its slot.
 */
import { describe, expect, it } from 'vitest';
import { DecodeQueue } from '../../../src/imaging/decode-queue.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('DecodeQueue', () => {
  it('runs at most `slots` tasks at once, the rest in arrival order', async () => {
    const queue = new DecodeQueue(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const release: Array<() => void> = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      queue.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
        return i * 10;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(queue.active).toBe(2);
    expect(queue.queued).toBe(4);
    while (release.length > 0 || started.length < 6) {
      release.shift()?.();
      await tick();
    }
    expect(await Promise.all(tasks)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(2);
    expect(queue.active).toBe(0);
  });

  it('frees the slot of a task that throws', async () => {
    const queue = new DecodeQueue(1);
    await expect(queue.run(async () => Promise.reject(new Error('bad image')))).rejects.toThrow('bad image');
    expect(await queue.run(async () => 'next')).toBe('next');
    expect(queue.active).toBe(0);
  });
});
