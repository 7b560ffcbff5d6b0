import { describe, expect, it } from 'vitest';
import { atLeast, below, compare, median, percentile, type ResultRow, type Row, results, table } from './report.ts';

const rps = (value: number) => ({ value, unit: 'req/s' });

const rows: Row[] = [
  { measure: 'accept', value: rps(300), baseline: { label: '(b)', figure: rps(1000) }, target: atLeast(0.6) },
  { measure: 'video RSS', value: { value: 40, unit: 'MB' }, target: below(64, 'MB') },
  { measure: 'hello', value: rps(40_000) },
  { measure: 'broken', value: rps(10), target: below(64, 'MB'), errors: 3 },
];

describe('results', () => {
  it('keeps every figure, the ratio, the target and whether it was met', () => {
    expect(results(rows)).toEqual([
      {
        measure: 'accept',
        value: 300,
        unit: 'req/s',
        baseline: { label: '(b)', value: 1000, unit: 'req/s' },
        ratio: 0.3,
        roundRatios: null,
        target: '≥ 0.6×',
        better: 'higher',
        met: false,
        errors: 0,
      },
      {
        measure: 'video RSS',
        value: 40,
        unit: 'MB',
        baseline: null,
        ratio: null,
        roundRatios: null,
        target: '< 64 MB',
        better: 'lower',
        met: true,
        errors: 0,
      },
      {
        measure: 'hello',
        value: 40_000,
        unit: 'req/s',
        baseline: null,
        ratio: null,
        roundRatios: null,
        target: null,
        better: null,
        met: null,
        errors: 0,
      },
      // A row with errors has no valid figure: neither met nor missed.
      expect.objectContaining({ measure: 'broken', met: null, errors: 3 }),
    ]);
  });

  it("takes a row measured in rounds at the median of its rounds' ratios, in the table too", () => {
    // Medians of value (500) and baseline (1000) alone would make 0.5: the rounds say otherwise.
    const rounds: Row = {
      measure: 'rounds',
      value: rps(500),
      baseline: { label: '(b)', figure: rps(1000) },
      roundRatios: [0.9, 0.4, 0.7],
      target: atLeast(0.6),
    };
    expect(results([rounds])[0]).toMatchObject({ ratio: 0.7, roundRatios: [0.9, 0.4, 0.7], met: true });
    expect(table([rounds])).toContain('| 0.70× |');
    expect(median([3, 1, 2, 10])).toBe(2);
  });

  it('takes a percentile by nearest rank', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.99)).toBeNaN();
  });
});

describe('compare', () => {
  const before = results(rows);
  const lineOf = (table: string, measure: string) =>
    table.split('\n').find((line) => line.startsWith(`| ${measure} |`));

  it('shows each row’s ratio (or value) then and now, and flags a move the wrong way beyond 15%', () => {
    const now: ResultRow[] = results([
      { ...(rows[0] as Row), value: rps(240) }, // 0.30× → 0.24×: 20% worse
      { ...(rows[1] as Row), value: { value: 44, unit: 'MB' } }, // 40 → 44 MB: 10% more, within noise
      { ...(rows[2] as Row), value: rps(20_000) }, // no target: shown, never flagged
      { measure: 'new row', value: rps(5) },
    ]);
    const table = compare(before, now);
    expect(lineOf(table, 'accept')).toBe('| accept | 0.30× | 0.24× | -20% | **worse** |');
    expect(lineOf(table, 'video RSS')).toBe('| video RSS | 40 MB | 44 MB | +10% |  |');
    expect(lineOf(table, 'hello')).toBe('| hello | 40,000 req/s | 20,000 req/s | -50% |  |');
    expect(lineOf(table, 'new row')).toBe('| new row | — | 5 req/s | new |  |');
  });

  it('flags a row that met its target and no longer does, however small the change', () => {
    const now = results([{ ...(rows[1] as Row), value: { value: 64.5, unit: 'MB' } }]);
    const before63 = results([{ ...(rows[1] as Row), value: { value: 63, unit: 'MB' } }]);
    expect(lineOf(compare(before63, now), 'video RSS')).toMatch(/\*\*worse\*\* \|$/);
  });
});
