/** Headless Chromium (the distribution's, driven by playwright-core) for the status page tests. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here, for a person to look at. */
export const OUTPUT_DIR = join(import.meta.dirname, '..', '..', 'test-output');

/** A browser context opened before the enclosing suite's tests and closed after them; call inside describe(). */
export function chromiumContext(viewport = { width: 1280, height: 420 }): () => BrowserContext {
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with "bash scripts/install-deps.sh chromium"`);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), 'autotunnel-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport,
    });
  });
  after(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });
  return () => {
    assert.ok(context, 'the browser starts in before(): use it inside a test');
    return context;
  };
}
