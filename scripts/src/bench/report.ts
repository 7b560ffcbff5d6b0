import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHMARKS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../BENCHMARKS.md');

export interface Figure {
  value: number;
  unit: string;
}

export interface Target {
  text: string;
  /** Given the ratio, or the value itself when there is no baseline. */
  met(compared: number): boolean;
}

export const atLeast = (times: number): Target => ({ text: `≥ ${times}×`, met: (ratio) => ratio >= times });
export const atMost = (times: number): Target => ({ text: `≤ ${times}×`, met: (ratio) => ratio <= times });
export const below = (limit: number, unit: string): Target => ({
  text: `< ${limit} ${unit}`,
  met: (value) => value < limit,
});

export interface Row {
  measure: string;
  value: Figure;
  baseline?: { label: string; figure: Figure };
  target?: Target;
  /** Non-2xx answers, failed jobs: a row with any is not a valid result. */
  errors?: number;
}

/** The rows as a Markdown table: measure, value, baseline, ratio, target, met? */
export function table(rows: Row[]): string {
  const lines = rows.map((row) => {
    const ratio = row.baseline ? row.value.value / row.baseline.figure.value : undefined;
    const met = row.target?.met(ratio ?? row.value.value);
    return [
      row.measure,
      format(row.value),
      row.baseline ? `${row.baseline.label} ${format(row.baseline.figure)}` : '—',
      ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      row.target?.text ?? '—',
      row.errors ? `invalid: ${row.errors} errors` : met === undefined ? '—' : met ? 'yes' : '**NO**',
    ];
  });
  const header = ['measure', 'value', 'baseline', 'ratio', 'target', 'met?'];
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** The machine, and how busy it was besides the benchmark: a loaded machine gives lower, noisier figures. */
export function machine(versions: { postgres: string; redis: string }, loadBefore: number): string[] {
  const cpus = os.cpus();
  return [
    `CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores`,
    `Memory: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    `Node.js ${process.version}, PostgreSQL ${versions.postgres}, Redis ${versions.redis}`,
    `Date: ${new Date().toISOString()}`,
    `Load average (1 min) just before the run: ${loadBefore.toFixed(2)}`,
  ];
}

/**
 * What profiling (`node --cpu-prof` on the gateway and workers under these loads, on a 2-core machine)
 * found behind the targets that stay out of reach; kept with the table so that a reader of a miss finds
 * its cause. Redo it when the code under a row changes.
 */
const WHY_TARGETS_ARE_MISSED = [
  "POST generate-image vs (b): an accepted generation does durable work (b) does not: a rate-limit count (Redis), an Idempotency-Key claim, the per-user in-flight count, the job row with its idempotent answer (one statement), and the enqueue: five round trips against two. The gateway is CPU-bound, mostly in those round trips' socket writes. Already cut: the in-flight count has its own index, the claim commits without waiting for the disk, verified tokens are remembered, the rate limit is one EVALSHA.",
  'GET /api/jobs/:id vs (a): no route that reads PostgreSQL comes near a route that does nothing — (f), one bare SELECT, is itself 0.07–0.25× of (a) here — so the row against (f) is the one to watch. A poll is one query plus the rate-limit count.',
  'Pipelines vs (c) and (d): the local generator draws and JPEG-encodes each image (about 44 ms of CPU), so generations are bounded by (e), not by the queue; a post makes about 13 commits through storage and persistence (state of each step, the media rows), a no-op flow none. With both cores busy, a second process per queue adds nothing.',
  "Video via tus: each 5 MB chunk is a request of its own (an ownership lookup in PostgreSQL, the tus lock, the chunk streamed through a web ReadableStream, which @tus/server 2 uses for every request body), and the last one waits for the file check; on loopback that is about a third of the multipart rate, on a phone's link the link is the limit. The RSS growth is of the same kind as the multipart route's.",
  "Video RSS: the growth is flat in the file size (about 23 MB for 20 MB, 63–68 MB for 500 MB and for 1 GB): the upload is streamed to disk, and what grows is socket buffers awaiting V8's collection, which starts at about 64 MB of external memory — so the figure sits on the target and flips with noise.",
];

/** Rewrites BENCHMARKS.md: the table, the machine it ran on, and how to read it. */
export async function writeBenchmarks(options: { table: string; machine: string[]; howToRead: string[] }) {
  const text = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`scripts/src/bench`); every run replaces this file with its own results.',
    '',
    '## Machine',
    '',
    ...options.machine.map((line) => `- ${line}`),
    '',
    '## Results',
    '',
    options.table,
    '',
    '## How to read it',
    '',
    ...options.howToRead.map((line) => `- ${line}`),
    '',
    '## Where targets are missed, and why',
    '',
    ...WHY_TARGETS_ARE_MISSED.map((line) => `- ${line}`),
    '',
  ].join('\n');
  await writeFile(BENCHMARKS_FILE, text);
}

function format(figure: Figure): string {
  const { value } = figure;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${figure.unit}`;
}
