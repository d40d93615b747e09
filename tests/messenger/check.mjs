// The customer messenger (web/messenger.js) in headless Chromium (Debian's, driven by
// playwright-core) against a real `supportzen serve` on a loopback port with a fresh
// store (SQLite, or a table in DynamoDB Local), embedded in a host page served by this script from ANOTHER origin (its
// own port). The customer acts in the browser; the agent through the API with
// web/client.js. Run by tests/messenger/run; prints "N passed, M failed" last.
//
// usage: node check.mjs SUPPORTZEN_BINARY CHROMIUM sqlite|dynamodb:TABLE [SCREENSHOT_DIR]

import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { WAIT, check, figures, finish, linksTab, printFigures, test, until } from '../support/browser.mjs';
import { AgentClient, CustomerClient } from '../../web/client.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const [BINARY, CHROMIUM, STORE, SHOTS] = process.argv.slice(2);
const BUDGET = 30 * 1024;
const work = mkdtempSync(join(tmpdir(), 'supportzen-messenger-'));
// `sqlite`: a fresh SQLite file in the temporary directory; `dynamodb:TABLE`: a fresh,
// empty table the run script created (the AWS_* variables point at DynamoDB Local).
if (STORE !== 'sqlite' && !/^dynamodb:[A-Za-z0-9_.-]{3,255}$/.test(STORE ?? '')) {
  console.error(`the store must be sqlite or dynamodb:TABLE, not ${STORE}`);
  process.exit(2);
}
const store = STORE === 'sqlite' ? `sqlite:${join(work, 'messenger.db')}` : STORE;
const agentKey = join(work, 'agent-key.pem');

function startServer() {
  const server = spawn(BINARY, ['serve', '--listen', '127.0.0.1:0', '--store', store, '--agent-key', agentKey,
    '--files', join(work, 'files'), '--outbox', join(work, 'outbox.db')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  server.stderr.on('data', (chunk) => process.stderr.write(chunk));
  return new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) resolve({ server, base: match[1] });
    });
    server.on('exit', (code) => reject(new Error(`supportzen serve exited with ${code}`)));
  });
}

const { server, base } = await startServer();

// Ann, as the host product provisions her; her token as its server computes it.
const EMAIL = 'ann@example.com';
const SECRET = 's3cret';
const put = spawnSync(BINARY, ['users', 'put', '--email', EMAIL, '--secret', SECRET, '--store', store], { encoding: 'utf8' });
if (put.status !== 0) throw new Error(`users put failed: ${put.stderr}`);
const TOKEN = createHmac('sha256', SECRET).update(EMAIL).digest('hex');
// Bob, whom the host page signs in on the same element later.
const BOB = 'bob@example.com';
const putBob = spawnSync(BINARY, ['users', 'put', '--email', BOB, '--secret', 'b0b', '--store', store], { encoding: 'utf8' });
if (putBob.status !== 0) throw new Error(`users put failed: ${putBob.stderr}`);
const BOB_TOKEN = createHmac('sha256', 'b0b').update(BOB).digest('hex');

// The agent, with a token from the local sign-in.
const signIn = await (await fetch(`${base}/console/local/sign-in`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'agent-7', name: 'Sam from Support' }),
})).json();
const agent = new AgentClient({ token: () => signIn.data.token, baseUrl: base });

// The messenger's hashed path, as the demo page names it.
const demo = await (await fetch(`${base}/demo/`)).text();
const scriptPath = demo.match(/<script type="module" src="([^"]+)"/)?.[1];

// The host page, on its own origin: another port of 127.0.0.1.
const HOSTILE = `* { font: italic 31px/3 serif !important; letter-spacing: 4px; color: #f0f !important; box-sizing: content-box; }
div { padding: 40px !important; margin: 20px !important; border: 7px dashed red !important; display: block !important; background: yellow !important; }
button { all: unset; padding: 30px !important; background: lime !important; font-size: 40px !important; text-transform: uppercase; transform: rotate(3deg); }
supportzen-messenger { filter: invert(1); opacity: .3; transform: scale(.5); }`;
const host = createServer((request, response) => {
  const url = new URL(request.url, 'http://host');
  if (url.pathname === '/hostile.css') {
    response.writeHead(200, { 'content-type': 'text/css' });
    response.end(HOSTILE);
    return;
  }
  const hostile = url.searchParams.has('hostile') ? '<link rel="stylesheet" href="/hostile.css">' : '';
  // `created-at` is optional: without it the messenger sends the time of writing.
  const createdAt = url.searchParams.has('no-created-at') ? '' : ' created-at="1679223400"';
  const messenger = url.searchParams.has('bare') ? '' : `<script type="module" src="${base}${scriptPath}"></script>
<supportzen-messenger api="${base}" email="${EMAIL}" token="${TOKEN}" name="Ann" plan-id="5"${createdAt}></supportzen-messenger>`;
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host app</title>${hostile}
<style>#host-button { padding: 4px 8px; font: 16px sans-serif; }</style></head>
<body><main><h1>Host app</h1><p>A page of the product that embeds the messenger.</p><button id="host-button" type="button">Host button</button></main>
${messenger}</body></html>`);
});
await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
const hostUrl = `http://127.0.0.1:${host.address().port}/host.html`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const problems = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
const page = await context.newPage();
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

// The socket passes through the test, which can cut it and refuse new ones for a while.
// It also keeps what the page sends, and lets the test play frames the server does not
// send yet (issue 23's typing and read receipts, whose contract the messenger follows).
const sockets = { cut: false, open: [], pages: [], sent: [] };
await context.routeWebSocket(/\/ws\?ticket=/, (socket) => {
  if (sockets.cut) {
    socket.close({ code: 4000, reason: 'cut by the test' });
    return;
  }
  let upstream = null;
  socket.onMessage((message) => {
    sockets.sent.push(message);
    upstream?.send(message);
  });
  upstream = socket.connectToServer();
  sockets.open.push(upstream);
  sockets.pages.push(socket);
});

const m = (selector, options) => page.locator(`supportzen-messenger ${selector}`, options);
const bubble = (text) => m('.msg', { hasText: text });
const texts = async (id) => (await agent.messages(id, { limit: 100 })).messages.filter((x) => x.author === 'customer').map((x) => x.message);
let chatId = null;

await test('serve serves the messenger under a content hash, immutable, and a stable name; the demo signs a customer in', async () => {
  check(/^\/web\/messenger\.[0-9a-f]{12}\.js$/.test(scriptPath ?? ''), `demo script ${scriptPath}`);
  const hashed = await fetch(`${base}${scriptPath}`);
  check(hashed.status === 200 && hashed.headers.get('cache-control') === 'public, max-age=31536000, immutable', `hashed: ${hashed.status} ${hashed.headers.get('cache-control')}`);
  check(hashed.headers.get('content-type').startsWith('text/javascript'), 'served as JavaScript');
  const body = await hashed.text();
  const clientPath = body.match(/from '\.\/(client\.[0-9a-f]{12}\.js)'/)?.[1];
  check(clientPath, 'the hashed messenger imports the hashed client');
  const client = await fetch(`${base}/web/${clientPath}`);
  check(client.status === 200 && client.headers.get('cache-control').includes('immutable'), `client: ${client.status}`);
  const stable = await fetch(`${base}/web/messenger.js`);
  check(stable.status === 200 && stable.headers.get('cache-control') === 'no-cache', `stable: ${stable.headers.get('cache-control')}`);
  check((await fetch(`${base}/web/messenger.000000000000.js`)).status === 404, 'another hash is not found');
  // Everything the messenger loads, gzipped: itself and client.js.
  const clientText = await client.text();
  const gz = gzipSync(Buffer.from(body), { level: 9 }).length + gzipSync(Buffer.from(clientText), { level: 9 }).length;
  figures.push(`messenger.js + client.js as served: ${Buffer.byteLength(body) + Buffer.byteLength(clientText)} bytes, ${gz} bytes gzipped at level 9 (limit ${BUDGET})`);
  check(gz <= BUDGET, `${gz} bytes gzipped, over ${BUDGET}`);
  // The demo page's token is the demo customer's: the API takes it.
  const token = demo.match(/token="([0-9a-f]{64})"/)?.[1];
  const listed = await fetch(`${base}/api/client/conversations?kind=chat`, { headers: { authorization: `Bearer ${token}`, 'x-supportzen-email': 'demo@example.com' } });
  check(listed.status === 200, `the demo token: ${listed.status}`);
  const { request } = await import('node:http');
  const wrongHost = await new Promise((resolve, reject) => {
    request(`${base}/demo/`, { headers: { host: 'evil.example' } }, (r) => { r.resume(); resolve(r.statusCode); }).on('error', reject).end();
  });
  check(wrongHost === 403, `a non-loopback Host: ${wrongHost}`);
});

await test('the README\'s token snippets (Node, Python) compute what supportzen sign does', async () => {
  const readme = readFileSync(join(HERE, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The customer messenger'));
  const block = (lang) => section.match(new RegExp('```' + lang + '\n([\\s\\S]*?)```'))?.[1];
  const [js, python] = [block('js'), block('python')];
  check(js && python && block('ruby') && block('php'), 'the four snippets are in the README');
  const module = join(work, 'token.mjs');
  writeFileSync(module, js);
  const { supportzenToken } = await import(module);
  for (const [email, secret] of [[EMAIL, SECRET], ['zoë@example.com', 'pässwörd-∑']]) {
    const signed = spawnSync(BINARY, ['sign', '--email', email, '--secret', secret], { encoding: 'utf8' });
    check(signed.status === 0, `supportzen sign: ${signed.stderr}`);
    const expected = signed.stdout.trim();
    check(supportzenToken(email, secret) === expected, `Node: ${supportzenToken(email, secret)} vs ${expected}`);
    const py = spawnSync('python3', ['-c', `${python}\nimport sys\nprint(supportzen_token(sys.argv[1], sys.argv[2]))`, email, secret], { encoding: 'utf8' });
    check(py.status === 0 && py.stdout.trim() === expected, `Python: ${py.stdout}${py.stderr} vs ${expected}`);
  }
  check(supportzenToken(EMAIL, SECRET) === TOKEN, 'the token the host page carries');
});

await test('the demo page: the messenger under its strict CSP, a demo customer\'s chat reaching the agents', async () => {
  // A context of its own: the main one's socket routing stays with the main page.
  const own = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const tab = await own.newPage();
  const refusals = [];
  tab.on('console', (message) => { if (/Content Security Policy|Refused to/.test(message.text())) refusals.push(message.text()); });
  tab.on('pageerror', (error) => refusals.push(error.message));
  await tab.goto(`${base}/demo/`);
  await tab.locator('supportzen-messenger .launcher').click();
  await tab.locator('supportzen-messenger .actions button', { hasText: 'New chat' }).click();
  await tab.locator('supportzen-messenger textarea').fill('Hello from the demo page');
  await tab.locator('supportzen-messenger textarea').press('Enter');
  await tab.locator('supportzen-messenger .msg', { hasText: 'Hello from the demo page' }).locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  const inbox = await agent.inbox({ kind: 'chat' });
  const chat = inbox.conversations.find((c) => c.customer === 'demo@example.com');
  check(chat, 'the demo customer\'s chat is in the agents\' inbox');
  await agent.send(chat.conversationId, { message: 'Hello, demo customer' });
  await tab.locator('supportzen-messenger .msg', { hasText: 'Hello, demo customer' }).waitFor({ timeout: WAIT });
  check(refusals.length === 0, refusals.join('; '));
  await own.close();
});

await test('a customer the API does not know yet asks for a socket once, not every half minute; their first message opens it', async () => {
  // A context of its own: its socket stays out of the one the other checks play frames to.
  const own = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const fresh = await own.newPage();
  // The page's timers on a clock the test moves: five minutes pass in no time.
  await fresh.clock.install();
  const tickets = [];
  fresh.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/client/realtime/ticket') tickets.push(request);
  });
  await fresh.goto(`${hostUrl}?bare`);
  await fresh.evaluate(async ({ src, api }) => {
    await import(src);
    const element = document.createElement('supportzen-messenger');
    element.setAttribute('api', api);
    element.setAttribute('email', 'newcomer@example.com');
    element.setAttribute('token', 'ab'.repeat(32));
    element.setAttribute('created-at', '1679223400');
    document.body.append(element);
  }, { src: `${base}${scriptPath}`, api: base });
  await until('the first ticket asked for', async () => tickets.length >= 1 && (await tickets[0].response())?.status() === 404);
  await fresh.clock.runFor(5 * 60_000);
  const its = (selector, options) => fresh.locator(`supportzen-messenger ${selector}`, options);
  await its('.launcher').click();
  await its('.actions button', { hasText: 'New chat' }).click();
  await its('textarea').fill('Hello, I am new here');
  await its('textarea').press('Enter');
  await its('.msg', { hasText: 'I am new here' }).locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  await until('a ticket answered after the first message', async () => tickets.length >= 2 && (await tickets.at(-1).response())?.status() === 200);
  check(tickets.length === 2, `${tickets.length} tickets asked for: one before writing, one after`);
  await own.close();
});

await test('from another origin: a new chat, the agent replies through the API, the reply appears without a reload', async () => {
  check(new URL(hostUrl).origin !== new URL(base).origin, 'the host page is on another origin');
  await page.goto(hostUrl);
  await m('.launcher').click();
  await m('.actions button', { hasText: 'New chat' }).click();
  await m('textarea').fill('Hi, my invoice shows the wrong plan.');
  await m('textarea').press('Enter');
  await bubble('wrong plan').locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  const inbox = await agent.inbox({ kind: 'chat' });
  chatId = inbox.conversations[0].conversationId;
  check(inbox.conversations[0].customer === EMAIL, 'the chat is Ann\'s');
  await agent.send(chatId, { message: 'Sorry about that: you are back on Premium.' });
  await bubble('back on Premium').waitFor({ timeout: WAIT });
  check((await bubble('back on Premium').textContent()).includes('Sam from Support'), 'the agent\'s name is shown');
  check(problems.length === 0, problems.join('; '));
});

await test('reload shows the history, in order; the unread badge counts a reply that came while closed', async () => {
  await page.reload();
  await m('.launcher').click();
  await m('.item').first().click();
  await bubble('back on Premium').waitFor({ timeout: WAIT });
  const shown = await m('.bubble').allTextContents();
  check(shown.join('|') === 'Hi, my invoice shows the wrong plan.|Sorry about that: you are back on Premium.', shown.join('|'));
  await m('header button[aria-label="Close support chat"]').click();
  await agent.send(chatId, { message: 'Anything else?' });
  await m('.badge:not([hidden])', { hasText: '1' }).waitFor({ timeout: WAIT });
  await m('.launcher').click();
  await bubble('Anything else?').waitFor({ timeout: WAIT });
  await m('.badge[hidden]').waitFor({ state: 'attached', timeout: WAIT });
});

await test('the list drawn again for a reply keeps the keyboard focus on the conversation the customer was on', async () => {
  await m('header button[aria-label="Back to conversations"]').click();
  await m('.item').first().focus();
  await agent.send(chatId, { message: 'One more thing: your next invoice is corrected too.' });
  // The row that shows the reply: a list drawn before it (with a dot of its own) is not the one to check.
  await m('.item', { hasText: 'next invoice is corrected' }).locator('.dot').waitFor({ timeout: WAIT });
  const focused = await page.evaluate(() => {
    const active = document.querySelector('supportzen-messenger').shadowRoot.activeElement;
    return active?.dataset.key ?? active?.tagName ?? 'nothing';
  });
  // Back in the conversation before checking, as the checks after this one expect.
  await m('.item').first().click();
  await bubble('next invoice is corrected').waitFor({ timeout: WAIT });
  check(focused === `conversation-${chatId}`, `the focus is on ${focused}`);
});

await test('offline: three sends wait, then go out once each, in order, and show as sent only then', async () => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const network = (offline) => cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await network(true);
  for (const text of ['offline one', 'offline two', 'offline three']) {
    await m('textarea').fill(text);
    await m('textarea').press('Enter');
  }
  await bubble('offline three').locator('.meta', { hasText: /Waiting|Sending/ }).waitFor({ timeout: WAIT });
  await until('the queue to be retried at least once', async () => (await m('.banner:not([hidden])').count()) > 0);
  for (const text of ['offline one', 'offline two', 'offline three']) {
    check(!(await bubble(text).textContent()).includes('Sent'), `${text} shown as sent while offline`);
  }
  const stored = JSON.parse(await page.evaluate(() => localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':ann@example.com')))));
  check(stored.queue.length === 3 && stored.queue.every((i) => i.key && i.clientMessageId), `the queue is kept: ${JSON.stringify(stored.queue)}`);
  check((await texts(chatId)).every((t) => !t.startsWith('offline')), 'nothing reached the server while offline');
  await network(false);
  for (const text of ['offline one', 'offline two', 'offline three']) {
    await bubble(text).locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  }
  const written = (await texts(chatId)).filter((t) => t.startsWith('offline'));
  check(written.join('|') === 'offline one|offline two|offline three', `stored: ${written.join('|')}`);
  await cdp.detach();
});

await test('a send still queued when the page reloads goes out from the next page, once', async () => {
  // The API's send route unreachable (the rest of the page works): the send waits.
  await page.route('**/api/client/live/chat', (route) => route.abort('internetdisconnected'));
  await m('textarea').fill('sent across a reload');
  await m('textarea').press('Enter');
  await bubble('sent across a reload').locator('.meta', { hasText: 'Waiting for the network' }).waitFor({ timeout: WAIT });
  await page.reload();
  await page.unroute('**/api/client/live/chat');
  await until('the send to be stored', async () => (await texts(chatId)).includes('sent across a reload'));
  await m('.launcher').click();
  await m('.item').first().click();
  await bubble('sent across a reload').waitFor({ timeout: WAIT });
  const stored = (await texts(chatId)).filter((t) => t === 'sent across a reload');
  check(stored.length === 1, `stored ${stored.length} times`);
  const queue = JSON.parse(await page.evaluate(() => localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':ann@example.com')))));
  check(queue.queue.length === 0, `the queue is empty again: ${JSON.stringify(queue.queue)}`);
});

await test('the host page switches the element to another customer: nothing of the last one is sent or shown as theirs', async () => {
  // Ann's send waits for the network; then the host signs Bob in on the same element,
  // token first: for a moment Ann's email goes with Bob's token, and the send meets a 401.
  await page.route('**/api/client/live/chat', (route) => route.abort('internetdisconnected'));
  await m('textarea').fill('written by Ann before the switch');
  await m('textarea').press('Enter');
  await bubble('before the switch').locator('.meta', { hasText: 'Waiting for the network' }).waitFor({ timeout: WAIT });
  await page.unroute('**/api/client/live/chat');
  const signIn = (email, token) => page.evaluate(([e, t]) => {
    const element = document.querySelector('supportzen-messenger');
    element.setAttribute('token', t);
    element.setAttribute('email', e);
  }, [email, token]);
  const bobsList = page.waitForResponse((r) => r.url().includes('/api/client/conversations?')
    && r.request().headers()['x-supportzen-email'] === BOB);
  await signIn(BOB, BOB_TOKEN);
  await bobsList;
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  check((await m('.item').count()) === 0, `Bob is shown ${await m('.item').count()} conversations`);
  // Signed out (no token), then Ann again: her queued send goes out as hers, once.
  await page.evaluate(() => document.querySelector('supportzen-messenger').removeAttribute('token'));
  await signIn(EMAIL, TOKEN);
  await until('Ann\'s send to be stored', async () => (await texts(chatId)).includes('written by Ann before the switch'));
  const bob = new CustomerClient({ email: BOB, token: BOB_TOKEN, baseUrl: base });
  const bobs = await bob.conversations({ kind: 'chat' });
  check(bobs.conversations.length === 0, `Bob has ${bobs.conversations.length} chats`);
  await m('.item').first().click();
  await bubble('before the switch').waitFor({ timeout: WAIT });
  check((await bubble('before the switch').count()) === 1, 'shown once');
  check((await texts(chatId)).filter((t) => t === 'written by Ann before the switch').length === 1, 'stored once');
});

await test('a conversation whose messages cannot be read says so, and trying again shows them', async () => {
  let refused = 0;
  await page.route(`**/api/client/conversations/${chatId}/messages*`, (route) => {
    refused += 1;
    return route.fulfill({ status: 503, contentType: 'application/json', headers: { 'access-control-allow-origin': '*' },
      body: JSON.stringify({ status: 'error', message: 'unavailable', data: null, error: { code: 'unavailable', message: 'unavailable' } }) });
  });
  await m('header button[aria-label="Back to conversations"]').click();
  await m('.item').first().click();
  await m('[role=alert]', { hasText: 'The messages could not be loaded' }).waitFor({ timeout: WAIT });
  check(refused > 0, 'the read was refused');
  await page.unroute(`**/api/client/conversations/${chatId}/messages*`);
  await m('[role=alert] button', { hasText: 'Try again' }).click();
  await bubble('before the switch').waitFor({ timeout: WAIT });
  check((await m('[role=alert]', { hasText: 'could not be loaded' }).count()) === 0, 'the error is gone');
});

await test('the socket cut and refused for a while: replies written meanwhile appear once each after it reconnects', async () => {
  sockets.cut = true;
  for (const open of sockets.open.splice(0)) open.close({ code: 4000, reason: 'cut' });
  await agent.send(chatId, { message: 'Written while you were away' });
  sockets.cut = false;
  await bubble('Written while you were away').waitFor({ timeout: 45_000 });
  await agent.send(chatId, { message: 'And after it came back' });
  await bubble('And after it came back').waitFor({ timeout: WAIT });
  check((await bubble('Written while you were away').count()) === 1, 'shown once');
});

await test('typing and Seen (issue 23\'s contract, played by the test): shown, sent at most every 2 s, read marks posted', async () => {
  const toPage = (frame) => sockets.pages.at(-1).send(JSON.stringify(frame));
  toPage({ type: 'typing', conversationId: chatId, data: { from: 'agent', agent: { id: 'agent-7', name: 'Sam from Support' } } });
  await m('.typing', { hasText: 'Sam from Support is typing…' }).waitFor({ timeout: WAIT });
  // Typing: a frame goes out (keep typing until one does: the last may be under 2 s ago),
  // then a burst of keystrokes sends at most one per 2 s.
  const before = sockets.sent.length;
  const started = Date.now();
  await until('a typing frame', async () => {
    await m('textarea').fill(`typing ${Date.now()}`);
    return sockets.sent.length > before;
  });
  for (const text of ['t', 'ty', 'typ', 'typi', 'typin', 'typing']) await m('textarea').fill(text);
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
  const frames = sockets.sent.slice(before).map((f) => JSON.parse(f));
  check(frames.every((f) => f.action === 'typing' && f.conversationId === chatId), `typing frames: ${JSON.stringify(frames)}`);
  check(frames.length <= 1 + Math.floor((Date.now() - started) / 2000), `${frames.length} typing frames in ${Date.now() - started} ms`);
  await m('textarea').fill('');
  const mine = await agent.messages(chatId, { limit: 100 });
  const last = mine.messages.filter((x) => x.author === 'customer').at(-1);
  toPage({ id: 'evt_test', type: 'conversation.read', conversationId: chatId, occurredAt: Date.now(), data: { reader: 'agents', upTo: last.messageId } });
  await m(`.msg[data-id="${last.messageId}"] .seen`, { hasText: 'Seen' }).waitFor({ timeout: WAIT });
  check((await m('.seen').count()) === 1, 'Seen under one message');
  // Read marks: a page posts the newest message it showed, naming the customer in the
  // X-SupportZen-Email header (the route answers here from the test).
  const reads = [];
  const fresh = await context.newPage();
  await fresh.route('**/api/client/conversations/*/read', async (route) => {
    reads.push({ url: route.request().url(), email: route.request().headers()['x-supportzen-email'], body: JSON.parse(route.request().postData()) });
    await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ status: 'success', message: 'ok', data: {}, error: null }) });
  });
  await fresh.goto(hostUrl);
  await fresh.locator('supportzen-messenger .launcher').click();
  await fresh.locator('supportzen-messenger .item').first().click();
  const newest = (await agent.messages(chatId, { limit: 1 })).messages[0].messageId;
  const read = await until('a read mark', () => reads.find((r) => r.body.up_to === newest));
  check(read.url.endsWith(`/api/client/conversations/${chatId}/read`) && read.email === EMAIL, JSON.stringify(read));
  await fresh.close();
});

await test('an attachment is uploaded, referenced and shown', async () => {
  // A 160 x 96 PNG: a blue gradient, as a screenshot stands in.
  const [W, H] = [160, 96];
  const rows = [];
  for (let y = 0; y < H; y += 1) {
    const row = [0];
    for (let x = 0; x < W; x += 1) row.push(30 + x, 90 + y, 200);
    rows.push(Buffer.from(row));
  }
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(W, 0);
  header.writeUInt32BE(H, 4);
  header[8] = 8;
  header[9] = 2;
  const png = Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
  await m('input[type=file]').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
  await m('.chip', { hasText: 'dot.png' }).waitFor({ timeout: WAIT });
  await m('textarea').fill('Here is a screenshot');
  await m('textarea').press('Enter');
  await bubble('Here is a screenshot').locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  const page1 = await agent.messages(chatId, { limit: 1 });
  const files = page1.messages[0].attachments;
  check(files.length === 1 && files[0].name === 'dot.png' && files[0].contentType === 'image/png', JSON.stringify(files));
  await page.reload();
  await m('.launcher').click();
  await m('.item').first().click();
  const image = m('img[alt="Attachment: dot.png"]');
  await image.waitFor({ timeout: WAIT });
  await until('the picture to load', () => image.evaluate((img) => img.complete && img.naturalWidth === 160));
});

await test('an attachment link read over ten minutes ago is read again before it is followed; a picture that fails, once', async () => {
  const steps = await agent.upload(new File(['1. Open Billing\n2. Refunds\n'], 'steps.txt', { type: 'text/plain' }));
  await agent.send(chatId, { message: 'Here are the steps.', attachments: [steps] });
  // The API's links last 15 minutes: this tab's clock is moved on.
  const { context: later, tab, reads, refused } = await linksTab(browser, `/${chatId}/messages`, problems);
  // A message read again for its links is read alone (`limit=1`); the other reads of the
  // conversation (its latest page, the catch-up when the socket opens) are not.
  const relinks = () => reads.filter((search) => search.includes('limit=1'));
  try {
    await tab.goto(hostUrl);
    const t = (selector, options) => tab.locator(`supportzen-messenger ${selector}`, options);
    await t('.launcher').click();
    await t('.item').first().click();
    const image = () => t('img[alt="Attachment: dot.png"]');
    await image().waitFor({ timeout: WAIT });
    await until('the refused picture to be read again and load', () => image().evaluate((img) => img.complete && img.naturalWidth === 160));
    check(refused.pictures === 1, `the picture was refused ${refused.pictures} times`);
    check(relinks().length === 1 && relinks()[0].includes('after='), `the refused picture's message was read again once: ${reads.join(' ')}`);

    const link = () => t('.msg', { hasText: 'Here are the steps.' }).locator('a[download="steps.txt"]');
    const [now] = await Promise.all([tab.waitForEvent('download'), link().click()]);
    check(relinks().length === 1, `a fresh link made ${relinks().length - 1} reads`);
    check(readFileSync(await now.path(), 'utf8').startsWith('1. Open Billing'), 'the fresh link gives the file');

    await tab.clock.fastForward('10:01');
    const [again] = await Promise.all([tab.waitForEvent('download'), link().click()]);
    check(relinks().length === 2 && relinks()[1].includes('after='), `a link read ten minutes ago reads its message again first: ${reads.join(' ')}`);
    check(readFileSync(await again.path(), 'utf8').startsWith('1. Open Billing'), 'the new link gives the file');
  } finally {
    await later.close();
  }
});

await test('solved: the messenger asks for a rating, and the agent sees it', async () => {
  await agent.setStatus(chatId, 'solved');
  await m('legend', { hasText: 'How would you rate' }).waitFor({ timeout: WAIT });
  await m('.stars label').nth(3).click();
  await m('.rating textarea').fill('Quick and kind.');
  await m('.rating button[type=submit]').click();
  await m('.rating', { hasText: 'You rated this 4 out of 5' }).waitFor({ timeout: WAIT });
  const seen = await agent.conversation(chatId);
  check(seen.rating?.rating === 4 && seen.rating.comment === 'Quick and kind.', JSON.stringify(seen.rating));
});

await test('axe-core: no serious or critical violation on the list and a conversation', async () => {
  const axeSource = readFileSync(join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const run = async (what) => {
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    figures.push(`axe-core on ${what}: ${result.violations.length} violations (${bad.length} serious or critical), ${result.passes.length} rules passed`);
    check(bad.length === 0, bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(' ')}`).join('; '));
  };
  await run('a solved conversation with its rating');
  await m('header button[aria-label="Back to conversations"]').click();
  await m('.item').first().waitFor({ timeout: WAIT });
  await run('the list');
});

await test('screenshots of the list and a conversation', async () => {
  const dir = SHOTS ?? join(work, 'shots');
  mkdirSync(dir, { recursive: true });
  await m('.item').first().waitFor({ timeout: WAIT });
  await page.locator('supportzen-messenger').screenshot({ path: join(dir, 'messenger-list.png') });
  await m('.item').first().click();
  await bubble('Here is a screenshot').waitFor({ timeout: WAIT });
  await m('img[alt="Attachment: dot.png"]').waitFor({ timeout: WAIT });
  await page.locator('supportzen-messenger').screenshot({ path: join(dir, 'messenger-conversation.png') });
  figures.push(`screenshots in ${SHOTS ? dir : 'a temporary directory (--screenshots writes docs/images/)'}`);
});

await test('closed: the messenger offers a follow-up, which opens a new chat linked to it', async () => {
  await agent.setStatus(chatId, 'closed');
  await m('.note', { hasText: 'This conversation is closed.' }).waitFor({ timeout: WAIT });
  check((await m('form.composer').isHidden()), 'no composer on a closed conversation');
  await m('.note button', { hasText: 'Start a follow-up' }).click();
  await m('textarea').fill('Following up on my invoice');
  await m('textarea').press('Enter');
  await bubble('Following up').locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  const inbox = await agent.inbox({ kind: 'chat' });
  const followUp = inbox.conversations.find((c) => c.followUpOf === chatId);
  check(followUp, `a chat following ${chatId}: ${JSON.stringify(inbox.conversations.map((c) => c.followUpOf))}`);
});

await test('a new chat whose answer is lost is sent again with the same body: stored once, shown as sent', async () => {
  // A host page without `created-at`, so the messenger falls back to the time of
  // writing; the retry, a second or more later, must send it unchanged (the API refuses
  // another body under the same Idempotency-Key with 422).
  const elsewhere = await browser.newContext();
  const lost = await elsewhere.newPage();
  let tries = 0;
  await lost.route('**/api/client/live/create', async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    tries += 1;
    if (tries > 1) return route.continue();
    await route.fetch(); // the server opens the chat...
    return route.abort('connectionreset'); // ...and its answer never arrives
  });
  await lost.goto(`${hostUrl}?no-created-at`);
  const there = (selector, options) => lost.locator(`supportzen-messenger ${selector}`, options);
  await there('.launcher').click();
  await there('.actions button', { hasText: 'New chat' }).click();
  await there('textarea').fill('An answer lost on the way');
  await there('textarea').press('Enter');
  await there('.msg', { hasText: 'answer lost' }).locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: WAIT });
  check(tries >= 2, `${tries} tries`);
  const chats = [];
  for (const c of (await agent.inbox({ kind: 'chat' })).conversations) {
    if ((await texts(c.conversationId)).includes('An answer lost on the way')) chats.push(c.conversationId);
  }
  check(chats.length === 1, `stored in ${chats.length} chats`);
  await elsewhere.close();
});

await test('a ticket of 46 messages: the latest 30 first, earlier ones paged in upward (a failed page said and tried again), each once and in order', async () => {
  const ann = new CustomerClient({ email: EMAIL, token: TOKEN, baseUrl: base });
  const { ticketId } = await ann.createTicket({ message: 'ticket message 0', createdAt: 1679223400 });
  for (let i = 1; i < 46; i += 1) await ann.appendTicket(ticketId, { message: `ticket message ${i}` });
  await page.reload();
  await m('.launcher').click();
  await m('.tabs button', { hasText: 'Tickets' }).click();
  await m('.item', { hasText: ticketId }).click();
  await bubble('ticket message 45').waitFor({ timeout: WAIT });
  check((await m('.bubble').count()) === 30, `${await m('.bubble').count()} shown first`);
  // Not .click(): it scrolls the button into view first, and near the top the messenger
  // pages in by itself, so on a slow machine the page may arrive and hide the button
  // before the click lands (it then waits for the button until it times out).
  // The first try gets no answer: said, and the button stays for another.
  const earlierPage = (url) => url.searchParams.has('before');
  await page.route(earlierPage, (route) => route.abort('connectionreset'));
  await m('button', { hasText: 'Load earlier messages' }).dispatchEvent('click');
  await m('[role=alert]', { hasText: 'Earlier messages could not be loaded' }).waitFor({ timeout: WAIT });
  await page.unroute(earlierPage);
  await m('button', { hasText: 'Load earlier messages' }).dispatchEvent('click');
  await bubble('ticket message 0').waitFor({ timeout: WAIT });
  check(await m('[role=alert]', { hasText: 'Earlier messages could not be loaded' }).count() === 0, 'the failure is no longer said');
  const shown = await m('.bubble').allTextContents();
  const expected = Array.from({ length: 46 }, (_, i) => `ticket message ${i}`);
  check(shown.join('|') === expected.join('|'), `shown: ${shown.length}, first ${shown[0]}, last ${shown.at(-1)}`);
  check(await m('button', { hasText: 'Load earlier messages' }).isHidden(), 'nothing earlier left');
});

await test('a host stylesheet restyling *, div and button leaves the messenger as it was, and the messenger leaves the page as it was', async () => {
  const shot = async (url) => {
    const fresh = await context.newPage();
    await fresh.goto(url);
    await fresh.locator('supportzen-messenger .launcher').click();
    await fresh.locator('supportzen-messenger .item').first().waitFor({ timeout: WAIT });
    const host = await fresh.evaluate(() => {
      const s = getComputedStyle(document.getElementById('host-button'));
      return [s.fontSize, s.paddingTop, s.backgroundColor, s.fontFamily].join(' ');
    });
    const png = await fresh.locator('supportzen-messenger').screenshot();
    const items = await fresh.locator('supportzen-messenger .item').allTextContents();
    await fresh.close();
    return { png, host, items };
  };
  const plain = await shot(hostUrl);
  const hostile = await shot(`${hostUrl}?hostile`);
  const bare = await (async () => {
    const fresh = await context.newPage();
    await fresh.goto(`${hostUrl}?bare`);
    const s = await fresh.evaluate(() => { const c = getComputedStyle(document.getElementById('host-button')); return [c.fontSize, c.paddingTop, c.backgroundColor, c.fontFamily].join(' '); });
    await fresh.close();
    return s;
  })();
  check(plain.host === bare, `the messenger changed the host's button: ${plain.host} vs ${bare}`);
  // Compare pixel by pixel, in the browser's canvas.
  const diff = await page.evaluate(async ([a, b]) => {
    const load = (data) => new Promise((resolve, reject) => { const img = new Image(); img.onload = () => resolve(img); img.onerror = reject; img.src = `data:image/png;base64,${data}`; });
    const [x, y] = await Promise.all([load(a), load(b)]);
    if (x.width !== y.width || x.height !== y.height) return { size: [x.width, x.height, y.width, y.height] };
    const pixels = (img) => { const c = document.createElement('canvas'); c.width = img.width; c.height = img.height; const g = c.getContext('2d'); g.drawImage(img, 0, 0); return g.getImageData(0, 0, img.width, img.height).data; };
    const [p, q] = [pixels(x), pixels(y)];
    // Under load the rasterizer now and then draws an edge's pixel 1 of 255 lighter (seen:
    // 2 pixels at the panel's edges, 254 for 255): a channel off by more than 2 counts.
    let differing = 0;
    let inexact = 0;
    const where = [];
    for (let i = 0; i < p.length; i += 4) {
      const off = Math.max(...[0, 1, 2, 3].map((c) => Math.abs(p[i + c] - q[i + c])));
      if (off > 0) inexact += 1;
      if (off > 2) {
        differing += 1;
        if (where.length < 5) where.push(`(${(i / 4) % x.width},${Math.floor(i / 4 / x.width)}) ${[...p.slice(i, i + 4)]} vs ${[...q.slice(i, i + 4)]}`);
      }
    }
    return { differing, inexact, where, total: p.length / 4, width: x.width, height: x.height };
  }, [plain.png.toString('base64'), hostile.png.toString('base64')]);
  check(!diff.size, `the messenger's size changed: ${JSON.stringify(diff.size)}`);
  figures.push(`hostile stylesheet: ${diff.differing} of ${diff.total} pixels differ (${diff.width}x${diff.height}), ${diff.inexact} by any amount`);
  // Where, and what each page listed: enough to tell a rendering race from a changed list.
  check(diff.differing === 0, `${diff.differing} pixels differ, first at ${diff.where.join('; ')}; listed ${JSON.stringify(plain.items)} then ${JSON.stringify(hostile.items)}`);
});

await test('a long list drawn again for a reply stays where the customer scrolled it', async () => {
  const ann = new CustomerClient({ email: EMAIL, token: TOKEN, baseUrl: base });
  const chats = [];
  for (let i = 1; i <= 12; i += 1) chats.push((await ann.createChat({ message: `Question ${i} of a long list`, createdAt: Math.floor(Date.now() / 1000) })).chatId);
  const fresh = await context.newPage();
  const list = (selector, options) => fresh.locator(`supportzen-messenger ${selector}`, options);
  await fresh.goto(hostUrl);
  await list('.launcher').click();
  await list('.item', { hasText: 'Question 1 of a long list' }).waitFor({ timeout: WAIT });
  const scroller = list('.scroll');
  const scrollTop = () => scroller.evaluate((el) => el.scrollTop);
  // The panel may still be laying the list out when its first item is there: scroll once
  // it is taller than its box (a busy machine showed it not yet so).
  await until('the list to overflow its box', () => scroller.evaluate((el) => el.scrollHeight > el.clientHeight));
  await scroller.evaluate((el) => { el.scrollTop = el.scrollHeight; });
  const before = await scrollTop();
  // A reply to the newest chat, listed first: the list is read and drawn again.
  await agent.send(chats.at(-1), { message: 'Answering your twelfth question.' });
  await list('.item', { hasText: 'Answering your twelfth question.' }).waitFor({ timeout: WAIT });
  const after = await scrollTop();
  await fresh.close();
  check(before > 0 && after === before, `scrolled to ${before} before the reply, ${after} after`);
});

await test('first render: the launcher drawn, in ms after navigation start, five fresh contexts', async () => {
  const times = [];
  for (let i = 0; i < 5; i += 1) {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const tab = await fresh.newPage();
    await tab.goto(hostUrl);
    await tab.locator('supportzen-messenger .launcher').waitFor({ timeout: WAIT });
    times.push(await until('firstRenderAt', () => tab.evaluate(() => document.querySelector('supportzen-messenger').firstRenderAt)));
    await fresh.close();
  }
  figures.push(`first render (launcher in the DOM) in five fresh contexts: ${times.map((t) => t.toFixed(0)).join(', ')} ms after navigation start`);
});

check(problems.length === 0, problems.join('; '));
printFigures();
await browser.close();
host.close();
server.kill('SIGTERM');
rmSync(work, { recursive: true, force: true });
finish();
