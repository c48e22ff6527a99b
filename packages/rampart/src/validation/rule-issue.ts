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

/** The most rule messages remembered (they depend on options only, so a few dozen in practice). */
const MAX_RULE_MESSAGES = 1_000;
const RULE_MESSAGES = new Map<string, string>();

/**
 * Remembers a message a Rampart rule refused with, and its code. A rule used inside another
 * schema library (ArkType embeds a Standard Schema, Valibot and zod through a transform) loses
 * its mark on the way: the library makes its own issue and keeps only our message. Such a
 * message is still ours, made from options and never from the submitted value, so
 * `validate()` may pass it through and give back the rule's code.
 */
export function rememberRuleMessage(code: string, message: string): void {
  if (RULE_MESSAGES.has(message) || RULE_MESSAGES.size >= MAX_RULE_MESSAGES) return;
  RULE_MESSAGES.set(message, code);
}

/** The code of a message a Rampart rule refused with, if `message` is exactly one of them. */
export function ruleCodeOfMessage(message: unknown): string | undefined {
  return typeof message === 'string' ? RULE_MESSAGES.get(message) : undefined;
}
