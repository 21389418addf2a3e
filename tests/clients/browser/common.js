// What the explorer's browser tests share: launching chromium, progress
// lines, reading the verdict box, and tampering with a signed note.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function step(what) {
  process.stderr.write(`explorer test: ${what}\n`);
}

// Flips one bit inside the last byte of every signature line of a note.
function tamperNote(note) {
  const blank = note.indexOf('\n\n');
  const lines = note.slice(blank + 2).split('\n').map((line) => {
    const m = /^(\u2014 \S+ )(\S+)$/.exec(line);
    if (!m) return line;
    const raw = Buffer.from(m[2], 'base64');
    raw[raw.length - 1] ^= 1;
    return m[1] + raw.toString('base64');
  });
  return note.slice(0, blank + 2) + lines.join('\n');
}

async function verdictOf(page, selector = '#verdict') {
  await page.waitForSelector(`${selector}:not([data-verdict=pending])`, { timeout: 20000 });
  return page.textContent(`${selector} .verdict-text`);
}

async function expectVerified(page, what, selector) {
  const verdict = await verdictOf(page, selector);
  assert.strictEqual(verdict, 'verified', `${what}: verdict "${verdict}"`);
}

// Debian's chromium on a fresh profile, recording every origin the page
// asks and every script error; `close()` removes the profile.
async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atesto-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 },
  });
  const origins = new Set();
  context.on('request', (request) => origins.add(new URL(request.url()).origin));
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const close = async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { page, origins, pageErrors, close };
}

module.exports = { step, tamperNote, verdictOf, expectVerified, launch };
