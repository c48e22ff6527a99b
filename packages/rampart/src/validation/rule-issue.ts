/**
 * The mark on the issues of Rampart's own rules. Its own module, without zod, so that
 * `validate()` can read it without loading a schema library.
 */

/**
 * Marks the zod issues Rampart's own rules raise, and carries their code and message.
 * `validate()` passes a message through only from an issue with this mark: every other
 * message was written by a schema library and may quote the submitted value. A symbol, so no
 * JSON or schema option can forge it; its record, not the issue's `message`, is read, so a
 * zod error map rewriting messages cannot put a value in either.
 */
export const RULE_ISSUE: unique symbol = Symbol('rampart.rule-issue');

/** What a rule's issue carries under {@link RULE_ISSUE}. */
export interface RuleIssueMark {
  readonly code: string;
  readonly message: string;
}
