// The agent console: a client of the public agent routes and the realtime socket, and
// of nothing else but its sign-in (web/client.js does the calls). Plain module, no build.
//
// Not here yet, waiting for the API (no fake UI until then): attachments (issue 22:
// upload and preview, see renderMessage), unread counts and the customer's "Seen" mark
// and typing indicator (issue 23: see renderItem and onEvent), and the customer search
// and profile (issue 25, item 5: a new agent route over the by-owner index; see
// renderHead).

import {
  AgentClient, ApiError, RealtimeConnection, ShownMessages, catchUp, newId, socketUrl,
} from '../web/client.js';

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const HISTORY_PAGE = 30;

const state = {
  config: null,
  client: null,
  agent: null,
  /** () => string: the current token. */
  token: null,
  renewTimer: null,
  realtime: null,
  filters: { kind: 'chat', status: 'open', assignee: 'any' },
  /** The inbox, newest activity first. */
  list: [],
  items: new Map(),
  cursor: null,
  hasMore: false,
  loading: false,
  generation: 0,
  selected: null,
  /** The open conversation. */
  open: null,
};

// --- Signing in -----------------------------------------------------------------

async function start() {
  wireStatic();
  try {
    const response = await fetch('config.json', { cache: 'no-cache' });
    state.config = await response.json();
  } catch {
    showSignInError('Cannot read config.json next to this page: is the console served by supportzen serve or your static host?');
    return;
  }
  $('sign-in-loading').hidden = true;
  if (state.config.mode === 'oidc') {
    // Production: only the identity provider signs agents in; the local sign-in is never
    // offered or called, whatever else the configuration says.
    const oidc = await import('./oidc.js');
    const config = oidcConfig(state.config);
    $('oidc-sign-in').hidden = false;
    $('oidc-start').addEventListener('click', () => {
      oidc.startSignIn(config).catch((error) => showSignInError(error.message));
    });
    try {
      const session = await oidc.completeSignIn(config, () => signOut('Your session ended: sign in again.'));
      if (session) await signedIn(session.agent, () => session.accessToken());
    } catch (error) {
      showSignInError(error.message);
    }
    return;
  }
  if (state.config.localSignIn) {
    $('local-sign-in').hidden = false;
    $('local-sign-in').addEventListener('submit', (event) => {
      event.preventDefault();
      localSignIn($('agent-id').value.trim(), $('agent-name').value.trim());
    });
    $('agent-id').focus();
  } else {
    $('no-sign-in').hidden = false;
  }
}

function oidcConfig(config) {
  return {
    issuer: config.issuer,
    clientId: config.clientId,
    redirectUri: config.redirectUri ?? `${location.origin}${location.pathname}`,
    scope: config.scope ?? 'openid email profile supportzen/agent.read supportzen/agent.write',
  };
}

async function localSignIn(id, name) {
  showSignInError('');
  try {
    const response = await fetch(state.config.localSignIn, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id, name }),
    });
    const envelope = await response.json();
    if (envelope.status !== 'success') throw new Error(envelope.error?.message ?? `HTTP ${response.status}`);
    const { token, expiresIn, agent } = envelope.data;
    let current = token;
    // Renewed at four fifths of its life, kept in memory only.
    const renew = () => {
      state.renewTimer = setTimeout(async () => {
        try {
          const again = await fetch(state.config.localSignIn, {
            method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, name }),
          }).then((r) => r.json());
          if (again.status === 'success') current = again.data.token;
        } finally {
          renew();
        }
      }, expiresIn * 800);
    };
    renew();
    await signedIn(agent, () => current);
  } catch (error) {
    showSignInError(`Sign-in failed: ${error.message}`);
  }
}

function showSignInError(text) {
  $('sign-in-error').textContent = text;
}

async function signedIn(agent, token) {
  state.agent = agent;
  state.token = token;
  state.client = new AgentClient({ token: async () => state.token(), baseUrl: state.config.api ?? '' });
  try {
    // The first page of the inbox proves the API takes the token.
    await loadInbox();
  } catch (error) {
    state.client = null;
    clearTimeout(state.renewTimer);
    showSignInError(error instanceof ApiError && error.status === 401
      ? `The API refused this sign-in's token (${error.code}): it accepts tokens from its configured issuer only.`
      : `Cannot load the inbox: ${error.message}`);
    return;
  }
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  $('agent-label').textContent = agent.name ? `${agent.name} (${agent.id})` : agent.id;
  if ('Notification' in window && Notification.permission !== 'granted') $('notify').hidden = false;
  connect();
}

/** Forgets the token (it was only in memory) by loading the page afresh. */
function signOut(reason) {
  state.realtime?.stop();
  clearTimeout(state.renewTimer);
  state.client = null;
  state.token = null;
  if (reason) window.alert(reason);
  location.replace(location.pathname);
}

// --- The inbox ------------------------------------------------------------------

function matches(conversation) {
  const { kind, status, assignee } = state.filters;
  if (conversation.kind !== kind || conversation.status !== status) return false;
  if (assignee === 'me') return conversation.assignee === state.agent.id;
  if (assignee === 'none') return conversation.assignee == null;
  return true;
}

const byActivity = (a, b) => b.lastActivityAt - a.lastActivityAt || (a.conversationId < b.conversationId ? 1 : -1);

/** Reads the first page afresh (filters changed), or merges it in (after a reconnect). */
async function loadInbox({ merge = false } = {}) {
  const generation = merge ? state.generation : ++state.generation;
  const page = await state.client.inbox({ ...state.filters, limit: PAGE });
  if (generation !== state.generation) return;
  if (!merge) {
    state.list = [];
    state.items.clear();
    $('conversation-list').replaceChildren();
    state.cursor = page.nextCursor;
    state.hasMore = page.hasMore;
  }
  for (const conversation of page.conversations) upsert(conversation, { render: false });
  renderList();
}

async function loadMore() {
  if (state.loading || !state.hasMore) return;
  state.loading = true;
  const generation = state.generation;
  try {
    const page = await state.client.inbox({ ...state.filters, limit: PAGE, cursor: state.cursor });
    if (generation !== state.generation) return;
    state.cursor = page.nextCursor;
    state.hasMore = page.hasMore;
    for (const conversation of page.conversations) upsert(conversation, { render: false });
    renderList();
  } catch (error) {
    announce(`Cannot load more conversations: ${error.message}`);
  } finally {
    state.loading = false;
  }
}

/** Puts a conversation in the list (or takes it out when it no longer matches the filters). */
function upsert(conversation, { render = true } = {}) {
  const id = conversation.conversationId;
  const index = state.list.findIndex((c) => c.conversationId === id);
  if (index >= 0) state.list.splice(index, 1);
  // The open conversation stays listed while it is open, whatever its status now.
  if (matches(conversation) || id === state.selected) {
    state.list.push(conversation);
    state.list.sort(byActivity);
  } else {
    state.items.get(id)?.remove();
    state.items.delete(id);
  }
  if (render) renderList();
}

function renderList() {
  const list = $('conversation-list');
  let previous = null;
  for (const conversation of state.list) {
    const item = renderItem(conversation);
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (item !== expected) list.insertBefore(item, expected);
    previous = item;
  }
  $('load-more').hidden = !state.hasMore;
  const shown = state.list.length;
  $('inbox-count').textContent = shown === 0
    ? 'No conversations here.'
    : `${shown}${state.hasMore ? '+' : ''} conversation${shown === 1 ? '' : 's'}`;
}

function renderItem(conversation) {
  const id = conversation.conversationId;
  let item = state.items.get(id);
  if (!item) {
    item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.id = id;
    button.addEventListener('click', () => select(id));
    item.append(button);
    state.items.set(id, item);
  }
  const button = item.firstChild;
  const last = conversation.lastMessage;
  const assignee = conversation.assignee == null ? 'Unassigned'
    : conversation.assignee === state.agent.id ? 'Assigned to me' : `Assigned to ${conversation.assignee}`;
  const who = el('span', 'who', conversation.customer);
  const when = el('time', 'when', relativeTime(conversation.lastActivityAt));
  when.dateTime = new Date(conversation.lastActivityAt).toISOString();
  const preview = el('span', 'preview', last ? `${last.author === 'customer' ? '' : `${last.author}: `}${last.message}` : '');
  const snoozed = conversation.snoozedUntil ? ` · snoozed until ${new Date(conversation.snoozedUntil).toLocaleString()}` : '';
  // Seam (issue 23): an unread count goes in these tags once the API has one.
  const tags = el('span', 'tags', `${conversation.kind === 'chat' ? 'Chat' : 'Ticket'} ${id} · ${conversation.status} · ${assignee}${snoozed}`);
  button.replaceChildren(who, when, preview, tags);
  button.setAttribute('aria-current', id === state.selected ? 'true' : 'false');
  return item;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function relativeTime(ms) {
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 60) return 'now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return new Date(ms).toLocaleDateString();
}

/** Fetches one conversation and puts it where it belongs. */
async function refreshConversation(id) {
  try {
    const conversation = await state.client.conversation(id);
    upsert(conversation);
    if (state.open?.id === id) {
      state.open.conversation = conversation;
      renderHead();
    }
    return conversation;
  } catch (error) {
    announce(`Cannot refresh ${id}: ${error.message}`);
    return null;
  }
}

// --- A conversation ---------------------------------------------------------------

async function select(id, { focus = true } = {}) {
  if (state.selected === id && state.open) return;
  const previous = state.selected;
  state.selected = id;
  for (const other of [previous, id]) {
    const conversation = state.list.find((c) => c.conversationId === other);
    if (conversation) renderItem(conversation);
  }
  // One that no longer matched the filters leaves the list once another is open.
  const left = state.list.find((c) => c.conversationId === previous);
  if (left && !matches(left)) upsert(left);
  state.items.get(id)?.scrollIntoView({ block: 'nearest' });
  if (focus) state.items.get(id)?.firstChild.focus();
  const open = {
    id,
    conversation: state.list.find((c) => c.conversationId === id) ?? null,
    shown: new ShownMessages(),
    before: null,
    hasEarlier: false,
    pending: new Map(),
    loadingEarlier: false,
  };
  state.open = open;
  $('empty').hidden = true;
  $('thread').hidden = false;
  $('messages').replaceChildren();
  // Each conversation starts on a reply (a closed one switches to a note in renderHead).
  document.querySelector('input[name="mode"][value="reply"]').disabled = false;
  setMode('reply', { focus: false });
  renderHead();
  try {
    const [conversation, page] = await Promise.all([
      state.client.conversation(id),
      state.client.messages(id, { limit: HISTORY_PAGE }),
    ]);
    if (state.open !== open) return;
    open.conversation = conversation;
    open.before = page.nextCursor;
    open.hasEarlier = page.hasMore;
    for (const message of open.shown.add(page.messages)) insertMessage(message);
    renderHead();
    scrollToEnd();
  } catch (error) {
    announce(`Cannot open ${id}: ${error.message}`);
  }
}

function renderHead() {
  const open = state.open;
  if (!open) return;
  const c = open.conversation;
  $('thread-title').textContent = c ? `${c.customer}` : open.id;
  // Seam (issue 25, item 5): the customer's profile (name, plan, account creation) and
  // their other conversations go here once the agent route over the by-owner index exists.
  const meta = $('thread-meta');
  meta.replaceChildren();
  if (c) {
    const badge = el('span', `badge ${c.status}`, c.status === 'closed' ? 'closed (final)' : c.status);
    const assignee = c.assignee == null ? 'unassigned' : c.assignee === state.agent.id ? 'assigned to me' : `assigned to ${c.assignee}`;
    const snoozed = c.snoozedUntil ? ` · snoozed until ${new Date(c.snoozedUntil).toLocaleString()}` : '';
    meta.append(`${c.kind === 'chat' ? 'Chat' : 'Ticket'} ${c.conversationId} · `, badge, ` · ${assignee}${snoozed}`);
  }
  const closed = c?.status === 'closed';
  $('closed-note').hidden = !closed;
  $('assign-me').disabled = closed || c?.assignee === state.agent.id;
  $('unassign').disabled = closed || c?.assignee == null;
  $('set-pending').disabled = closed || (c?.status === 'pending' && !c?.snoozedUntil);
  $('set-solved').disabled = closed || c?.status === 'solved';
  $('set-closed').disabled = closed;
  $('snooze').disabled = closed;
  $('snooze-for').disabled = closed;
  // Closed takes notes only.
  const reply = document.querySelector('input[name="mode"][value="reply"]');
  reply.disabled = closed;
  if (closed) setMode('note', { focus: false });
  $('load-earlier').hidden = !open.hasEarlier;
}

function messageKey(m) {
  return `${String(m.createdAt).padStart(15, '0')}|${m.messageId ?? `~${m.clientMessageId}`}`;
}

/** Shows a message in time order; returns its element. */
function insertMessage(message, { pending = null } = {}) {
  const item = renderMessage(message, pending);
  const list = $('messages');
  if (pending) {
    list.append(item);
    return item;
  }
  // Sends still under way stay last; new messages come last far more often than not,
  // so the place is looked for from the end.
  const key = item.dataset.key;
  let after = list.lastElementChild;
  while (after && (after.classList.contains('pending') || after.dataset.key > key)) after = after.previousElementSibling;
  list.insertBefore(item, after ? after.nextSibling : list.firstChild);
  return item;
}

function renderMessage(message, pending) {
  const note = message.internal === true;
  const item = el('li', `message ${note ? 'note' : message.author}`);
  item.dataset.key = messageKey(message);
  if (message.messageId) item.dataset.id = message.messageId;
  if (message.clientMessageId) item.dataset.clientId = message.clientMessageId;
  const meta = el('div', 'meta');
  const name = message.author === 'agent' ? (message.agent?.name ?? message.agent?.id ?? 'Agent') : message.author === 'customer' ? 'Customer' : 'System';
  meta.append(el('span', 'author', note ? `Internal note · ${name}` : name));
  const time = el('time', '', new Date(message.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  time.dateTime = new Date(message.createdAt).toISOString();
  meta.append(time);
  if (pending) meta.append(el('span', 'state', 'Sending…'));
  item.append(meta, el('p', 'text', message.message));
  // Seam (issue 22): attachments are previewed here once messages carry them; an image
  // URL is shown as a link and not loaded, so no other origin sees the agent's browser.
  if (message.imageUrl && /^https?:\/\//i.test(message.imageUrl)) {
    const link = el('a', '', 'Linked image');
    link.href = message.imageUrl;
    link.rel = 'noopener noreferrer';
    link.target = '_blank';
    item.append(link);
  }
  if (pending) item.classList.add('pending');
  return item;
}

function nearEnd() {
  const scroll = $('history-scroll');
  return scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 80;
}

function scrollToEnd() {
  const scroll = $('history-scroll');
  scroll.scrollTop = scroll.scrollHeight;
}

/** Shows messages read or received for the open conversation, each once. */
function showMessages(messages) {
  const open = state.open;
  const stick = nearEnd();
  for (const message of open.shown.add(messages)) {
    settle(message);
    insertMessage(message);
  }
  if (stick) scrollToEnd();
}

async function loadEarlier() {
  const open = state.open;
  if (!open || !open.hasEarlier || open.loadingEarlier) return;
  open.loadingEarlier = true;
  const scroll = $('history-scroll');
  try {
    const page = await state.client.messages(open.id, { before: open.before, limit: HISTORY_PAGE });
    if (state.open !== open) return;
    const height = scroll.scrollHeight;
    for (const message of open.shown.add(page.messages)) insertMessage(message);
    open.before = page.nextCursor;
    open.hasEarlier = page.hasMore;
    // Keep the messages the agent was reading where they were.
    scroll.scrollTop += scroll.scrollHeight - height;
    $('load-earlier').hidden = !open.hasEarlier;
  } catch (error) {
    announce(`Cannot load earlier messages: ${error.message}`);
  } finally {
    open.loadingEarlier = false;
  }
}

// --- Sending ----------------------------------------------------------------------

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function setMode(value, { focus = true } = {}) {
  document.querySelector(`input[name="mode"][value="${value}"]`).checked = true;
  const note = value === 'note';
  $('composer').classList.toggle('note', note);
  $('composer-label').textContent = note ? 'Internal note (never shown to the customer)' : 'Your reply';
  $('send').textContent = note ? 'Add note' : 'Send reply';
  if (focus) $('composer-text').focus();
}

function send() {
  const open = state.open;
  const text = $('composer-text').value;
  if (!open || !text.trim()) return;
  const pending = {
    conversationId: open.id,
    message: text,
    internal: mode() === 'note',
    clientMessageId: newId(),
    idempotencyKey: newId(),
    element: null,
  };
  pending.element = insertMessage({
    author: 'agent', agent: state.agent, message: text, internal: pending.internal,
    createdAt: Date.now(), clientMessageId: pending.clientMessageId,
  }, { pending });
  open.pending.set(pending.clientMessageId, pending);
  $('composer-text').value = '';
  scrollToEnd();
  attempt(open, pending);
}

/** Sends (or re-sends, with the same keys: written at most once) a pending message. */
async function attempt(open, pending) {
  const item = pending.element;
  item.classList.remove('failed');
  item.classList.add('pending');
  item.querySelector('.state').textContent = 'Sending…';
  item.querySelector('.retry')?.remove();
  try {
    const { message } = await state.client.send(pending.conversationId, pending);
    if (state.open === open && !open.shown.has(message.messageId)) {
      open.shown.add([message]);
      settle(message);
      insertMessage(message);
    } else {
      settle(message);
    }
  } catch (error) {
    if (!open.pending.has(pending.clientMessageId)) return;
    item.classList.add('failed');
    item.classList.remove('pending');
    item.querySelector('.state').textContent = error.code === 'conversation_closed'
      ? 'Not sent: the conversation is closed.'
      : `Not sent: ${error.message}`;
    if (error.code !== 'conversation_closed') {
      const retry = el('button', 'retry', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => attempt(open, pending));
      item.querySelector('.meta').append(retry);
      retry.focus();
    }
  }
}

/** A message from the server that answers a pending send takes its place. */
function settle(message) {
  const open = state.open;
  if (!open || !message.clientMessageId) return;
  const pending = open.pending.get(message.clientMessageId);
  if (!pending) return;
  open.pending.delete(message.clientMessageId);
  pending.element.remove();
}

async function act(label, run) {
  const open = state.open;
  if (!open) return;
  try {
    const conversation = await run(open.id);
    if (conversation?.conversationId) {
      upsert(conversation);
      if (state.open === open) {
        open.conversation = conversation;
        renderHead();
      }
    }
    announce(`${label}: ${open.id}`);
  } catch (error) {
    announce(`${label} failed: ${error.message}`);
  }
}

// --- Live -------------------------------------------------------------------------

function connect() {
  const client = state.client;
  state.realtime = new RealtimeConnection({
    getTicket: () => client.realtimeTicket(),
    url: (ticket) => socketUrl(state.config.api ?? '', ticket, state.config.socketUrl),
    onEvent,
    onOpen: () => catchUpAll(),
    onState: (connection) => {
      const label = { connecting: 'Connecting…', open: 'Live', waiting: 'Reconnecting…', stopped: 'Not connected' }[connection];
      const node = $('connection');
      node.textContent = label;
      node.classList.toggle('open', connection === 'open');
    },
  });
  state.realtime.start();
}

/** Once a socket is open: whatever happened while there was none is read back. */
async function catchUpAll() {
  try {
    await loadInbox({ merge: true });
    const open = state.open;
    if (open) {
      await refreshConversation(open.id);
      const fresh = await catchUp((page) => state.client.messages(open.id, page), open.shown);
      if (state.open === open) {
        const stick = nearEnd();
        for (const message of fresh) {
          settle(message);
          insertMessage(message);
        }
        if (stick) scrollToEnd();
      }
    }
  } catch (error) {
    announce(`Catching up failed: ${error.message}`);
  }
}

function onEvent(event) {
  const id = event.conversationId;
  if (event.type === 'message.created') {
    const message = { ...event.data };
    if (state.open?.id === id) showMessages([message]);
    const known = state.list.find((c) => c.conversationId === id);
    if (known) {
      known.lastActivityAt = Math.max(known.lastActivityAt, message.createdAt);
      known.lastMessage = { messageId: message.messageId, author: message.author, message: message.message.slice(0, 200), createdAt: message.createdAt };
      renderItem(known);
      state.list.sort(byActivity);
      renderList();
    }
    // A customer's message may have reopened it, and a new one is not listed yet.
    if (!known || message.author === 'customer') refreshConversation(id);
    if (message.author === 'customer') notify(id, message);
  } else if (event.type === 'conversation.status_changed' || event.type === 'conversation.assigned') {
    refreshConversation(id);
  }
  // Seam (issue 23): typing and read-mark events are handled here once the API sends them.
}

function notify(id, message) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (!document.hidden && state.open?.id === id) return;
  const conversation = state.list.find((c) => c.conversationId === id);
  const note = new Notification(`New message${conversation ? ` from ${conversation.customer}` : ''}`, {
    body: message.message.slice(0, 140),
    tag: id,
  });
  note.onclick = () => {
    window.focus();
    select(id);
  };
}

// --- Keys and wiring ----------------------------------------------------------------

function announce(text) {
  $('announcer').textContent = text;
}

function move(step) {
  if (state.list.length === 0) return;
  const index = state.list.findIndex((c) => c.conversationId === state.selected);
  const next = index < 0 ? 0 : Math.min(state.list.length - 1, Math.max(0, index + step));
  select(state.list[next].conversationId);
  // Near the end of what is loaded, the next page is read.
  if (next >= state.list.length - 5) loadMore();
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if ($('help').open) return;
  if (event.key === 'Escape' && event.target === $('composer-text')) {
    $('composer-text').blur();
    state.items.get(state.selected)?.firstChild.focus();
    return;
  }
  if (typing(event.target) || $('app').hidden) return;
  const actions = {
    '?': () => $('help').showModal(),
    j: () => move(1),
    k: () => move(-1),
    r: () => state.open && state.open.conversation?.status !== 'closed' && setMode('reply'),
    n: () => state.open && setMode('note'),
    s: () => state.open && !$('set-solved').disabled && act('Marked solved', (id) => state.client.setStatus(id, 'solved')),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

function wireStatic() {
  document.addEventListener('keydown', onKey);
  $('help-open').addEventListener('click', () => $('help').showModal());
  $('sign-out').addEventListener('click', () => signOut());
  $('filters').addEventListener('change', () => {
    const form = new FormData($('filters'));
    state.filters = { kind: form.get('kind'), status: form.get('status'), assignee: form.get('assignee') };
    loadInbox().catch((error) => announce(`Cannot load the inbox: ${error.message}`));
  });
  $('load-more').addEventListener('click', () => loadMore());
  // The next page is read as the agent scrolls near the end of the list.
  $('conversation-list').addEventListener('scroll', () => {
    const list = $('conversation-list');
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 400) loadMore();
  }, { passive: true });
  $('history-scroll').addEventListener('scroll', () => {
    if ($('history-scroll').scrollTop < 60) loadEarlier();
  }, { passive: true });
  $('load-earlier').addEventListener('click', () => loadEarlier());
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', () => setMode(radio.value, { focus: false }));
  }
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  $('composer-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
  const me = () => state.agent.id;
  $('assign-me').addEventListener('click', () => act('Assigned to you', (id) => state.client.assign(id, me())));
  $('unassign').addEventListener('click', () => act('Unassigned', (id) => state.client.assign(id, null)));
  $('set-pending').addEventListener('click', () => act('Marked pending', (id) => state.client.setStatus(id, 'pending')));
  $('set-solved').addEventListener('click', () => act('Marked solved', (id) => state.client.setStatus(id, 'solved')));
  $('set-closed').addEventListener('click', () => {
    if (window.confirm('Close this conversation? Closed is final: only notes can be added, and the customer must open a follow-up.')) {
      act('Closed', (id) => state.client.setStatus(id, 'closed'));
    }
  });
  $('snooze').addEventListener('click', () => {
    const until = Date.now() + Number($('snooze-for').value);
    act('Snoozed', (id) => state.client.setStatus(id, 'pending', { snoozeUntil: until }));
  });
  $('notify').addEventListener('click', async () => {
    const permission = await Notification.requestPermission();
    $('notify').hidden = permission === 'granted';
    announce(permission === 'granted' ? 'Desktop notifications on for new customer messages.' : 'Desktop notifications were not allowed.');
  });
}


start();
