const DAY_MS = 86_400_000;

/** The UTC day of `ms` as `YYYY-MM-DD`: daily quotas and usage roll over at UTC midnight. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Milliseconds from `ms` until the UTC day of `ms` ends (at least 1). */
export function msUntilUtcDayEnds(ms: number): number {
  return Math.max(1, DAY_MS - (ms % DAY_MS));
}
