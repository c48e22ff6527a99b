/**
 * "Did you mean …?" for the command line: a mistyped command, option, event type or config key
 * is answered with the nearest known names instead of a bare refusal.
 */

/**
 * The optimal-string-alignment distance between `a` and `b`: insertions, deletions,
 * substitutions and transpositions of two neighbours each cost 1 ("lgoin" is 1 from "login").
 *
 * @example
 * editDistance('--prot', '--port'); // 1
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidates near `word`, nearest first (at most three). Near means within a third of the
 * word's length (at least 2 edits), or sharing its start or end past a separator
 * (`login_fail` → `authn_login_fail`), so a suggestion is a plausible typo and not noise.
 *
 * @example
 * closest('login_fail', ['authn_login_fail', 'authz_fail']); // ['authn_login_fail']
 */
export function closest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  const limit = Math.max(2, Math.floor(w.length / 3));
  const scored = candidates
    .map((candidate) => {
      const c = candidate.toLowerCase();
      const d = editDistance(w, c);
      const part = w.length >= 3 && (c.endsWith(`_${w}`) || c.startsWith(`${w}_`) || c.endsWith(`-${w}`));
      return { candidate, score: d <= limit ? d : part ? limit + 1 : Number.POSITIVE_INFINITY };
    })
    .filter((s) => Number.isFinite(s.score))
    .sort((x, y) => x.score - y.score || x.candidate.localeCompare(y.candidate));
  return scored.slice(0, 3).map((s) => s.candidate);
}

/** `'; did you mean "x"?'` (or `"x" or "y"`), or '' when nothing is near. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = closest(word, candidates);
  if (near.length === 0) return '';
  return `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?`;
}
