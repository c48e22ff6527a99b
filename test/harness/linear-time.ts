/**
 * Does a function's time grow linearly with its input? A measurement made of ratios only, so
 * it holds on a slow or loaded machine: the time per call at size n·k over the time at size n,
 * each pair of batches measured back to back so that whatever else the machine is doing
 * weighs on both alike, and the median taken over many pairs. A linear function gives about k
 * (less when fixed costs dominate, about 1 when it stops reading at a bound); catastrophic
 * backtracking gives k² or worse. The verdict allows `slack`·k: 64 for the defaults k = 16 and
 * slack 4, so load from elsewhere may blow a linear measurement up fourfold before it is
 * called super-linear, and quadratic growth (256) would have to be squeezed fourfold to pass.
 *
 * `LINEAR_TIME_LOG=1` prints every ratio measured.
 *
 * No absolute time is ever compared with a threshold: the batch size is calibrated so a batch
 * of the small input lasts long enough for the clock to resolve it, and that is all a
 * duration is used for.
 */
import assert from 'node:assert/strict';

export interface GrowthOptions {
  /** How much larger the large input is than the small one; default 16. */
  factor?: number;
  /** Pairs of batches (one per size) measured; default 31. The median of their ratios is taken. */
  samples?: number;
  /** How far above `factor` the ratio may go before it is called super-linear; default 4. */
  slack?: number;
  /**
   * Measurements before `assertLinearTime` gives up, default 3: one over the limit is measured
   * again, since a burst of load from elsewhere can spoil one, while super-linear growth shows
   * in every one.
   */
  attempts?: number;
}

export interface Growth {
  /** Median time per call at n·factor over median time per call at n. */
  ratio: number;
  /** The most `ratio` may be for linear growth: `factor · slack`. */
  allowed: number;
  factor: number;
  /** Median time of one call on the large input, ns: for `LINEAR_TIME_LOG`, never compared. */
  largeCallNs: number;
}

/**
 * Calibration only: a small-input batch should last about this long, ms. Short, so that most
 * batches run without being preempted when other processes want the CPU: a preempted batch
 * inflates its pair's ratio, and the median leaves such pairs out as long as they are fewer
 * than half.
 */
const BATCH_MS = 0.25;
const VARIANTS = 4;

let sink = 0;

function consume(value: unknown): void {
  // Keeps the calls from being optimized away.
  sink = (sink + (typeof value === 'string' ? value.length : value ? 1 : 0)) | 0;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Nanoseconds per call. An asynchronous `fn` is awaited call by call, so that work it defers is counted. */
async function timeBatch<T>(
  fn: (input: T) => unknown,
  inputs: readonly T[],
  calls: number,
  awaited: boolean,
): Promise<number> {
  const start = process.hrtime.bigint();
  if (awaited) for (let i = 0; i < calls; i++) consume(await fn(inputs[i % inputs.length]!));
  else for (let i = 0; i < calls; i++) consume(fn(inputs[i % inputs.length]!));
  return Number(process.hrtime.bigint() - start) / calls;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Measures the growth of `fn` from inputs of size `n` to size `n · factor`. `make(size, variant)`
 * builds an input of about `size` characters; a few variants (0–3) of each size are cycled
 * through, so that no cache keyed on the input (V8 has some for regular expressions) flatters
 * either size. `make` decides where a variant differs, so the pathological shape survives.
 */
export async function measureGrowth<T>(
  fn: (input: T) => unknown,
  make: (size: number, variant: number) => T,
  n: number,
  options: GrowthOptions = {},
): Promise<Growth> {
  const factor = options.factor ?? 16;
  const samples = options.samples ?? 31;
  const slack = options.slack ?? 4;
  const small = Array.from({ length: VARIANTS }, (_, v) => make(n, v));
  const large = Array.from({ length: VARIANTS }, (_, v) => make(n * factor, v));
  const first = fn(small[0]!);
  const awaited = isThenable(first);
  if (awaited) await first;
  // Warm up both sizes (JIT tiers, flattened strings), then calibrate on the small one.
  for (let i = 0; i < 3; i++) {
    await timeBatch(fn, small, VARIANTS, awaited);
    await timeBatch(fn, large, VARIANTS, awaited);
  }
  const once = Math.max(await timeBatch(fn, small, VARIANTS * 4, awaited), 1);
  // The large batch makes `factor` times fewer calls, so that for a linear `fn` both batches
  // of a pair last alike and are alike exposed to preemption (a longer one would be hit more
  // often, and the ratio would lean high).
  const largeCalls = Math.max(2, Math.ceil((BATCH_MS * 1e6) / once / factor));
  const smallCalls = largeCalls * factor;
  // Each sample is a pair measured back to back, so a change in the machine's load between
  // samples moves both halves of a pair alike; the median of the pairs' ratios is the answer.
  const ratios: number[] = [];
  const largeTimes: number[] = [];
  for (let s = 0; s < samples; s++) {
    const smallTime = await timeBatch(fn, small, smallCalls, awaited);
    const largeTime = await timeBatch(fn, large, largeCalls, awaited);
    ratios.push(largeTime / smallTime);
    largeTimes.push(largeTime);
  }
  return { ratio: median(ratios), allowed: factor * slack, factor, largeCallNs: median(largeTimes) };
}

/**
 * Fails when `fn`'s time grows faster than linearly from size `n` to `n · factor`, in each of
 * `attempts` measurements.
 *
 * @example
 * await assertLinearTime('redactUrl', redactUrl, (size) => `/${'eyJ-'.repeat(size / 4)}`, 2048);
 */
export async function assertLinearTime<T>(
  name: string,
  fn: (input: T) => unknown,
  make: (size: number, variant: number) => T,
  n: number,
  options: GrowthOptions = {},
): Promise<Growth> {
  const attempts = options.attempts ?? 3;
  let growth = await measureGrowth(fn, make, n, options);
  for (let attempt = 1; attempt < attempts && growth.ratio > growth.allowed; attempt++) {
    growth = await measureGrowth(fn, make, n, options);
  }
  if (process.env.LINEAR_TIME_LOG) {
    const us = (growth.largeCallNs / 1000).toFixed(1);
    console.log(`${growth.ratio.toFixed(2).padStart(6)}× ${name} (${us} µs a large call)`);
  }
  assert.ok(
    growth.ratio <= growth.allowed,
    `${name}: ${growth.factor}× the input took ${growth.ratio.toFixed(1)}× the time (linear allows ${growth.allowed}×)`,
  );
  return growth;
}
