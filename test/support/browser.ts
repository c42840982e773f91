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
