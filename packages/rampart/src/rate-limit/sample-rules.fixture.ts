/** Test and benchmark fixture (not shipped): rules in the style of a deployment's. */
import { bodyEmailKey, type RateLimitRuleOptions } from './rules.ts';

/** A general limit, password-reset limits per address and per e-mail, and two failure budgets. */
export function sampleRules(): RateLimitRuleOptions[] {
  return [
    { name: 'default', limit: 100, window: '15m', key: 'ip' },
    { name: 'password-reset', routes: 'POST /v1/auth/password-reset', limit: 5, window: '1h', key: 'ip' },
    {
      name: 'password-reset-email',
      routes: 'POST /v1/auth/password-reset',
      limit: 5,
      window: '1h',
      key: bodyEmailKey,
    },
    { name: 'auth-failures-ip', counts: 'failures', limit: 30, window: '15m', key: 'ip' },
    {
      name: 'login-failures-account',
      counts: 'failures',
      routes: 'POST /v1/auth/login',
      limit: 10,
      window: '15m',
      key: bodyEmailKey,
    },
  ];
}
