import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { QUEUE_NAMES } from '@mediaflow/domain';
import { signToken } from '@mediaflow/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

/** Debian's chromium; .ci/run installs it when it is missing. */
const CHROMIUM = '/usr/bin/chromium';
/** Screenshots for a person to look at; outside the repository. */
const SCREENS = '/tmp/screens';

interface Violation {
  directive: string;
  blocked: string;
}

/**
 * The HTML pages the gateway serves (Swagger UI at /docs, Bull Board and its sign-in form at
 * /admin/queues), in a real browser with the gateway's security headers: each renders, and its CSP
 * blocks nothing it needs.
 */
describe.skipIf(!existsSync(CHROMIUM))('the HTML pages in a real browser, under their CSP', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    await mkdir(SCREENS, { recursive: true });
    [stack, browser] = await Promise.all([
      startStack({ inProcessWorkers: false }),
      chromium.launch({ executablePath: CHROMIUM }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** A fresh page that records CSP violations and console errors. */
  async function open(): Promise<{ page: Page; violations: Violation[]; errors: string[] }> {
    const page = await (await browser.newContext()).newPage();
    const violations: Violation[] = [];
    const errors: string[] = [];
    await page.exposeFunction('reportViolation', (violation: Violation) => violations.push(violation));
    // A page script, as text: this project compiles without the DOM's types.
    await page.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (event) =>
        window.reportViolation({ directive: event.effectiveDirective, blocked: event.blockedURI }));`,
    });
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    return { page, violations, errors };
  }

  it('renders Swagger UI at /docs with no CSP violation', async () => {
    const { page, violations, errors } = await open();
    const response = await page.goto(`${stack.baseUrl}/docs`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByText('Run every failed job of a queue again').waitFor({ timeout: 15_000 });
    await page.getByText('mediaflow API').first().waitFor();
    // Open one operation: its schemas and examples render too.
    await page.getByText('Create a brand; you become its first member').click();
    await page.getByText('Try it out').first().waitFor();
    await page.screenshot({ path: `${SCREENS}/docs.png`, fullPage: true });
    expect(violations).toEqual([]);
    expect(errors.filter((text) => /Content Security Policy|Refused to/i.test(text))).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('signs an admin in at /admin/queues/login and renders Bull Board with every queue and a job', async () => {
    // A generation waits in its queue (no workers run here), for the board to show.
    const accepted = await stack.request('POST', '/api/ai-agent/generate-image', { json: { prompt: 'a lighthouse' } });
    expect(accepted.status).toBe(202);
    const { page, violations, errors } = await open();
    await page.goto(`${stack.baseUrl}/admin/queues/login`);
    await page.screenshot({ path: `${SCREENS}/queue-board-login.png` });
    await page.getByLabel('admin token').fill(await signToken('ops', { claims: { role: 'admin' } }));
    await page.getByRole('button', { name: 'Open the board' }).click();
    await page.waitForURL(`${stack.baseUrl}/admin/queues`);
    for (const queue of QUEUE_NAMES) await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.getByText(/^1 Jobs?$/).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${SCREENS}/queue-board.png`, fullPage: true });
    // The queue's page, with the job's data highlighted.
    await page.getByText('generation', { exact: true }).first().click();
    await page.getByText('"a lighthouse"').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${SCREENS}/queue-board-generation.png`, fullPage: true });
    // The board's Google Fonts stylesheet is refused on purpose (security-headers.ts); nothing else is.
    const thirdParty = (blocked: string) => blocked.startsWith('https://fonts.googleapis.com/');
    expect(violations.filter((violation) => !thirdParty(violation.blocked))).toEqual([]);
    // (Which also shows that violations are seen at all.)
    expect(violations.filter((violation) => thirdParty(violation.blocked))).not.toEqual([]);
    expect(errors.filter((text) => !text.includes('fonts.googleapis.com'))).toEqual([]);
  });

  it('shows a non-admin the refusal, and sets no cookie', async () => {
    const { page } = await open();
    await page.goto(`${stack.baseUrl}/admin/queues/login`);
    await page.getByLabel('admin token').fill(await signToken('bob'));
    await page.getByRole('button', { name: 'Open the board' }).click();
    await page.getByText('this route needs the admin role').waitFor();
    expect(await page.context().cookies()).toEqual([]);
  });
});
