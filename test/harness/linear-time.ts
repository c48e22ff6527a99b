/**
 * Does a function's time grow linearly with its input? A measurement made of ratios only, so
 * it holds on a slow or loaded machine: the time per call at size n·k over the time at size n,
 * each the median of many batches, the two sizes measured in alternation so that whatever
 * else the machine is doing weighs on both alike. A linear function gives about k (less when
 * fixed costs dominate, about 1 when it stops reading at a bound); catastrophic backtracking
 * gives k² or worse. The verdict allows `slack`·k, far from k² for the default k = 8.
 *
 * `LINEAR_TIME_LOG=1` prints every ratio measured.
 *
 * No absolute time is ever compared with a threshold: the batch size is calibrated so a batch
 * of the small input lasts long enough for the clock to resolve it, and that is all a
 * duration is used for.
 */
import assert from 'node:assert/strict';

export interface GrowthOptions {
  /** How much larger the large input is than the small one; default 8. */
  factor?: number;
  /** Batches measured per size; default 11. The median is taken. */
  samples?: number;
  /** How far above `factor` the ratio may go before it is called super-linear; default 3. */
  slack?: number;
}

export interface Growth {
  /** Median time per call at n·factor over median time per call at n. */
  ratio: number;
  /** The most `ratio` may be for linear growth: `factor · slack`. */
  allowed: number;
  factor: number;
}

/** Calibration only: a small-input batch should last about this long, ms. */
const BATCH_MS = 2.5;
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
  const factor = options.factor ?? 8;
  const samples = options.samples ?? 11;
  const slack = options.slack ?? 3;
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
  const smallCalls = Math.max(1, Math.ceil((BATCH_MS * 1e6) / once));
  // The large batch makes as many calls divided by the factor, so it lasts as long when linear.
  const largeCalls = Math.max(1, Math.ceil(smallCalls / factor));
  const smallTimes: number[] = [];
  const largeTimes: number[] = [];
  for (let s = 0; s < samples; s++) {
    smallTimes.push(await timeBatch(fn, small, smallCalls, awaited));
    largeTimes.push(await timeBatch(fn, large, largeCalls, awaited));
  }
  return { ratio: median(largeTimes) / median(smallTimes), allowed: factor * slack, factor };
}

/**
 * Fails when `fn`'s time grows faster than linearly from size `n` to `n · factor`.
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
  const growth = await measureGrowth(fn, make, n, options);
  if (process.env.LINEAR_TIME_LOG) console.log(`${growth.ratio.toFixed(2).padStart(6)}× ${name}`);
  assert.ok(
    growth.ratio <= growth.allowed,
    `${name}: ${growth.factor}× the input took ${growth.ratio.toFixed(1)}× the time (linear allows ${growth.allowed}×)`,
  );
  return growth;
}
