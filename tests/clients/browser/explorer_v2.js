// Drives the explorer on `atesto dev`'s Rekor v2 listener in Debian's
// headless chromium: the checkpoint page (Ed25519 signed note verified with
// WebCrypto, consistency from the tiles), an entry a real client made read
// from its entry bundle with its inclusion proof recomputed from the tiles,
// and "failed" behind a proxy that alters the checkpoint or the hash tiles.
// Run by tests/explorer.rs with one argument, a JSON file naming the server
// and the entry. Exits non-zero at the first failed expectation.
'use strict';

const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { step, tamperNote, verdictOf, expectVerified, launch } = require('./common');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const base = config.base; // http://127.0.0.1:PORT of the Rekor v2 listener
const shots = config.screenshots;
fs.mkdirSync(shots, { recursive: true });

// A proxy in front of the log: `checkpoint` flips a bit of the checkpoint's
// signature, `tile` one bit of every hash in every hash tile (entry bundles
// stay intact); all else passes untouched.
function tamperingProxy(mode) {
  const target = new URL(base);
  const server = http.createServer((req, res) => {
    http.get({ host: target.hostname, port: target.port, path: req.url }, (answer) => {
      const parts = [];
      answer.on('data', (c) => parts.push(c));
      answer.on('end', () => {
        let body = Buffer.concat(parts);
        const pathname = req.url.split('?')[0];
        if (answer.statusCode === 200 && mode === 'checkpoint' && pathname === '/checkpoint') {
          body = Buffer.from(tamperNote(body.toString('utf8')));
        } else if (answer.statusCode === 200 && mode === 'tile' && /^\/tile\/[0-9]/.test(pathname)) {
          body = Buffer.from(body);
          for (let at = 31; at < body.length; at += 32) body[at] ^= 1;
        }
        res.writeHead(answer.statusCode, Object.assign({}, answer.headers, { 'content-length': body.length }));
        res.end(body);
      });
    }).on('error', (e) => { res.writeHead(502); res.end(String(e)); });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const { page, origins, pageErrors, close } = await launch();
  const { entry } = config;
  const proxies = [];

  try {
    step('Rekor v2 checkpoint: Ed25519 signature and tiles');
    await page.goto(`${base}/`);
    await expectVerified(page, 'v2 checkpoint');
    const checks = await page.textContent('#verdict .checks');
    assert.match(checks, /Ed25519 signature of 127\.0\.0\.1 verified/);
    const size = Number(await page.textContent('#tree-size'));
    assert.ok(size > entry.logIndex, `the tree (${size}) holds entry ${entry.logIndex}`);
    await page.screenshot({ path: path.join(shots, 'v2-checkpoint.png'), fullPage: true });

    step('Rekor v2 consistency between two sizes, from the tiles');
    await page.fill('#in-first', String(Math.max(1, size - 1)));
    await Promise.all([page.waitForURL(/firstSize=/), page.click('#form-consistency button')]);
    await expectVerified(page, 'v2 checkpoint after consistency');
    await expectVerified(page, 'v2 consistency', '#consistency-verdict');
    await page.goto(`${base}/?firstSize=1&lastSize=${size}`);
    await expectVerified(page, 'v2 consistency from size 1', '#consistency-verdict');

    step('Rekor v2 entry by log index: body decoded, inclusion recomputed');
    await page.goto(`${base}/`);
    await page.fill('#in-v2-index', String(entry.logIndex));
    await Promise.all([page.waitForURL(/logIndex=/), page.press('#in-v2-index', 'Enter')]);
    await expectVerified(page, 'v2 entry');
    assert.strictEqual(await page.textContent('#entry-index'), String(entry.logIndex));
    // v2 has no search API: the v1 search forms stay hidden on its listener.
    assert.strictEqual(await page.isVisible('#search'), false, 'the v1 search forms are hidden on the v2 listener');
    assert.strictEqual(await page.locator('a[href*="key=sha256"]').count(), 0, 'no link to a search the v2 listener cannot answer');
    assert.strictEqual(await page.textContent('#entry-kind'), 'hashedrekord 0.0.2');
    assert.strictEqual(await page.textContent('#entry-digest'), `sha256:${entry.sha256}`);
    assert.strictEqual(await page.textContent('.san'), entry.identity);
    assert.strictEqual(await page.textContent('.oidc-issuer'), entry.issuer);
    await page.screenshot({ path: path.join(shots, 'v2-entry.png'), fullPage: true });

    step('an entry beyond the tree says so');
    await page.goto(`${base}/?logIndex=${size + 100}`);
    await page.waitForSelector('#no-results', { timeout: 20000 });

    step('a tampered checkpoint fails');
    const noteProxy = await tamperingProxy('checkpoint');
    proxies.push(noteProxy);
    const noteBase = `http://127.0.0.1:${noteProxy.address().port}`;
    await page.goto(`${noteBase}/`);
    const headVerdict = await verdictOf(page);
    assert.ok(headVerdict.startsWith('failed: '), `tampered checkpoint: verdict "${headVerdict}"`);
    assert.match(headVerdict, /signature does not verify/);
    await page.goto(`${noteBase}/?logIndex=${entry.logIndex}`);
    const noteEntryVerdict = await verdictOf(page);
    assert.ok(noteEntryVerdict.startsWith('failed: '), `entry under a tampered checkpoint: "${noteEntryVerdict}"`);

    step('tampered tiles fail');
    const tileProxy = await tamperingProxy('tile');
    proxies.push(tileProxy);
    const tileBase = `http://127.0.0.1:${tileProxy.address().port}`;
    await page.goto(`${tileBase}/?logIndex=${entry.logIndex}`);
    const tileVerdict = await verdictOf(page);
    assert.ok(tileVerdict.startsWith('failed: '), `tampered tiles: verdict "${tileVerdict}"`);
    await page.screenshot({ path: path.join(shots, 'v2-tampered-tile.png'), fullPage: true });
    await page.goto(`${tileBase}/`);
    const rootVerdict = await verdictOf(page);
    assert.ok(rootVerdict.startsWith('failed: '), `checkpoint over tampered tiles: verdict "${rootVerdict}"`);

    const foreign = [...origins].filter((o) => ![base, noteBase, tileBase].includes(o) && o !== 'null');
    assert.deepStrictEqual(foreign, [], 'the page asks no other host for anything');
    assert.deepStrictEqual(pageErrors, [], 'no script errors');
    step('all checks passed');
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'v2-failure.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    proxies.forEach((p) => p.close());
    await close();
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
