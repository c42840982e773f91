// Headless Chromium (Debian's `chromium`) driven by playwright-core, for the suites that test the
// real Temporal UI. Every request that is not for 127.0.0.1 is refused, so the UI's news feed and
// anything else it reaches for never leaves the machine.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian installs Chromium; KEYLESS_CHROMIUM names another binary. */
export const CHROMIUM_PATH = process.env.KEYLESS_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  page: Page;
  context: BrowserContext;
  /** URLs the page tried to reach off the machine (all refused). */
  refused: string[];
  stop(): Promise<void>;
}

/** A fresh profile in a temporary folder, one page, loopback traffic only. */
export async function startTestBrowser(viewport = { width: 1280, height: 800 }): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (scripts/setup.sh does), or set KEYLESS_CHROMIUM`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'keyless-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport });
  const refused: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    refused.push(url.origin + url.pathname);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    page,
    context,
    refused,
    stop: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the Temporal UI answers its page (the dev server starts the UI after gRPC). */
export async function waitForUi(uiUrl: string, attempts = 120): Promise<void> {
  let last = '';
  for (let i = 0; i < attempts; i++) {
    try {
      const response = await fetch(`${uiUrl}/namespaces/default/workflows`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the Temporal UI at ${uiUrl} did not answer: ${last}`);
}

/** Polls the page's frames until one shows `text` (the UI renders Markdown details in iframes). */
export async function frameShowing(page: Page, text: string, attempts = 60): Promise<string> {
  for (let i = 0; i < attempts; i++) {
    for (const frame of page.frames()) {
      const body = await frame.locator('body').innerText({ timeout: 500 }).catch(() => '');
      if (body.includes(text)) return body.trim();
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no frame of ${page.url()} shows "${text}"`);
}

/** Opens the UI's workflow list filtered by a visibility query; returns how many rows it shows. */
export async function listWorkflowsInUi(page: Page, uiUrl: string, query: string, namespace = 'default'): Promise<number> {
  // A UI server whose Temporal frontend just restarted (the cluster tier restarts it) may leave the
  // first load without a list on a loaded machine: the page is loaded again, three times at most.
  for (let attempt = 1; ; attempt++) {
    await page.goto(`${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`);
    try {
      await page.getByTestId('workflow-count').waitFor({ timeout: 20_000 });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  return page.getByTestId('workflows-summary-configurable-table-row').count();
}

/**
 * Finds a workflow as an operator does, by a visibility query (retried while visibility catches
 * up), and opens it from the list. Fails unless exactly one row matches.
 */
export async function openWorkflowFromList(page: Page, uiUrl: string, query: string, workflowId: string, namespace = 'default'): Promise<void> {
  let rows = 0;
  for (let i = 0; i < 20 && rows === 0; i++) rows = await listWorkflowsInUi(page, uiUrl, query, namespace);
  if (rows !== 1) throw new Error(`the UI lists ${rows} workflows for ${query}, expected 1`);
  const row = page.getByTestId('workflows-summary-configurable-table-row').first();
  if (!(await row.innerText()).includes(workflowId)) throw new Error(`the UI's row for ${query} is not ${workflowId}`);
  await row.getByRole('link', { name: workflowId }).click();
  await page.getByTestId('workflow-id-heading').filter({ hasText: workflowId }).waitFor({ timeout: 20_000 });
}

/**
 * Sends an update from the open workflow's page through the UI's own action (More Actions → Send
 * an Update): picks the handler by its description, types `input` as JSON, submits, and waits for
 * the UI's "Update successful". `screenshot` captures the filled dialog before it is submitted.
 */
export async function sendUpdateInUi(page: Page, options: { description: string; input: unknown; screenshot?: string }): Promise<void> {
  await page.getByRole('button', { name: 'More Actions' }).click();
  await page.getByTestId('update-button').filter({ visible: true }).first().click();
  const dialog = page.locator('dialog[open]');
  await dialog.getByTestId('update-select-button').click();
  await dialog.getByRole('option').filter({ hasText: options.description }).click();
  await dialog.getByRole('textbox', { name: 'Data' }).click();
  await page.keyboard.insertText(JSON.stringify(options.input));
  // Leaving the editor reformats the JSON and resizes the dialog; do it before aiming at Submit.
  await dialog.getByTestId('update-id').click();
  if (options.screenshot) await page.screenshot({ path: options.screenshot });
  await dialog.getByTestId('confirm-modal-button').click();
  await page.getByTestId('toast-live-region-polite').getByText('Update successful').waitFor({ timeout: 20_000 });
}
