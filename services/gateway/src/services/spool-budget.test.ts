import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { SpoolBudget } from './spool-budget.ts';

describe('SpoolBudget', () => {
  it('refuses a hold that would pass the limit with 503 and Retry-After, and takes nothing for it', () => {
    const budget = new SpoolBudget(100);
    budget.hold('a', 60);
    const refused = (() => {
      try {
        budget.hold('b', 41);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ statusCode: 503, code: 'service_unavailable', retryAfterS: 30 });
    expect(budget.usedBytes).toBe(60);
    budget.hold('b', 40);
    expect(budget.usedBytes).toBe(100);
  });

  it('adds up what a key holds and frees it all at once', () => {
    const budget = new SpoolBudget(100);
    budget.hold('a', 30);
    budget.hold('a', 30);
    budget.hold('b', 10);
    budget.free('a');
    expect(budget.usedBytes).toBe(10);
    budget.free('a');
    expect(budget.usedBytes).toBe(10);
  });
});
