import { expect, test } from "bun:test";
import { RateLimiter } from "./rate-limiter.ts";

test("RateLimiter holds a flow near its rate after the first second's burst", async () => {
  const limiter = new RateLimiter(1_000_000);
  const started = performance.now();
  for (let i = 0; i < 6; i++) await limiter.take(250_000);
  const elapsed = performance.now() - started;
  // 1.5 MB at 1 MB/s with a 1 MB burst: about 0.5 s.
  expect(elapsed).toBeGreaterThan(400);
});

test("RateLimiter.take() rejects when aborted", async () => {
  const limiter = new RateLimiter(10);
  const controller = new AbortController();
  const pending = limiter.take(1000, controller.signal);
  controller.abort(new Error("stop"));
  expect(pending).rejects.toThrow("stop");
});
