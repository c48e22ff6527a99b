import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as validation from './index.ts';

test('the validation surface exports exactly its documented runtime values', () => {
  assert.deepEqual(Object.keys(validation).sort(), [
    'checkEmail',
    'checkName',
    'checkPassword',
    'checkRichText',
    'emailKey',
    'emailRule',
    'emailRuleWith',
    'emailSchema',
    'isCommonPassword',
    'jsonPointer',
    'jsonSchema',
    'nameRule',
    'nameRuleWith',
    'nameSchema',
    'normalizePassword',
    'passwordRule',
    'passwordSchema',
    'richTextRule',
    'richTextRuleWith',
    'richTextSchema',
    'ruleSchema',
    'sanitizeRichText',
    'standardRule',
    'tutorialPasswordPolicy',
    'validate',
    'validateSync',
  ]);
});
