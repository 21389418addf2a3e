// Drives the log explorer in Debian's headless chromium through
// playwright-core (no downloaded browser). Run by tests/explorer.rs with one
// argument, a JSON file naming the server and the entries real clients made.
// Exits non-zero at the first failed expectation; writes screenshots.
'use strict';

const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { step, tamperNote, verdictOf, expectVerified, launch } = require('./common');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const base = config.base; // http://127.0.0.1:PORT of `atesto dev`'s log
const shots = config.screenshots;
fs.mkdirSync(shots, { recursive: true });


// A proxy in front of the log that alters what it answers: `proof` changes
// one hash of every inclusion proof, `checkpoint` one byte of every
// checkpoint signature. Everything else passes through untouched.
function tamperingProxy(mode) {
  const target = new URL(base);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { 'content-type': req.headers['content-type'] || 'application/json' } }, (answer) => {
        const parts = [];
        answer.on('data', (c) => parts.push(c));
        answer.on('end', () => {
          let body = Buffer.concat(parts);
          const type = answer.headers['content-type'] || '';
          if (type.startsWith('application/json') && answer.statusCode === 200) {
            body = Buffer.from(JSON.stringify(tamper(JSON.parse(body.toString('utf8')), mode)));
          }
          const headers = Object.assign({}, answer.headers, { 'content-length': body.length });
          res.writeHead(answer.statusCode, headers);
          res.end(body);
        });
      });
      upstream.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      upstream.end(Buffer.concat(chunks));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function flipHexDigit(text) {
  const last = text[text.length - 1];
  return text.slice(0, -1) + (last === '0' ? '1' : '0');
}

function tamper(value, mode) {
  if (Array.isArray(value)) return value.map((v) => tamper(v, mode));
  if (!value || typeof value !== 'object') return value;
  for (const [key, v] of Object.entries(value)) {
    if (mode === 'proof' && key === 'inclusionProof' && v.hashes.length > 0) {
      v.hashes[0] = flipHexDigit(v.hashes[0]);
    } else if (mode === 'checkpoint' && (key === 'checkpoint' || key === 'signedTreeHead') && typeof v === 'string') {
      value[key] = tamperNote(v);
    } else if (mode === 'checkpoint' && key === 'tree_head_signature' && typeof v === 'string') {
      const raw = Buffer.from(v, 'base64');
      raw[raw.length - 1] ^= 1;
      value[key] = raw.toString('base64');
    } else {
      value[key] = tamper(v, mode);
    }
  }
  return value;
}

// The result table lists the entry with this log index.
async function expectResult(page, what, logIndex) {
  await page.waitForSelector('#results, #no-results, .error', { timeout: 20000 });
  const error = await page.$('.error, #no-results');
  assert.ok(!error, `${what}: ${error && await error.textContent()}`);
  const indexes = await page.$$eval('#results tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
  assert.ok(indexes.includes(String(logIndex)), `${what}: entry ${logIndex} not in ${indexes}`);
}

async function main() {
  const { page, origins, pageErrors, close } = await launch();
  const { email, github, key } = config;

  try {
    step('search by artifact hash (typed as a link)');
    await page.goto(`${base}/?hash=sha256:${email.sha256}`);
    await expectResult(page, 'hash search', email.logIndex);

    step('search by artifact hash (file hashed in the browser)');
    await page.goto(`${base}/`);
    await Promise.all([page.waitForURL(/\?hash=sha256%3A/), page.setInputFiles('#in-hash-file', email.artifact)]);
    assert.ok(page.url().includes(email.sha256), `file hash navigates to its search: ${page.url()}`);
    await expectResult(page, 'file hash search', email.logIndex);

    step('search by email with the keyboard');
    await page.goto(`${base}/`);
    await page.focus('#in-email');
    await page.keyboard.type(email.identity);
    await Promise.all([page.waitForURL(/\?email=/), page.keyboard.press('Enter')]);
    await expectResult(page, 'email search', email.logIndex);
    await page.screenshot({ path: path.join(shots, 'desktop-search.png'), fullPage: true });

    step('search by GitHub workflow SAN');
    await page.goto(`${base}/?${new URLSearchParams({ email: github.identity })}`);
    await expectResult(page, 'SAN search', github.logIndex);

    step('search by certificate PEM file');
    await page.goto(`${base}/`);
    await Promise.all([page.waitForURL(/\?publicKey=/), page.setInputFiles('#in-key-file', email.certificate)]);
    await expectResult(page, 'certificate search', email.logIndex);

    step('search by public key, paged');
    await page.goto(`${base}/?${new URLSearchParams({ publicKey: fs.readFileSync(key.pem, 'utf8') })}`);
    await expectResult(page, 'key search page 1', key.logIndexes[key.logIndexes.length - 1]);
    const heading = await page.textContent('h2');
    assert.ok(heading.startsWith(`${key.logIndexes.length} entries`), `key search counts every entry: ${heading}`);
    const firstPage = await page.$$eval('#results tbody tr', (rows) => rows.length);
    assert.strictEqual(firstPage, 10, 'a page holds ten entries');
    await Promise.all([page.waitForURL(/page=2/), page.click('text=Older')]);
    await expectResult(page, 'key search page 2', key.logIndexes[0]);
    const secondPage = await page.$$eval('#results tbody tr', (rows) => rows.length);
    assert.strictEqual(secondPage, key.logIndexes.length - 10, 'the second page holds the rest');
    await page.screenshot({ path: path.join(shots, 'desktop-search-page-2.png'), fullPage: true });

    step('search by key fingerprint (SHA-256 of the key a real client certified)');
    await page.goto(`${base}/`);
    await page.fill('#in-fingerprint', email.keyFingerprint);
    await Promise.all([page.waitForURL(/\?key=/), page.press('#in-fingerprint', 'Enter')]);
    await expectResult(page, 'fingerprint search', email.logIndex);
    await page.goto(`${base}/?key=${email.keyFingerprint.replace('sha256:', '').toUpperCase()}`);
    await expectResult(page, 'fingerprint search, bare hex', email.logIndex);

    step('a search that finds nothing says so');
    await page.goto(`${base}/?hash=sha256:${'0'.repeat(64)}`);
    await page.waitForSelector('#no-results', { timeout: 20000 });
    assert.match(await page.textContent('#no-results'), /Nothing in the log matches/);

    step('entry by log index: identity shown, verification passes');
    await page.goto(`${base}/?logIndex=${email.logIndex}`);
    await expectVerified(page, 'email entry');
    assert.strictEqual(await page.textContent('#entry-index'), String(email.logIndex));
    assert.strictEqual(await page.textContent('#entry-kind'), 'hashedrekord 0.0.1');
    assert.strictEqual(await page.textContent('.san'), email.identity);
    assert.strictEqual(await page.textContent('.oidc-issuer'), email.issuer);
    await page.screenshot({ path: path.join(shots, 'desktop-entry.png'), fullPage: true });
    // The key's fingerprint links to every entry signed with that key.
    const fingerprintLink = `a[href="/?${new URLSearchParams({ key: email.keyFingerprint })}"]`;
    await Promise.all([page.waitForURL(/\?key=sha256/), page.click(fingerprintLink)]);
    await expectResult(page, 'fingerprint link of the entry view', email.logIndex);

    step('entry by UUID: GitHub workflow extensions shown, verification passes');
    await page.goto(`${base}/?uuid=${github.uuid}`);
    await expectVerified(page, 'GitHub entry');
    assert.strictEqual(await page.textContent('#entry-kind'), github.kind);
    assert.strictEqual(await page.textContent('.san'), github.identity);
    assert.strictEqual(await page.textContent('.oidc-issuer'), github.issuer);
    const extensions = await page.textContent('details[open]');
    assert.ok(extensions.includes(github.repository), `workflow extensions name ${github.repository}: ${extensions}`);
    await page.screenshot({ path: path.join(shots, 'desktop-entry-github.png'), fullPage: true });

    step('checkpoint and consistency');
    await page.goto(`${base}/?checkpoint`);
    await expectVerified(page, 'checkpoint');
    const size = Number(await page.textContent('#tree-size'));
    await page.fill('#in-first', String(Math.max(1, size - 5)));
    await Promise.all([page.waitForURL(/firstSize=/), page.click('#form-consistency button')]);
    await expectVerified(page, 'checkpoint after consistency');
    await expectVerified(page, 'consistency', '#consistency-verdict');
    await page.screenshot({ path: path.join(shots, 'desktop-checkpoint.png'), fullPage: true });

    step('CT log: tree head and a precertificate with its identity');
    await page.goto(`${base}/?ctIndex=0`);
    await expectVerified(page, 'CT entry');
    await expectVerified(page, 'CT tree head signature', '#sth-verdict');
    assert.ok(Number(await page.textContent('#ct-tree-size')) >= 2, 'the CT log holds the precertificates');
    const ctSan = await page.textContent('.san');
    assert.ok([email.identity, github.identity].includes(ctSan), `CT entry 0 names a client identity: ${ctSan}`);
    await page.screenshot({ path: path.join(shots, 'desktop-ct.png'), fullPage: true });

    step('phone width and dark scheme');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/?logIndex=${email.logIndex}`);
    await expectVerified(page, 'email entry on a phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
    await page.screenshot({ path: path.join(shots, 'phone-entry.png'), fullPage: true });
    await page.goto(`${base}/?${new URLSearchParams({ email: email.identity })}`);
    await expectResult(page, 'email search on a phone', email.logIndex);
    await page.screenshot({ path: path.join(shots, 'phone-search.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/?uuid=${github.uuid}`);
    await expectVerified(page, 'dark entry');
    await page.screenshot({ path: path.join(shots, 'phone-dark-entry.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 900 });

    step('a tampered inclusion proof fails');
    const proofProxy = await tamperingProxy('proof');
    const proofBase = `http://127.0.0.1:${proofProxy.address().port}`;
    await page.goto(`${proofBase}/?logIndex=${email.logIndex}`);
    const proofVerdict = await verdictOf(page);
    assert.ok(proofVerdict.startsWith('failed: '), `tampered proof: verdict "${proofVerdict}"`);
    assert.match(proofVerdict, /inclusion proof/);
    await page.screenshot({ path: path.join(shots, 'desktop-tampered-proof.png'), fullPage: true });
    proofProxy.close();

    step('a tampered checkpoint signature fails');
    const noteProxy = await tamperingProxy('checkpoint');
    const noteBase = `http://127.0.0.1:${noteProxy.address().port}`;
    await page.goto(`${noteBase}/?logIndex=${email.logIndex}`);
    const noteVerdict = await verdictOf(page);
    assert.ok(noteVerdict.startsWith('failed: '), `tampered checkpoint: verdict "${noteVerdict}"`);
    assert.match(noteVerdict, /checkpoint signature/);
    await page.goto(`${noteBase}/?checkpoint`);
    const headVerdict = await verdictOf(page);
    assert.ok(headVerdict.startsWith('failed: '), `tampered tree head: verdict "${headVerdict}"`);
    await page.goto(`${noteBase}/?ctIndex=0`);
    const sthVerdict = await verdictOf(page, '#sth-verdict');
    assert.ok(sthVerdict.startsWith('failed: '), `tampered CT tree head: verdict "${sthVerdict}"`);
    assert.match(sthVerdict, /tree head signature/);
    noteProxy.close();

    const foreign = [...origins].filter((o) => ![base, proofBase, noteBase].includes(o) && o !== 'null');
    assert.deepStrictEqual(foreign, [], 'the page asks no other host for anything');
    assert.deepStrictEqual(pageErrors, [], 'no script errors');
    step('all checks passed');
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
