/** A value or a promise of it: store methods return this so memory stores stay synchronous. */
export type Awaitable<T> = T | Promise<T>;

/** The clock every time-dependent piece takes, so tests freeze time instead of sleeping. */
export type Clock = () => number;
