// Atesto log explorer: plain JavaScript, no framework and no build step.
// The same page serves the Rekor v1 log, the CT log and the Rekor v2 log
// (on its own listener, read from its tiles alone).
// Every view is a link (the query string names it), every answer the log
// gives is checked here: Merkle proofs recomputed with SHA-256, checkpoint
// and SET signatures verified with WebCrypto against the log's public key.
'use strict';

const PAGE_SIZE = 10; // the most /api/v1/log/entries/retrieve answers at once

// ---------------------------------------------------------------------------
// Bytes

const utf8 = new TextEncoder();
const fromUtf8 = (bytes) => new TextDecoder().decode(bytes);

function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function fromHex(text) {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error('not hexadecimal');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

function fromBase64(text) {
  const bin = atob(text.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function subtle() {
  if (!window.crypto || !window.crypto.subtle) {
    throw new Error('this page is not in a secure context (HTTPS or localhost), so WebCrypto is unavailable');
  }
  return window.crypto.subtle;
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

function pemBlocks(text) {
  const blocks = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  let m;
  while ((m = re.exec(text)) !== null) blocks.push({ label: m[1], der: fromBase64(m[2]) });
  return blocks;
}

// ---------------------------------------------------------------------------
// RFC 9162 Merkle trees (section 2.1)

const leafHash = (data) => sha256(concat(Uint8Array.of(0), data));
const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

// 2.1.3.2: the root an inclusion proof leads to, or an Error.
async function rootFromInclusion(index, size, leaf, proof) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) throw new Error(`log index ${index} is not below the tree size ${size}`);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Error('the inclusion proof is longer than the tree is deep');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('the inclusion proof is shorter than the tree is deep');
  return r;
}

// 2.1.4.2: throws unless `proof` shows the tree of `first` leaves is a prefix
// of the tree of `second` leaves.
async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  let fn = BigInt(first);
  let sn = BigInt(second);
  if (fn < 1n || fn > sn) throw new Error(`sizes ${first} and ${second} cannot be compared`);
  if (fn === sn) {
    if (proof.length !== 0) throw new Error('equal sizes need an empty proof');
    if (!equalBytes(firstRoot, secondRoot)) throw new Error('equal sizes with different roots');
    return;
  }
  let path = proof.slice();
  if ((fn & (fn - 1n)) === 0n) path.unshift(firstRoot);
  if (path.length === 0) throw new Error('the consistency proof is empty');
  fn -= 1n; sn -= 1n;
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new Error('the consistency proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('the consistency proof is too short');
  if (!equalBytes(fr, firstRoot)) throw new Error('the proof does not lead to the older root');
  if (!equalBytes(sr, secondRoot)) throw new Error('the proof does not lead to the newer root');
}

// ---------------------------------------------------------------------------
// DER, just enough for certificates, keys and ECDSA signatures

function derRead(bytes, at) {
  if (at + 2 > bytes.length) throw new Error('truncated DER');
  const tag = bytes[at];
  let len = bytes[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > bytes.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[start + i];
    start += n;
  }
  const end = start + len;
  if (end > bytes.length) throw new Error('truncated DER');
  return { tag, start, end, bytes, at };
}

function derChildren(node) {
  const out = [];
  for (let at = node.start; at < node.end;) {
    const child = derRead(node.bytes, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

const derContent = (node) => node.bytes.subarray(node.start, node.end);
const derWhole = (node) => node.bytes.subarray(node.at, node.end);

function derOid(node) {
  const b = derContent(node);
  const arcs = [];
  let value = 0;
  for (let i = 0; i < b.length; i++) {
    value = value * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

function derTime(node) {
  const s = fromUtf8(derContent(node));
  const full = node.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? '19' : '20') + s : s;
  return new Date(`${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)}T${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)}Z`);
}

// An ECDSA signature as WebCrypto wants it: r || s, each `size` bytes.
function derSignatureToRaw(der, size) {
  const seq = derRead(der, 0);
  const [r, s] = derChildren(seq);
  if (!r || !s || r.tag !== 2 || s.tag !== 2) throw new Error('malformed ECDSA signature');
  const fixed = (node) => {
    let b = derContent(node);
    while (b.length > size && b[0] === 0) b = b.subarray(1);
    if (b.length > size) throw new Error('malformed ECDSA signature');
    return concat(new Uint8Array(size - b.length), b);
  };
  return concat(fixed(r), fixed(s));
}

const NAME_ATTRIBUTES = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '1.2.840.113549.1.9.1': 'E' };

function derName(node) {
  const parts = [];
  for (const rdn of derChildren(node)) {
    for (const atv of derChildren(rdn)) {
      const [type, value] = derChildren(atv);
      const oid = derOid(type);
      parts.push(`${NAME_ATTRIBUTES[oid] || oid}=${fromUtf8(derContent(value))}`);
    }
  }
  return parts.join(', ');
}

// Fulcio's certificate extensions, 1.3.6.1.4.1.57264.1.N. Arcs 1-6 hold raw
// UTF-8 text, the later ones a DER UTF8String.
const FULCIO_PREFIX = '1.3.6.1.4.1.57264.1.';
const FULCIO_NAMES = {
  1: 'Issuer (v1)', 2: 'GitHub workflow trigger', 3: 'GitHub workflow SHA', 4: 'GitHub workflow name',
  5: 'GitHub workflow repository', 6: 'GitHub workflow ref', 8: 'Issuer', 9: 'Build signer URI',
  10: 'Build signer digest', 11: 'Runner environment', 12: 'Source repository URI',
  13: 'Source repository digest', 14: 'Source repository ref', 15: 'Source repository identifier',
  16: 'Source repository owner URI', 17: 'Source repository owner identifier', 18: 'Build config URI',
  19: 'Build config digest', 20: 'Build trigger', 21: 'Run invocation URI',
  22: 'Source repository visibility at signing', 23: 'Deployment environment', 24: 'Token subject',
};

const KEY_ALGORITHMS = { '1.2.840.10045.2.1': 'ECDSA', '1.2.840.113549.1.1.1': 'RSA', '1.3.101.112': 'Ed25519' };
const CURVES = { '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521' };

function describeSpki(node) {
  const [alg] = derChildren(node);
  const [algOid, param] = derChildren(alg);
  const name = KEY_ALGORITHMS[derOid(algOid)] || derOid(algOid);
  const curve = param && param.tag === 6 ? CURVES[derOid(param)] || derOid(param) : '';
  return curve ? `${name} ${curve}` : name;
}

function parseTbs(tbs) {
  const items = derChildren(tbs);
  let i = items[0].tag === 0xa0 ? 1 : 0;
  const serial = toHex(derContent(items[i++]));
  i++; // signature algorithm
  const issuer = derName(items[i++]);
  const [notBefore, notAfter] = derChildren(items[i++]).map(derTime);
  const subject = derName(items[i++]);
  const spki = items[i++];
  const cert = { serial, issuer, notBefore, notAfter, subject, spki: derWhole(spki), keyType: describeSpki(spki), sans: [], fulcio: [], isCa: false };
  for (; i < items.length; i++) {
    if (items[i].tag !== 0xa3) continue;
    for (const ext of derChildren(derChildren(items[i])[0])) {
      const parts = derChildren(ext);
      const oid = derOid(parts[0]);
      const value = derContent(parts[parts.length - 1]);
      if (oid === '2.5.29.17') {
        for (const name of derChildren(derRead(value, 0))) {
          if (name.tag === 0x81 || name.tag === 0x86) cert.sans.push(fromUtf8(derContent(name)));
          else if (name.tag === 0xa0) {
            const [, inner] = derChildren(name);
            if (inner) cert.sans.push(fromUtf8(derContent(derChildren(inner)[0] || inner)));
          }
        }
      } else if (oid === '2.5.29.19') {
        const bc = derChildren(derRead(value, 0));
        cert.isCa = bc.length > 0 && bc[0].tag === 1 && derContent(bc[0])[0] !== 0;
      } else if (oid.startsWith(FULCIO_PREFIX)) {
        const arc = Number(oid.slice(FULCIO_PREFIX.length));
        let text;
        try { text = arc <= 6 ? fromUtf8(value) : fromUtf8(derContent(derRead(value, 0))); } catch (e) { text = toHex(value); }
        cert.fulcio.push({ arc, name: FULCIO_NAMES[arc] || oid, value: text });
      }
    }
  }
  return cert;
}

function parseCertificate(der) {
  const [tbs] = derChildren(derRead(der, 0));
  return Object.assign(parseTbs(tbs), { der });
}

// ---------------------------------------------------------------------------
// The server

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const reply = await fetch(path, init);
  const text = await reply.text();
  if (!reply.ok) {
    let message = text;
    try { message = JSON.parse(text).message || text; } catch (e) { /* not JSON */ }
    throw new ApiError(reply.status, `${reply.status}: ${message}`);
  }
  return /(publicKey|public-key)$/.test(path) ? text : JSON.parse(text);
}

let logKeyPromise;
// The log's public key: its SPKI and the WebCrypto key made from it.
function logKey() {
  logKeyPromise = logKeyPromise || (async () => {
    const pem = await api('/api/v1/log/publicKey');
    return Object.assign({ pem }, await p256Key(pem));
  })();
  return logKeyPromise;
}

// A log's ECDSA P-256 key from its PEM: the SPKI, the WebCrypto key and the
// key's SHA-256 (Rekor's key hint, CT's log ID).
async function p256Key(pem) {
  const [block] = pemBlocks(pem);
  if (!block) throw new Error('the log did not answer a PEM public key');
  const type = describeSpki(derRead(block.der, 0));
  if (type !== 'ECDSA P-256') throw new Error(`this page verifies ECDSA P-256 log keys; the log uses ${type}`);
  const key = await subtle().importKey('spki', block.der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return { spki: block.der, key, id: await sha256(block.der) };
}

async function verifyEcdsa(key, derSignature, message) {
  return subtle().verify({ name: 'ECDSA', hash: 'SHA-256' }, key, derSignatureToRaw(derSignature, 32), message);
}

// A C2SP signed note: the checkpoint body and its signature lines.
function parseCheckpoint(note) {
  const blank = note.indexOf('\n\n');
  if (blank < 0) throw new Error('the checkpoint has no signature block');
  const text = note.slice(0, blank + 1);
  const lines = text.split('\n');
  if (lines.length < 4) throw new Error('the checkpoint body is too short');
  const size = lines[1];
  if (!/^[0-9]+$/.test(size)) throw new Error('the checkpoint size is not a number');
  const signatures = [];
  for (const line of note.slice(blank + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (m) {
      const raw = fromBase64(m[2]);
      signatures.push({ name: m[1], hint: raw.subarray(0, 4), signature: raw.subarray(4) });
    }
  }
  return { text, origin: lines[0], size: BigInt(size), root: fromBase64(lines[2]), signatures };
}

// Throws unless one signature line is the log key's and verifies.
async function verifyCheckpointSignature(checkpoint) {
  const key = await logKey();
  const mine = checkpoint.signatures.filter((s) => equalBytes(s.hint, key.id.subarray(0, 4)));
  if (mine.length === 0) throw new Error('no checkpoint signature carries the log key\'s id');
  for (const s of mine) {
    let good = false;
    try { good = await verifyEcdsa(key.key, s.signature, utf8.encode(checkpoint.text)); } catch (e) { good = false; }
    if (good) return;
  }
  throw new Error('the checkpoint signature does not verify with the log key');
}

// ---------------------------------------------------------------------------
// DOM

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v; else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function fields(pairs) {
  return h('dl', { class: 'fields' }, pairs.filter((p) => p && p[1] !== undefined && p[1] !== '').flatMap(([k, v, attrs]) => [h('dt', null, k), h('dd', attrs || null, v)]));
}

const main = () => document.getElementById('main');

function show(...nodes) {
  main().replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
}

function failure(message) {
  return h('p', { class: 'error', role: 'alert' }, message);
}

function link(params, text) {
  return h('a', { href: '/?' + new URLSearchParams(params).toString() }, text);
}

function time(seconds) {
  return new Date(Number(seconds) * 1000).toISOString().replace('.000Z', 'Z');
}

// The verdict box: "verified" once every check passed, "failed: why" at the first that did not.
function verdictBox(title) {
  const headline = h('span', { class: 'verdict-text' }, 'checking…');
  const list = h('ul', { class: 'checks' });
  const box = h('div', { class: 'verdict pending', id: 'verdict', role: 'status', 'data-verdict': 'pending' }, `${title}: `, headline, list);
  return {
    box,
    passed(what) { list.append(h('li', null, `\u2713 ${what}`)); },
    done() { box.className = 'verdict ok'; box.dataset.verdict = 'verified'; headline.textContent = 'verified'; },
    fail(why) { box.className = 'verdict bad'; box.dataset.verdict = 'failed'; headline.textContent = `failed: ${why}`; },
  };
}

// ---------------------------------------------------------------------------
// Rekor entries

function decodeEntry(uuid, value) {
  const body = fromBase64(value.body);
  let parsed = null;
  try { parsed = JSON.parse(fromUtf8(body)); } catch (e) { parsed = null; }
  return { uuid, value, body, parsed };
}

function firstEntry(answer) {
  const [uuid] = Object.keys(answer);
  if (!uuid) throw new Error('the log answered no entry');
  return decodeEntry(uuid, answer[uuid]);
}

// Every certificate and key an entry body carries (as base64 PEM strings,
// whatever the kind), in the order they appear.
function entryPems(spec) {
  const found = [];
  const walk = (v) => {
    if (typeof v === 'string') {
      if (v.length < 40) return;
      let text;
      try { text = fromUtf8(fromBase64(v)); } catch (e) { return; }
      for (const block of pemBlocks(text)) found.push(block);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(spec);
  return found;
}

// The signed artifact's digest, for the kinds that sign an artifact directly
// (DSSE kinds show their envelope and payload hashes instead).
function digestOf(spec) {
  const hash = spec && spec.data && spec.data.hash;
  return hash ? `${hash.algorithm}:${hash.value}` : '';
}

function identityOf(entry) {
  const spec = entry.parsed && entry.parsed.spec;
  for (const block of entryPems(spec)) {
    if (block.label !== 'CERTIFICATE') continue;
    try {
      const cert = parseCertificate(block.der);
      if (cert.sans.length) return cert.sans.join(', ');
    } catch (e) { /* shown as undecodable in the entry view */ }
  }
  return entryPems(spec).length ? 'public key' : '';
}

// Whether this listener answers Rekor v1 searches (the Rekor v2 one does not).
let searchable = false;

// The key's fingerprint (SHA-256 of its DER SubjectPublicKeyInfo), linked
// to the search for every entry signed with that key where there is one.
async function fingerprintLink(spki) {
  const fingerprint = toHex(await sha256(spki));
  return searchable ? link({ key: `sha256:${fingerprint}` }, fingerprint) : fingerprint;
}

async function certificateCard(block, title) {
  if (block.label !== 'CERTIFICATE') {
    const spkiNode = derRead(block.der, 0);
    return h('div', { class: 'card' }, h('h3', null, title),
      fields([['Type', describeSpki(spkiNode)], ['SHA-256 of the key', await fingerprintLink(block.der), { class: 'mono' }]]),
      h('details', null, h('summary', null, 'PEM'), h('pre', null, `-----BEGIN ${block.label}-----\n${toBase64(block.der).replace(/.{64}/g, '$&\n')}\n-----END ${block.label}-----`)));
  }
  let cert;
  try { cert = parseCertificate(block.der); } catch (e) { return h('div', { class: 'card' }, h('h3', null, title), failure(`certificate not decodable: ${e.message}`)); }
  const issuerExt = cert.fulcio.find((f) => f.arc === 8) || cert.fulcio.find((f) => f.arc === 1);
  const pairs = [
    ['Subject alternative name', cert.sans.join(', '), { class: 'san' }],
    ['OIDC issuer', issuerExt ? issuerExt.value : '', { class: 'oidc-issuer' }],
    ['Valid', `${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}`],
    ['Issued by (chain)', cert.issuer],
    ['Subject', cert.subject],
    ['Key', cert.keyType],
    ['Serial', cert.serial, { class: 'mono' }],
    ['SHA-256 of the key', await fingerprintLink(cert.spki), { class: 'mono' }],
    ['SHA-256 of the certificate', toHex(await sha256(block.der)), { class: 'mono' }],
  ];
  const extensions = cert.fulcio.filter((f) => f !== issuerExt && f.arc !== 1);
  return h('div', { class: 'card' }, h('h3', null, title), fields(pairs),
    extensions.length ? h('details', { open: true }, h('summary', null, 'Fulcio extensions (workflow and build)'), fields(extensions.map((f) => [f.name, f.value]))) : null);
}

// What the body says about its DSSE payload, where the kind records it.
function envelopeFacts(spec) {
  const envelope = spec && spec.content && spec.content.envelope;
  const pairs = [];
  if (envelope && envelope.payloadType) pairs.push(['DSSE payload type', envelope.payloadType]);
  if (envelope && envelope.payload) {
    try {
      const statement = JSON.parse(fromUtf8(fromBase64(envelope.payload)));
      if (statement.predicateType) pairs.push(['in-toto predicate type', statement.predicateType]);
      if (statement._type) pairs.push(['in-toto statement type', statement._type]);
    } catch (e) { /* not an in-toto statement */ }
  }
  if (spec && spec.envelopeHash) pairs.push(['DSSE envelope hash', `${spec.envelopeHash.algorithm}:${spec.envelopeHash.value}`]);
  if (spec && spec.payloadHash) pairs.push(['DSSE payload hash', `${spec.payloadHash.algorithm}:${spec.payloadHash.value}`]);
  return pairs;
}

async function showEntry(entry) {
  const { value, parsed } = entry;
  const kind = parsed ? `${parsed.kind} ${parsed.apiVersion}` : 'undecodable body';
  const spec = parsed && parsed.spec;
  const proof = value.verification && value.verification.inclusionProof;
  const verdict = verdictBox('Inclusion in the log');
  const facts = [
    ['Kind', kind, { id: 'entry-kind' }],
    ['Log index', String(value.logIndex), { id: 'entry-index' }],
    ['Integrated', time(value.integratedTime)],
    ['UUID', entry.uuid, { class: 'mono', id: 'entry-uuid' }],
    ['Artifact', digestOf(spec) ? link({ hash: digestOf(spec) }, digestOf(spec)) : '', { class: 'mono' }],
    ...envelopeFacts(spec),
  ];
  if (spec && spec.envelopeHash && !(spec.content && spec.content.envelope)) {
    facts.push(['Payload type', 'not recorded: a dsse entry keeps only the hashes of the envelope and its payload']);
  }
  const cards = [];
  const pems = entryPems(spec);
  for (let i = 0; i < pems.length; i++) {
    cards.push(await certificateCard(pems[i], pems[i].label === 'CERTIFICATE' ? 'Signing certificate' : 'Public key'));
  }
  show(
    h('h2', null, `Entry ${value.logIndex}`),
    verdict.box,
    fields(facts),
    ...cards,
    h('details', null, h('summary', null, 'Body as recorded'), h('pre', null, parsed ? JSON.stringify(parsed, null, 2) : toBase64(entry.body))),
    proof ? h('details', null, h('summary', null, 'Inclusion proof and checkpoint'), h('pre', null, JSON.stringify(proof, null, 2))) : null,
  );
  try {
    await verifyEntry(entry, verdict);
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
  }
}

async function verifyEntry(entry, verdict) {
  const { value } = entry;
  const proof = value.verification && value.verification.inclusionProof;
  if (!proof) throw new Error('the log sent no inclusion proof');
  const leaf = await leafHash(entry.body);
  if (!entry.uuid.toLowerCase().endsWith(toHex(leaf))) throw new Error('the UUID does not name the leaf hash of this body');
  verdict.passed(`leaf hash ${toHex(leaf).slice(0, 16)}… matches the UUID`);
  const hashes = proof.hashes.map(fromHex);
  const root = await rootFromInclusion(proof.logIndex, proof.treeSize, leaf, hashes);
  if (toHex(root) !== String(proof.rootHash).toLowerCase()) throw new Error('the inclusion proof does not lead to the root hash');
  verdict.passed(`inclusion proof recomputed to the root of a tree of ${proof.treeSize}`);
  const checkpoint = parseCheckpoint(proof.checkpoint);
  if (checkpoint.size !== BigInt(proof.treeSize) || !equalBytes(checkpoint.root, root)) {
    throw new Error('the checkpoint names another tree than the proof');
  }
  await verifyCheckpointSignature(checkpoint);
  verdict.passed(`checkpoint signed by the log (${checkpoint.origin})`);
  if (value.verification.signedEntryTimestamp) {
    // RFC 8785 JSON of the four signed fields: keys sorted, no spaces.
    const signed = `{"body":${JSON.stringify(value.body)},"integratedTime":${value.integratedTime},"logID":${JSON.stringify(value.logID)},"logIndex":${value.logIndex}}`;
    const key = await logKey();
    let good = false;
    try { good = await verifyEcdsa(key.key, fromBase64(value.verification.signedEntryTimestamp), utf8.encode(signed)); } catch (e) { good = false; }
    if (!good) throw new Error('the signed entry timestamp does not verify with the log key');
    verdict.passed('signed entry timestamp verified');
  }
}

// ---------------------------------------------------------------------------
// Search

async function searchQuery(params) {
  const given = (name) => (params.get(name) || '').trim() !== '';
  if (given('hash')) {
    const text = params.get('hash').trim().toLowerCase();
    return { what: `artifact ${text}`, query: { hash: text } };
  }
  if (given('email')) {
    const text = params.get('email').trim();
    // The index keeps email addresses and other SANs under the same key.
    const query = /^[^@\s/]+@[^@\s]+$/.test(text) ? { email: text } : { subject: text };
    return { what: `identity ${text}`, query };
  }
  if (given('key')) {
    // The SHA-256 of the key's DER SubjectPublicKeyInfo, as
    // `openssl pkey -pubin -outform DER | sha256sum` prints it.
    const text = params.get('key').trim().toLowerCase().replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error('a key fingerprint is 64 hexadecimal digits, optionally after sha256:');
    return { what: `key sha256:${text}`, query: { keyFingerprint: `sha256:${text}` } };
  }
  if (given('publicKey')) {
    const text = params.get('publicKey').trim();
    const pem = text.startsWith('-----BEGIN') ? text : fromUtf8(fromBase64(text));
    const [block] = pemBlocks(pem);
    if (!block) throw new Error('the public key must be PEM (a key or a certificate)');
    const label = block.label === 'CERTIFICATE' ? 'certificate' : 'public key';
    return { what: `${label} ${toHex(await sha256(block.der)).slice(0, 16)}…`, query: { publicKey: { format: 'x509', content: toBase64(utf8.encode(pem)) } } };
  }
  return null;
}

async function showSearch(params) {
  const search = await searchQuery(params);
  show(h('p', { class: 'notice' }, `Searching for ${search.what}…`));
  const ids = await api('/api/v1/index/retrieve', search.query);
  const newestFirst = ids.slice().reverse();
  const pages = Math.max(1, Math.ceil(newestFirst.length / PAGE_SIZE));
  const page = Math.min(Math.max(1, Number(params.get('page')) || 1), pages);
  if (newestFirst.length === 0) {
    show(h('h2', null, 'No entries'), h('p', { class: 'notice', id: 'no-results' }, `Nothing in the log matches ${search.what}.`));
    return;
  }
  const slice = newestFirst.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const answer = await api('/api/v1/log/entries/retrieve', { entryUUIDs: slice });
  const entries = answer.map(firstEntry).sort((a, b) => b.value.logIndex - a.value.logIndex);
  const pageLink = (n, text) => {
    const next = new URLSearchParams(params);
    next.set('page', String(n));
    return link(next, text);
  };
  show(
    h('h2', null, `${newestFirst.length} ${newestFirst.length === 1 ? 'entry' : 'entries'} for ${search.what}`),
    h('table', { class: 'results', id: 'results' },
      h('thead', null, h('tr', null, h('th', null, 'Index'), h('th', null, 'Kind'), h('th', null, 'Integrated'), h('th', null, 'Identity'), h('th', null, 'Artifact'))),
      h('tbody', null, entries.map((e) => h('tr', null,
        h('td', { 'data-label': 'Index' }, link({ uuid: e.uuid }, String(e.value.logIndex))),
        h('td', { 'data-label': 'Kind' }, e.parsed ? e.parsed.kind : '?'),
        h('td', { 'data-label': 'Integrated' }, time(e.value.integratedTime)),
        h('td', { 'data-label': 'Identity' }, identityOf(e)),
        h('td', { 'data-label': 'Artifact', class: 'mono' }, digestOf(e.parsed && e.parsed.spec)))))),
    pages > 1 ? h('nav', { class: 'pager', 'aria-label': 'Pages' },
      page > 1 ? pageLink(page - 1, '\u2190 Newer') : null,
      h('span', null, `page ${page} of ${pages}`),
      page < pages ? pageLink(page + 1, 'Older \u2192') : null) : null,
  );
}

// ---------------------------------------------------------------------------
// Checkpoint and consistency

async function showCheckpoint(params) {
  const info = await api('/api/v1/log');
  const key = await logKey();
  const verdict = verdictBox('Latest checkpoint');
  const checkpoint = parseCheckpoint(info.signedTreeHead);
  const firstSize = params.get('firstSize') || '';
  const lastSize = params.get('lastSize') || String(info.treeSize);
  const form = h('form', { action: '/', method: 'get', class: 'search', id: 'form-consistency' },
    h('input', { type: 'hidden', name: 'checkpoint', value: '' }),
    h('label', { for: 'in-first' }, 'Is an older tree a prefix of a newer one?'),
    h('div', { class: 'row' },
      h('input', { id: 'in-first', name: 'firstSize', inputmode: 'numeric', placeholder: 'older size', value: firstSize, 'aria-label': 'older tree size' }),
      h('input', { id: 'in-last', name: 'lastSize', inputmode: 'numeric', placeholder: 'newer size', value: lastSize, 'aria-label': 'newer tree size' }),
      h('button', { type: 'submit' }, 'Check')),
    h('label', { for: 'in-first-root' }, 'Root hash of the older tree you recorded (hex, optional)'),
    h('div', { class: 'row' }, h('input', { id: 'in-first-root', name: 'firstRoot', value: params.get('firstRoot') || '', spellcheck: 'false' })));
  show(
    h('h2', null, 'Latest tree head'),
    verdict.box,
    fields([
      ['Origin', checkpoint.origin],
      ['Tree size', String(info.treeSize), { id: 'tree-size' }],
      ['Root hash', info.rootHash, { class: 'mono' }],
      ['Tree ID', info.treeID],
      ['Log key SHA-256 (log ID)', toHex(key.id), { class: 'mono' }],
    ]),
    h('pre', null, info.signedTreeHead),
    h('details', null, h('summary', null, 'Log public key'), h('pre', null, key.pem)),
    h('h2', null, 'Consistency'),
    form,
    h('div', { id: 'consistency' }),
  );
  try {
    if (checkpoint.size !== BigInt(info.treeSize) || toHex(checkpoint.root) !== info.rootHash) throw new Error('the checkpoint names another tree than the log info');
    await verifyCheckpointSignature(checkpoint);
    verdict.passed('signature verified with the log key');
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
  }
  if (firstSize) await showConsistency(params, info, checkpoint);
}

async function showConsistency(params, info, checkpoint) {
  const out = document.getElementById('consistency');
  const verdict = verdictBox('Consistency');
  verdict.box.id = 'consistency-verdict';
  out.replaceChildren(verdict.box);
  try {
    const first = params.get('firstSize').trim();
    const last = (params.get('lastSize') || String(info.treeSize)).trim();
    if (!/^[0-9]+$/.test(first) || !/^[0-9]+$/.test(last)) throw new Error('sizes must be whole numbers');
    const proof = await api(`/api/v1/log/proof?firstSize=${first}&lastSize=${last}`);
    let firstRoot;
    if (params.get('firstRoot')) {
      firstRoot = fromHex(params.get('firstRoot').trim().toLowerCase());
    } else {
      firstRoot = fromHex((await api(`/api/v1/log/proof?firstSize=1&lastSize=${first}`)).rootHash);
      verdict.passed(`older root taken from the log: ${toHex(firstRoot)}`);
    }
    let lastRoot = fromHex(proof.rootHash);
    if (BigInt(last) === checkpoint.size) {
      if (!equalBytes(lastRoot, checkpoint.root)) throw new Error('the proof\'s newer root is not the signed checkpoint\'s');
      verdict.passed('newer root is the signed checkpoint\'s');
    }
    await verifyConsistency(first, last, firstRoot, lastRoot, proof.hashes.map(fromHex));
    verdict.passed(`tree ${first} is a prefix of tree ${last}`);
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
  }
}

// ---------------------------------------------------------------------------
// RFC 6962 CT log

function readU(bytes, at, n) {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + bytes[at + i];
  return v;
}

// Checks the STH's TreeHeadSignature (RFC 6962 §3.5) with the key the log
// serves at /ct/public-key; reports into `verdict`.
async function verifyTreeHead(sth, verdict) {
  try {
    const log = await p256Key(await api('/ct/public-key'));
    const signed = fromBase64(sth.tree_head_signature);
    if (signed.length < 4 || signed[0] !== 4 || signed[1] !== 3) throw new Error('the tree head signature is not ECDSA with SHA-256');
    const signature = signed.subarray(4);
    if (signature.length !== readU(signed, 2, 2)) throw new Error('the tree head signature has the wrong length');
    const input = new Uint8Array(2 + 8 + 8 + 32);
    input[1] = 1; // version v1 (0), signature_type tree_hash (1)
    const fieldsView = new DataView(input.buffer);
    fieldsView.setBigUint64(2, BigInt(sth.timestamp));
    fieldsView.setBigUint64(10, BigInt(sth.tree_size));
    input.set(fromBase64(sth.sha256_root_hash), 18);
    let good = false;
    try { good = await verifyEcdsa(log.key, signature, input); } catch (e) { good = false; }
    if (!good) throw new Error('the tree head signature does not verify with the log key');
    verdict.passed(`signed by the log key, log ID ${toBase64(log.id)}`);
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
  }
}

async function showCt(params) {
  const sth = await api('/ct/v1/get-sth');
  const sthVerdict = verdictBox('Tree head signature');
  sthVerdict.box.id = 'sth-verdict';
  const index = params.get('ctIndex');
  const form = h('form', { action: '/', method: 'get', class: 'search', id: 'form-ct' },
    h('input', { type: 'hidden', name: 'ct', value: '' }),
    h('label', { for: 'in-ct-index' }, 'Certificate entry by index'),
    h('div', { class: 'row' }, h('input', { id: 'in-ct-index', name: 'ctIndex', inputmode: 'numeric', value: index || '' }), h('button', { type: 'submit' }, 'Open')));
  const head = [
    h('h2', null, 'Certificate Transparency log'),
    fields([
      ['Tree size', String(sth.tree_size), { id: 'ct-tree-size' }],
      ['Timestamp', new Date(sth.timestamp).toISOString()],
      ['Root hash', toHex(fromBase64(sth.sha256_root_hash)), { class: 'mono' }],
    ]),
    sthVerdict.box,
    form,
  ];
  verifyTreeHead(sth, sthVerdict);
  if (index === null || index === '') { show(...head); return; }
  if (!/^[0-9]+$/.test(index)) { show(...head, failure('the index must be a whole number')); return; }
  const answer = await api(`/ct/v1/get-entries?start=${index}&end=${index}`);
  if (!answer.entries || answer.entries.length === 0) { show(...head, h('p', { class: 'notice', id: 'no-results' }, `No CT entry ${index}.`)); return; }
  const { leaf_input: leafInput, extra_data: extraData } = answer.entries[0];
  const leaf = fromBase64(leafInput);
  const entryType = readU(leaf, 10, 2);
  const at = entryType === 1 ? 12 + 32 : 12;
  const len = readU(leaf, at, 3);
  const signed = leaf.subarray(at + 3, at + 3 + len);
  const cert = entryType === 1 ? parseTbs(derRead(signed, 0)) : parseCertificate(signed);
  const extra = fromBase64(extraData);
  const chain = [];
  let pos = entryType === 1 ? 3 + readU(extra, 0, 3) : 0;
  const chainEnd = pos + 3 + readU(extra, pos, 3);
  for (pos += 3; pos < chainEnd && pos < extra.length;) {
    const n = readU(extra, pos, 3);
    try { chain.push(parseCertificate(extra.subarray(pos + 3, pos + 3 + n))); } catch (e) { /* skipped */ }
    pos += 3 + n;
  }
  const verdict = verdictBox('Inclusion in the CT log');
  const issuerExt = cert.fulcio.find((f) => f.arc === 8) || cert.fulcio.find((f) => f.arc === 1);
  show(...head,
    h('h3', null, `Entry ${index}: ${entryType === 1 ? 'precertificate' : 'certificate'}`),
    verdict.box,
    fields([
      ['Logged', new Date(readU(leaf, 2, 8)).toISOString()],
      ['Subject alternative name', cert.sans.join(', '), { class: 'san' }],
      ['OIDC issuer', issuerExt ? issuerExt.value : '', { class: 'oidc-issuer' }],
      ['Valid', `${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}`],
      ['Issuer', cert.issuer],
      ['Serial', cert.serial, { class: 'mono' }],
      ['Chain', chain.map((c) => c.subject).join(' \u2192 ')],
    ]));
  try {
    const hash = await leafHash(leaf);
    const proof = await api(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(toBase64(hash))}&tree_size=${sth.tree_size}`);
    const root = await rootFromInclusion(proof.leaf_index, sth.tree_size, hash, proof.audit_path.map(fromBase64));
    if (!equalBytes(root, fromBase64(sth.sha256_root_hash))) throw new Error('the audit path does not lead to the tree head\'s root');
    verdict.passed(`audit path recomputed to the root of a tree of ${sth.tree_size}`);
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
  }
}

// ---------------------------------------------------------------------------
// Rekor v2: a C2SP tlog-tiles log with no proof API. Everything shown is
// read from its tiles and entry bundles and checked here: the checkpoint's
// signed-note signature (Ed25519 or ECDSA P-256, with WebCrypto), an entry's
// inclusion proof and the consistency of two sizes, both recomputed from the
// hash tiles.

let v2KeyPromise;
// The checkpoint key the v2 log serves: its type, SPKI and WebCrypto key.
function v2Key() {
  v2KeyPromise = v2KeyPromise || (async () => {
    const pem = await api('/api/v2/log/publicKey');
    const [block] = pemBlocks(pem);
    if (!block) throw new Error('the log did not answer a PEM public key');
    const type = describeSpki(derRead(block.der, 0));
    let key;
    if (type === 'Ed25519') key = await subtle().importKey('spki', block.der, { name: 'Ed25519' }, false, ['verify']);
    else if (type === 'ECDSA P-256') key = await subtle().importKey('spki', block.der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    else throw new Error(`this page verifies Ed25519 and ECDSA P-256 checkpoint keys; the log uses ${type}`);
    return { pem, type, spki: block.der, key };
  })();
  return v2KeyPromise;
}

// The key id a signature line starts with: for Ed25519 the C2SP one,
// SHA-256(name || "\n" || 0x01 || key); for ECDSA, SHA-256 of the DER SPKI.
async function v2KeyId(key, name) {
  if (key.type !== 'Ed25519') return sha256(key.spki);
  return sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, 0x01), key.spki.subarray(key.spki.length - 32)));
}

async function verifyV2Checkpoint(checkpoint, verdict) {
  const key = await v2Key();
  const id = await v2KeyId(key, checkpoint.origin);
  const mine = checkpoint.signatures.filter((s) => s.name === checkpoint.origin && equalBytes(s.hint, id.subarray(0, 4)));
  if (mine.length === 0) throw new Error(`no checkpoint signature carries the key id of ${checkpoint.origin}`);
  const text = utf8.encode(checkpoint.text);
  for (const s of mine) {
    let good = false;
    try {
      good = key.type === 'Ed25519'
        ? await subtle().verify({ name: 'Ed25519' }, key.key, s.signature, text)
        : await verifyEcdsa(key.key, s.signature, text);
    } catch (e) { good = false; }
    if (good) {
      verdict.passed(`${key.type} signature of ${checkpoint.origin} verified with the log key`);
      return;
    }
  }
  throw new Error(`the checkpoint's ${key.type} signature does not verify with the log key`);
}

async function fetchBytes(path) {
  const reply = await fetch(path);
  if (!reply.ok) throw new ApiError(reply.status, `${reply.status}: ${path}: ${(await reply.text()).slice(0, 200)}`);
  return new Uint8Array(await reply.arrayBuffer());
}

// C2SP tile path of index `n`: groups of three digits, all but the last
// prefixed with x; `.p/W` for a partial tile of width W.
function tilePath(level, n, width) {
  const digits = n.toString();
  const groups = digits.padStart(Math.ceil(digits.length / 3) * 3, '0').match(/.{3}/g);
  const index = groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
  return `/tile/${level}/${index}${width < 256n ? `.p/${width}` : ''}`;
}

const largestPowerOfTwoBelow = (n) => { let k = 1n; while (k * 2n < n) k *= 2n; return k; };
const isPowerOfTwo = (n) => n > 0n && (n & (n - 1n)) === 0n;
const log2 = (n) => { let l = 0n; while (n > 1n) { n >>= 1n; l += 1n; } return l; };

// The hashes of a tree of `size` leaves, read from the log's tiles: every
// proof below is computed from them, never asked of the server.
class V2Tree {
  constructor(size) { this.size = BigInt(size); this.tiles = new Map(); this.fetched = 0; }

  async tile(level, index) {
    const count = this.size >> (8n * level);
    const left = count - index * 256n;
    const width = left < 256n ? left : 256n;
    const path = tilePath(level, index, width);
    if (!this.tiles.has(path)) {
      this.tiles.set(path, fetchBytes(path).then((bytes) => {
        if (BigInt(bytes.length) !== width * 32n) throw new Error(`tile ${path} holds ${bytes.length} bytes, not ${width * 32n}`);
        this.fetched += 1;
        return bytes;
      }));
    }
    return this.tiles.get(path);
  }

  // The root of the complete subtree of height `height` (leaves: 0) at `index`.
  async node(height, index) {
    if (height % 8n !== 0n) return nodeHash(await this.node(height - 1n, 2n * index), await this.node(height - 1n, 2n * index + 1n));
    const tile = await this.tile(height / 8n, index / 256n);
    const at = Number(index % 256n) * 32;
    return tile.slice(at, at + 32);
  }

  // RFC 9162 MTH of the leaves [start, start + n).
  async mth(start, n) {
    if (isPowerOfTwo(n) && start % n === 0n) return this.node(log2(n), start / n);
    const k = largestPowerOfTwoBelow(n);
    return nodeHash(await this.mth(start, k), await this.mth(start + k, n - k));
  }

  // RFC 9162 2.1.3.1 PATH(m, D[start:start+n]), leaf to root.
  async inclusion(m, start, n) {
    if (n <= 1n) return [];
    const k = largestPowerOfTwoBelow(n);
    if (m < k) return [...await this.inclusion(m, start, k), await this.mth(start + k, n - k)];
    return [...await this.inclusion(m - k, start + k, n - k), await this.mth(start, k)];
  }

  // RFC 9162 2.1.4.1 SUBPROOF(m, D[start:start+n], b).
  async consistency(m, start, n, whole) {
    if (m === n) return whole ? [] : [await this.mth(start, n)];
    const k = largestPowerOfTwoBelow(n);
    if (m <= k) return [...await this.consistency(m, start, k, whole), await this.mth(start + k, n - k)];
    return [...await this.consistency(m - k, start + k, n - k, false), await this.mth(start, k)];
  }

  // The entry at `index`, from its entry bundle (each entry after a
  // big-endian 16-bit length).
  async entry(index) {
    const bundleIndex = index / 256n;
    const left = this.size - bundleIndex * 256n;
    const bytes = await fetchBytes(tilePath('entries', bundleIndex, left < 256n ? left : 256n));
    let at = 0;
    for (let i = 0n; at + 2 <= bytes.length; i++) {
      const len = (bytes[at] << 8) | bytes[at + 1];
      if (at + 2 + len > bytes.length) break;
      if (i === index % 256n) return bytes.slice(at + 2, at + 2 + len);
      at += 2 + len;
    }
    throw new Error(`the entry bundle does not hold entry ${index}`);
  }
}

// The latest checkpoint, parsed and its signature verified into `verdict`.
async function v2Checkpoint(verdict) {
  const note = fromUtf8(await fetchBytes('/checkpoint'));
  const checkpoint = parseCheckpoint(note);
  await verifyV2Checkpoint(checkpoint, verdict);
  return { note, checkpoint };
}

async function showV2Checkpoint(params) {
  const key = await v2Key();
  const verdict = verdictBox('Latest checkpoint');
  const firstSize = params.get('firstSize') || '';
  const form = h('form', { action: '/', method: 'get', class: 'search', id: 'form-consistency' },
    h('label', { for: 'in-first' }, 'Is an older tree a prefix of a newer one? (computed from the tiles)'),
    h('div', { class: 'row' },
      h('input', { id: 'in-first', name: 'firstSize', inputmode: 'numeric', placeholder: 'older size', value: firstSize, 'aria-label': 'older tree size' }),
      h('input', { id: 'in-last', name: 'lastSize', inputmode: 'numeric', placeholder: 'newer size (default: latest)', value: params.get('lastSize') || '', 'aria-label': 'newer tree size' }),
      h('button', { type: 'submit' }, 'Check')),
    h('label', { for: 'in-first-root' }, 'Root hash of the older tree you recorded (hex, optional)'),
    h('div', { class: 'row' }, h('input', { id: 'in-first-root', name: 'firstRoot', value: params.get('firstRoot') || '', spellcheck: 'false' })));
  const facts = h('div');
  show(h('h2', null, 'Rekor v2: latest tree head'), verdict.box, facts,
    h('details', null, h('summary', null, `Log public key (${key.type})`), h('pre', null, key.pem)),
    h('h2', null, 'Consistency'), form, h('div', { id: 'consistency' }));
  let latest;
  try {
    latest = await v2Checkpoint(verdict);
    const { checkpoint } = latest;
    facts.replaceChildren(fields([
      ['Origin', checkpoint.origin],
      ['Tree size', String(checkpoint.size), { id: 'tree-size' }],
      ['Root hash', toHex(checkpoint.root), { class: 'mono' }],
      ['Log ID (key id)', toHex(await v2KeyId(key, checkpoint.origin)), { class: 'mono' }],
    ]), h('pre', null, latest.note));
    if (checkpoint.size > 0n) {
      const root = await new V2Tree(checkpoint.size).mth(0n, checkpoint.size);
      if (!equalBytes(root, checkpoint.root)) throw new Error('the tiles do not hash to the checkpoint\'s root');
      verdict.passed(`the tiles hash to the checkpoint's root of ${checkpoint.size} entries`);
    }
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
    return;
  }
  if (firstSize) await showV2Consistency(params, latest.checkpoint);
}

async function showV2Consistency(params, checkpoint) {
  const verdict = verdictBox('Consistency');
  verdict.box.id = 'consistency-verdict';
  document.getElementById('consistency').replaceChildren(verdict.box);
  try {
    const first = params.get('firstSize').trim();
    const last = (params.get('lastSize') || String(checkpoint.size)).trim();
    if (!/^[0-9]+$/.test(first) || !/^[0-9]+$/.test(last)) throw new Error('sizes must be whole numbers');
    const [m, n] = [BigInt(first), BigInt(last)];
    if (m < 1n || m > n || n > checkpoint.size) throw new Error(`sizes must satisfy 1 ≤ ${first} ≤ ${last} ≤ ${checkpoint.size}`);
    const tree = new V2Tree(checkpoint.size);
    const lastRoot = await tree.mth(0n, n);
    if (n === checkpoint.size) {
      if (!equalBytes(lastRoot, checkpoint.root)) throw new Error('the tiles do not hash to the signed checkpoint\'s root');
      verdict.passed('newer root is the signed checkpoint\'s');
    }
    let firstRoot;
    if (params.get('firstRoot')) {
      firstRoot = fromHex(params.get('firstRoot').trim().toLowerCase());
    } else {
      firstRoot = await tree.mth(0n, m);
      verdict.passed(`older root computed from the tiles: ${toHex(firstRoot)}`);
    }
    const proof = await tree.consistency(m, 0n, n, true);
    await verifyConsistency(first, last, firstRoot, lastRoot, proof);
    verdict.passed(`tree ${first} is a prefix of tree ${last} (a proof of ${proof.length} hashes from ${tree.fetched} tiles)`);
    verdict.done();
  } catch (e) {
    verdict.fail(e.message);
  }
}

async function showV2Entry(indexText) {
  if (!/^[0-9]+$/.test(indexText)) throw new Error('the log index must be a whole number');
  const index = BigInt(indexText);
  const verdict = verdictBox('Verification');
  const facts = h('div');
  show(h('h2', null, `Rekor v2 entry ${index}`), verdict.box, facts);
  try {
    const { checkpoint } = await v2Checkpoint(verdict);
    if (index >= checkpoint.size) throw new ApiError(404, `entry ${index} is not in the log: its signed tree holds ${checkpoint.size} entries`);
    const tree = new V2Tree(checkpoint.size);
    const body = await tree.entry(index);
    facts.replaceChildren(...await v2EntryFacts(index, body));
    const leaf = await leafHash(body);
    const proof = await tree.inclusion(index, 0n, checkpoint.size);
    const root = await rootFromInclusion(index, checkpoint.size, leaf, proof);
    verdict.passed(`inclusion proof of ${proof.length} hashes recomputed from ${tree.fetched} tiles`);
    if (!equalBytes(root, checkpoint.root)) throw new Error('the entry and the tiles do not lead to the signed checkpoint\'s root');
    verdict.passed(`the entry is in the signed tree of ${checkpoint.size} entries`);
    verdict.done();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw e;
    verdict.fail(e.message);
  }
}

// What a hashedRekordV002 body says: the digest, the signature, the key or
// the certificate (with its identity).
async function v2EntryFacts(index, body) {
  let parsed = null;
  try { parsed = JSON.parse(fromUtf8(body)); } catch (e) { parsed = null; }
  const hashed = parsed && parsed.spec && parsed.spec.hashedRekordV002;
  const out = [];
  if (!hashed) {
    out.push(fields([['Log index', String(index), { id: 'entry-index' }], ['Kind', parsed ? `${parsed.kind} ${parsed.apiVersion}` : 'not JSON', { id: 'entry-kind' }]]));
  } else {
    const data = hashed.data || {};
    const signature = hashed.signature || {};
    const verifier = signature.verifier || {};
    // SHA2_256 and its kin, as the artifact hash is written elsewhere: sha256:HEX.
    const algorithm = String(data.algorithm || '').toLowerCase().replace(/^sha2_/, 'sha');
    const digest = data.digest ? `${algorithm}:${toHex(fromBase64(data.digest))}` : '';
    out.push(fields([
      ['Log index', String(index), { id: 'entry-index' }],
      ['Kind', `${parsed.kind} ${parsed.apiVersion}`, { id: 'entry-kind' }],
      ['Artifact digest', digest, { class: 'mono', id: 'entry-digest' }],
      ['Key details', verifier.keyDetails || ''],
      ['Signature', signature.content || '', { class: 'mono' }],
    ]));
    if (verifier.x509Certificate && verifier.x509Certificate.rawBytes) {
      out.push(await certificateCard({ label: 'CERTIFICATE', der: fromBase64(verifier.x509Certificate.rawBytes) }, 'Signing certificate'));
    } else if (verifier.publicKey && verifier.publicKey.rawBytes) {
      out.push(await certificateCard({ label: 'PUBLIC KEY', der: fromBase64(verifier.publicKey.rawBytes) }, 'Public key'));
    }
  }
  out.push(h('details', null, h('summary', null, 'Body as recorded'), h('pre', null, parsed ? JSON.stringify(parsed, null, 2) : toBase64(body))));
  return out;
}

// ---------------------------------------------------------------------------
// Wiring

async function readFileBytes(input) {
  const file = input.files && input.files[0];
  return file ? new Uint8Array(await file.arrayBuffer()) : null;
}

function wireForms() {
  document.getElementById('in-hash-file').addEventListener('change', async (event) => {
    const bytes = await readFileBytes(event.target);
    if (bytes) location.assign('/?' + new URLSearchParams({ hash: 'sha256:' + toHex(await sha256(bytes)) }));
  });
  document.getElementById('in-key-file').addEventListener('change', async (event) => {
    const bytes = await readFileBytes(event.target);
    if (bytes) {
      document.getElementById('in-key').value = fromUtf8(bytes);
      document.getElementById('form-key').requestSubmit();
    }
  });
}

async function route() {
  const params = new URLSearchParams(location.search);
  const [rekor, ct, v2] = await Promise.all([
    fetch('/api/v1/log').then((r) => r.ok, () => false),
    fetch('/ct/v1/get-sth').then((r) => r.ok, () => false),
    fetch('/api/v2/log/publicKey').then((r) => r.ok, () => false),
  ]);
  if (v2 && !rekor) {
    await routeV2(params);
    return;
  }
  searchable = rekor;
  document.getElementById('search').hidden = !rekor;
  document.getElementById('nav-search').hidden = !rekor;
  document.getElementById('nav-checkpoint').hidden = !rekor;
  document.getElementById('nav-ct').hidden = !ct;
  for (const key of ['hash', 'email', 'key', 'publicKey', 'logIndex', 'uuid']) {
    const input = document.querySelector(`#search [name=${key}]`);
    if (input && params.has(key)) input.value = params.get(key);
  }
  const current = params.has('checkpoint') ? 'nav-checkpoint' : params.has('ct') || params.has('ctIndex') || !rekor ? 'nav-ct' : 'nav-search';
  document.getElementById(current).setAttribute('aria-current', 'page');
  try {
    if (params.has('ct') || params.has('ctIndex') || (!rekor && ct)) await showCt(params);
    else if (params.has('checkpoint')) await showCheckpoint(params);
    else if (params.has('logIndex')) {
      const index = params.get('logIndex').trim();
      if (!/^[0-9]+$/.test(index)) throw new Error('the log index must be a whole number');
      await showEntry(firstEntry(await api(`/api/v1/log/entries?logIndex=${index}`)));
    } else if (params.has('uuid')) {
      const uuid = params.get('uuid').trim();
      if (!/^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(uuid)) throw new Error('an entry UUID is 64 or 80 hexadecimal digits');
      await showEntry(firstEntry(await api(`/api/v1/log/entries/${uuid}`)));
    } else if (await searchQuery(params)) await showSearch(params);
    else show(h('p', { class: 'notice' }, 'Search the log above: every search is a link you can share.'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) show(h('h2', null, 'Not found'), h('p', { class: 'notice', id: 'no-results' }, e.message));
    else show(failure(e.message));
  }
}

// The Rekor v2 listener: its checkpoint page, and entries by log index.
async function routeV2(params) {
  document.getElementById('v2-search').hidden = false;
  document.getElementById('nav-search').hidden = true;
  const nav = document.getElementById('nav-v2');
  nav.hidden = false;
  nav.setAttribute('aria-current', 'page');
  if (params.has('logIndex')) document.getElementById('in-v2-index').value = params.get('logIndex');
  try {
    if (params.has('logIndex')) await showV2Entry(params.get('logIndex').trim());
    else await showV2Checkpoint(params);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) show(h('h2', null, 'Not found'), h('p', { class: 'notice', id: 'no-results' }, e.message));
    else show(failure(e.message));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  wireForms();
  route();
});
