/**
 * The gRPC rate limiter's fixed windows per client address, on a controlled clock, and peer address parsing.
 */
import { describe, expect, it } from 'vitest';
import { FixedWindowLimiter, peerAddress } from '../../../src/grpc/rate-limit.ts';

describe('FixedWindowLimiter', () => {
  it('allows max calls per window per client, then answers the seconds until the window resets', () => {
    let now = 1_000_000;
    const limiter = new FixedWindowLimiter(2, 60_000, () => now);
    expect(limiter.take('a')).toBeNull();
    expect(limiter.take('a')).toBeNull();
    expect(limiter.take('a')).toBe(60);
    expect(limiter.take('b')).toBeNull();
    now += 45_500;
    expect(limiter.take('a')).toBe(15);
    now += 14_500;
    expect(limiter.take('a')).toBeNull();
  });
});

describe('peerAddress', () => {
  it.each([
    ['127.0.0.1:5678', '127.0.0.1'],
    ['[::1]:5678', '::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['unix:/tmp/socket', 'unix:/tmp/socket'],
  ])('%s → %s', (peer, address) => {
    expect(peerAddress(peer)).toBe(address);
  });
});
