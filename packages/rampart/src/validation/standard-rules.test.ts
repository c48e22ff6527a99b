import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type } from 'arktype';
import * as v from 'valibot';
import * as z from 'zod';
import { tutorialPasswordPolicy } from './password.ts';
import type { RuleValidator } from './standard-rules.ts';
import { emailRule, emailRuleWith, nameRule, passwordRule, richTextRule } from './standard-rules.ts';
import { type StandardSchemaV1InferOutput, validate } from './standard-schema.ts';

test('each rule is a Standard Schema of its own: cleaned value out, the rule’s code and message on refusal', async () => {
  assert.deepEqual(await validate(emailRule, 'Ann@Example.COM'), { ok: true, value: 'Ann@example.com' });
  assert.deepEqual(await validate(nameRule, '  <b>Al</b> '), { ok: true, value: 'Al' });
  assert.deepEqual(await validate(richTextRule, '<b>hi</b><script>x</script>'), {
    ok: true,
    value: '<b>hi</b>',
  });
  assert.deepEqual(await validate(passwordRule(), 'password'), {
    ok: false,
    errors: [{ path: '', code: 'common_password', message: 'This password is too common; choose another' }],
  });
  assert.equal(emailRule['~standard'].vendor, 'rampart');
  assert.equal(emailRule['~standard'].version, 1);
  assert.deepEqual(emailRule.check('a@b'), {
    ok: false,
    code: 'invalid_domain',
    message: 'The domain must contain a dot',
  });
  // The output type is the rule's cleaned string.
  const typed: StandardSchemaV1InferOutput<typeof emailRule> = 'x';
  assert.equal(typed, 'x');
});

test('an ArkType object embeds the rules: the same cleaned values and the rules’ own codes', async () => {
  const signup = type({ email: emailRule, password: passwordRule(tutorialPasswordPolicy), name: nameRule });
  const valid = await validate(signup, {
    email: 'Ada@Example.com',
    password: 'Sup3r$ecretX',
    name: '<i>Ada</i>',
  });
  assert.deepEqual(valid, {
    ok: true,
    value: { email: 'Ada@example.com', password: 'Sup3r$ecretX', name: 'Ada' },
  });
  if (valid.ok) {
    const email: string = valid.value.email; // typed: the rule's output
    assert.equal(email, 'Ada@example.com');
  }
  const invalid = await validate(signup, { email: 'ada', password: 'password', name: 'A' });
  assert.equal(invalid.ok, false);
  assert.deepEqual(!invalid.ok && invalid.errors.map((error) => [error.path, error.code]).sort(), [
    ['/email', 'invalid_email'],
    ['/name', 'too_short'],
    ['/password', 'common_password'],
  ]);
});

/** A rule in a library that does not embed a Standard Schema: its transform hook and `check`. */
function valibotRule(rule: RuleValidator) {
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const result = rule.check(dataset.value);
      if (result.ok) return result.value;
      addIssue({ message: result.message });
      return NEVER;
    }),
  );
}

test('Valibot and zod take a rule through their transform: the rule’s code survives', async () => {
  const signup = v.object({ email: valibotRule(emailRule), name: valibotRule(nameRule) });
  assert.deepEqual(await validate(signup, { email: 'Ann@Example.COM', name: ' Ann ' }), {
    ok: true,
    value: { email: 'Ann@example.com', name: 'Ann' },
  });
  const refused = await validate(signup, { email: 'ann', name: 'Ann' });
  assert.deepEqual(!refused.ok && refused.errors, [
    { path: '/email', code: 'invalid_email', message: 'The email address must contain @' },
  ]);

  const gmail = emailRuleWith({ canonicalize: 'gmail' });
  const zodEmail = z.unknown().transform((value, ctx) => {
    const result = gmail.check(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });
  assert.deepEqual(await validate(z.object({ email: zodEmail }), { email: 'a.b+x@googlemail.com' }), {
    ok: true,
    value: { email: 'ab@gmail.com' },
  });
  const zodRefused = await validate(z.object({ email: zodEmail }), { email: 'a@b' });
  assert.deepEqual(!zodRefused.ok && zodRefused.errors.map((e) => e.code), ['invalid_domain']);
});

test('only a rule’s own messages pass through: a library’s message (which may quote the value) never does', async () => {
  const schema = type({ email: emailRule, age: 'number' });
  const result = await validate(schema, { email: 'ann@example.com', age: 'hunter2' });
  assert.equal(result.ok, false);
  const text = JSON.stringify(result);
  assert.ok(!text.includes('hunter2'), text);
  assert.deepEqual(!result.ok && result.errors.map((e) => [e.path, e.code]), [['/age', 'invalid_type']]);
});

test('a rule’s options are checked when it is made, naming the field', () => {
  assert.throws(() => passwordRule({ maxLength: 10 }), /^TypeError: maxLength: /);
  assert.throws(() => emailRuleWith({ canonicalize: 'x' as 'gmail' }), /^TypeError: canonicalize: /);
});
