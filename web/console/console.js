// The agent console: a client of the public agent routes and the realtime socket, and
// of nothing else but its sign-in (web/client.js does the calls). Plain module, no build.
//
// Read marks and typing (issue 23): the inbox shows each conversation's `unread` (the
// customer's messages after the agents' mark), kept live from the socket's events; the
// open conversation marks itself read once its newest customer message is on screen,
// shows "Seen" under the agent's latest reply once the customer's mark reaches it, sends
// typing frames from the reply box (never from a note) and says when the customer types.
// Ratings (issue 26) show in the conversation and its row.

import {
  AgentClient, ApiError, RealtimeConnection, ShownMessages, catchUp, linksStale, newId, readMessageAgain,
  socketUrl,
} from '../web/client.js';

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const HISTORY_PAGE = 30;
/** The least time between two typing frames the console sends for one conversation. */
const TYPING_EVERY_MS = 2_000;
/** How long "Customer is typing…" stays without another typing frame. */
const TYPING_SHOWN_MS = 5_000;

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
  /** The customer search's results: their profile and conversations, or null. */
  search: null,
  /** Ids of conversations events changed while the inbox was being read again. */
  touched: null,
  /**
   * Conversation id → when (performance.now()) the console last learned of a change to it
   * other than by reading it: a write of ours answered (a read mark, an assignment, a
   * status, a message), or an event applied as it came (a message, a rating, the
   * customer's read mark). A read of it started before then may be older than what is
   * shown, and is made again (refreshConversation).
   */
  learnedAt: new Map(),
  typingTimer: null,
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
      // The provider sends the agent back without the fragment: keep an email's link.
      if (linkedConversation()) sessionStorage.setItem(LINK_KEY, location.hash);
      oidc.startSignIn(config).catch((error) => showSignInError(error.message));
    });
    try {
      const session = await oidc.completeSignIn(config, () => signOut('Your session ended: sign in again.'));
      const kept = sessionStorage.getItem(LINK_KEY);
      sessionStorage.removeItem(LINK_KEY);
      if (session && kept && !location.hash) history.replaceState(null, '', `${location.pathname}${kept}`);
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
  // An email's link (AgentConversationUrl, `…/console/#conversation={id}`) opens its
  // conversation, now and whenever the fragment changes.
  const openLinked = () => {
    const id = linkedConversation();
    if (id && state.client) select(id);
  };
  window.addEventListener('hashchange', openLinked);
  openLinked();
}

/** Where an email's link keeps its fragment across the identity provider's redirect. */
const LINK_KEY = 'supportzen.console.link';

/** The conversation `#conversation=<id>` names, if the fragment is one. */
function linkedConversation() {
  const match = /^#conversation=([A-Za-z0-9._-]{1,100})$/.exec(location.hash);
  return match ? match[1] : null;
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

/** Reads the first page afresh (the filters changed, or signing in). */
async function loadInbox() {
  const generation = ++state.generation;
  const page = await state.client.inbox({ ...state.filters, limit: PAGE });
  if (generation !== state.generation) return;
  state.list = [];
  state.items.clear();
  $('conversation-list').replaceChildren();
  state.cursor = page.nextCursor;
  state.hasMore = page.hasMore;
  for (const conversation of page.conversations) upsert(conversation, { render: false });
  renderList();
}

/**
 * After a reconnect: reads the inbox again from the top, as far as it was loaded, and
 * makes the list what it read. A conversation anywhere in the loaded list that changed
 * meanwhile (a new message moves it up; a status change or an assignment by someone
 * else may take it out of these filters) is then shown as it is now, once; the next
 * page continues from where this read stopped.
 */
async function refreshInbox() {
  const generation = state.generation;
  const loaded = state.list.length;
  const oldest = state.list.at(-1)?.lastActivityAt ?? Infinity;
  state.touched = new Set();
  try {
    const read = new Map();
    let cursor;
    let hasMore = true;
    while (hasMore) {
      const page = await state.client.inbox({ ...state.filters, limit: PAGE, cursor });
      if (generation !== state.generation) return;
      // A conversation that moved up while the pages were read is kept at its newest.
      for (const conversation of page.conversations) {
        const known = read.get(conversation.conversationId);
        if (!known || conversation.lastActivityAt >= known.lastActivityAt) read.set(conversation.conversationId, conversation);
      }
      cursor = page.nextCursor;
      hasMore = page.hasMore;
      const last = page.conversations.at(-1);
      if (read.size >= loaded && (!last || last.lastActivityAt <= oldest)) break;
    }
    for (const conversation of [...state.list]) {
      const id = conversation.conversationId;
      // What the read no longer lists has left these filters, unless an event brought it.
      if (!read.has(id) && !state.touched.has(id) && id !== state.selected) {
        state.list.splice(state.list.indexOf(conversation), 1);
        removeItem(id);
      }
    }
    const touched = state.touched;
    state.touched = null;
    for (const conversation of read.values()) {
      if (!touched.has(conversation.conversationId)) upsert(conversation, { render: false });
    }
    state.cursor = cursor;
    state.hasMore = hasMore;
    renderList();
  } finally {
    state.touched = null;
  }
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
  state.touched?.add(id);
  const index = state.list.findIndex((c) => c.conversationId === id);
  if (index >= 0) state.list.splice(index, 1);
  // The open conversation stays listed while it is open, whatever its status now; one
  // opened from elsewhere (a search, the profile's links) is not added to a list it
  // does not match.
  if (matches(conversation) || (id === state.selected && index >= 0)) {
    state.list.push(conversation);
    state.list.sort(byActivity);
  } else {
    removeItem(id);
  }
  if (render) renderList();
}

/**
 * Takes a conversation's row out of the inbox. The browser drops the focus of what it
 * takes out, so a focused row first hands it to the row below (or, at the end, above):
 * a keyboard user stays in the list when a conversation leaves it.
 */
function removeItem(id) {
  const item = state.items.get(id);
  if (!item) return;
  if (item.contains(document.activeElement)) {
    (item.nextElementSibling ?? item.previousElementSibling)?.firstChild?.focus({ preventScroll: true });
  }
  item.remove();
  state.items.delete(id);
}

function renderList() {
  const list = $('conversation-list');
  // Moving a row takes it out of the document for a moment, and the browser drops the
  // focus of anything it takes out: a keyboard user's place would go back to the page's
  // start whenever the focused row's conversation got a message.
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  let previous = null;
  for (const conversation of state.list) {
    const item = renderItem(conversation);
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (item !== expected) list.insertBefore(item, expected);
    previous = item;
  }
  if (focused?.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
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
  // A row is rebuilt only when what it shows changed: a 1,000-row list re-sorts on each
  // event without touching the rest.
  const shown = `${conversation.lastActivityAt}|${conversation.status}|${conversation.assignee}|${conversation.snoozedUntil}|${conversation.lastMessage?.messageId}|${conversation.unread}|${conversation.rating?.rating}|${id === state.selected}|${Math.floor(Date.now() / 60_000)}`;
  if (item.dataset.shown === shown) return item;
  item.dataset.shown = shown;
  const last = conversation.lastMessage;
  const assignee = conversation.assignee == null ? 'Unassigned'
    : conversation.assignee === state.agent.id ? 'Assigned to me' : `Assigned to ${conversation.assignee}`;
  const who = el('span', 'who', conversation.customer);
  const when = el('time', 'when', relativeTime(conversation.lastActivityAt));
  when.dateTime = new Date(conversation.lastActivityAt).toISOString();
  const preview = el('span', 'preview', last ? `${last.author === 'customer' ? '' : `${last.author}: `}${last.message}` : '');
  const snoozed = conversation.snoozedUntil ? ` · snoozed until ${new Date(conversation.snoozedUntil).toLocaleString()}` : '';
  const rated = conversation.rating ? ` · rated ${conversation.rating.rating}/5` : '';
  const tags = el('span', 'tags', `${conversation.kind === 'chat' ? 'Chat' : 'Ticket'} ${id} · ${conversation.status} · ${assignee}${snoozed}${rated}`);
  button.replaceChildren(who, when, preview, tags);
  if (conversation.unread > 0) tags.prepend(el('span', 'unread', `${conversation.unread} unread`), ' ');
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
  const started = performance.now();
  try {
    const conversation = await state.client.conversation(id);
    // Read before a change shown since (an unread count, an assignee, a rating...): read again.
    if ((state.learnedAt.get(id) ?? -1) > started) return refreshConversation(id);
    upsert(conversation);
    upsertSearch(conversation);
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
    /** The newest customer message shown: {key, id}. */
    newestCustomer: null,
    /** The key of the message the agents' mark was last moved to (or found at). */
    markedKey: '',
    /** When the last typing frame went out for this conversation. */
    typingSentAt: 0,
  };
  state.open = open;
  showTyping(false);
  $('empty').hidden = true;
  $('thread').hidden = false;
  $('messages').replaceChildren();
  $('profile').hidden = true;
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
    // Nothing unread: the agents' mark is already past what was read.
    if (conversation.unread === 0 && open.newestCustomer) open.markedKey = open.newestCustomer.key;
    renderHead();
    scrollToEnd();
    markRead();
  } catch (error) {
    announce(`Cannot open ${id}: ${error.message}`);
    // Not open: nothing shown to reply in, and choosing it again tries again.
    if (state.open === open) {
      state.open = null;
      $('thread').hidden = true;
      $('empty').hidden = false;
    }
    return;
  }
  loadProfile(open);
}

// --- The customer: their profile, their other conversations, and search by email -----

const KINDS = ['chat', 'ticket'];
/** How many of the customer's other conversations the profile links. */
const PROFILE_LINKS = 3;

/** A customer's profile and first page of each kind of conversation, or null if unknown. */
async function readCustomer(email, limit) {
  try {
    const [chats, tickets] = await Promise.all(KINDS.map((kind) => state.client.customer({ email, kind, limit })));
    return {
      profile: chats,
      pages: { chat: chats, ticket: tickets },
      conversations: [...chats.conversations, ...tickets.conversations].sort(byActivity),
    };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function describeProfile(p) {
  const date = (ms) => new Date(ms).toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' });
  const parts = [p.name ?? 'No name given', p.planId == null ? 'no plan id' : `plan ${p.planId}`];
  parts.push(p.accountCreatedAt == null ? 'account creation unknown' : `account created ${date(p.accountCreatedAt)}`);
  parts.push(`first wrote ${date(p.firstSeenAt)}`);
  return parts.join(' · ');
}

function conversationLink(conversation, className = 'link') {
  const button = el('button', className, `${conversation.kind === 'chat' ? 'Chat' : 'Ticket'} ${conversation.conversationId} · ${conversation.status} · ${relativeTime(conversation.lastActivityAt)}`);
  button.type = 'button';
  button.dataset.id = conversation.conversationId;
  button.addEventListener('click', () => select(conversation.conversationId));
  return button;
}

/** The open conversation's customer: who they are and what else they wrote. */
async function loadProfile(open) {
  const email = open.conversation?.customer;
  if (!email) return;
  try {
    const customer = await readCustomer(email, 10);
    if (state.open !== open) return;
    open.customer = customer;
    renderProfile();
  } catch (error) {
    announce(`Cannot read the customer's profile: ${error.message}`);
  }
}

function renderProfile() {
  const open = state.open;
  const customer = open?.customer;
  $('profile').hidden = !customer;
  if (!customer) return;
  $('profile-fields').textContent = describeProfile(customer.profile);
  const others = customer.conversations.filter((c) => c.conversationId !== open.id);
  const list = $('profile-list');
  list.replaceChildren();
  // The newest few; the search lists them all.
  for (const conversation of others.slice(0, PROFILE_LINKS)) {
    const item = el('li');
    item.append(conversationLink(conversation));
    list.append(item);
  }
  if (others.length === 0) list.append(el('li', 'muted', 'none'));
  if (others.length > PROFILE_LINKS || KINDS.some((kind) => customer.pages[kind].hasMore)) {
    const item = el('li');
    const all = el('button', 'link', 'All of them');
    all.type = 'button';
    all.addEventListener('click', () => findCustomer(customer.profile.email));
    item.append(all);
    list.append(item);
  }
}

/** Shows the customer with `email` and all their conversations in place of the inbox. */
async function findCustomer(email) {
  $('search-email').value = email;
  try {
    const customer = await readCustomer(email, PAGE);
    state.search = customer ? { ...customer, email } : { email, profile: null, pages: {}, conversations: [] };
    renderSearch();
    announce(customer ? `${customer.conversations.length} conversations of ${customer.profile.email}` : `No customer has the email ${email}.`);
  } catch (error) {
    announce(`Cannot search: ${error.message}`);
  }
}

/** A conversation read afresh takes its place in the search's results, if it is theirs. */
function upsertSearch(conversation) {
  const search = state.search;
  if (!search?.profile || conversation.customer !== search.profile.email) return;
  const index = search.conversations.findIndex((c) => c.conversationId === conversation.conversationId);
  if (index >= 0) search.conversations.splice(index, 1);
  search.conversations.push(conversation);
  search.conversations.sort(byActivity);
  renderSearch();
}

async function searchMore() {
  const search = state.search;
  if (!search?.profile) return;
  try {
    for (const kind of KINDS) {
      const page = search.pages[kind];
      if (!page.hasMore) continue;
      const next = await state.client.customer({ email: search.email, kind, limit: PAGE, cursor: page.nextCursor });
      if (state.search !== search) return;
      search.pages[kind] = next;
      const known = new Set(search.conversations.map((c) => c.conversationId));
      search.conversations.push(...next.conversations.filter((c) => !known.has(c.conversationId)));
    }
    search.conversations.sort(byActivity);
    renderSearch();
  } catch (error) {
    announce(`Cannot load more: ${error.message}`);
  }
}

function renderSearch() {
  const search = state.search;
  $('search-results').hidden = !search;
  $('inbox-part').hidden = Boolean(search);
  if (!search) return;
  $('search-title').textContent = search.profile ? search.profile.email : 'No such customer';
  $('search-profile').textContent = search.profile ? describeProfile(search.profile) : `No customer has the email ${search.email}.`;
  const list = $('search-list');
  list.replaceChildren();
  for (const conversation of search.conversations) {
    const item = el('li');
    const button = el('button');
    button.type = 'button';
    button.dataset.id = conversation.conversationId;
    button.setAttribute('aria-current', conversation.conversationId === state.selected ? 'true' : 'false');
    const last = conversation.lastMessage;
    const when = el('time', 'when', relativeTime(conversation.lastActivityAt));
    when.dateTime = new Date(conversation.lastActivityAt).toISOString();
    button.append(
      el('span', 'who', `${conversation.kind === 'chat' ? 'Chat' : 'Ticket'} ${conversation.conversationId}`),
      when,
      el('span', 'preview', last ? last.message : ''),
      el('span', 'tags', `${conversation.status} · ${conversation.assignee == null ? 'Unassigned' : `Assigned to ${conversation.assignee}`}`),
    );
    button.addEventListener('click', () => {
      select(conversation.conversationId);
      for (const other of list.querySelectorAll('button')) other.setAttribute('aria-current', other === button ? 'true' : 'false');
    });
    item.append(button);
    list.append(item);
  }
  if (search.profile && search.conversations.length === 0) list.append(el('li', 'muted', 'No conversations yet.'));
  $('search-more').hidden = !(search.profile && KINDS.some((kind) => search.pages[kind]?.hasMore));
}

function renderHead() {
  const open = state.open;
  if (!open) return;
  const c = open.conversation;
  $('thread-title').textContent = c ? `${c.customer}` : open.id;
  const meta = $('thread-meta');
  meta.replaceChildren();
  if (c) {
    const badge = el('span', `badge ${c.status}`, c.status === 'closed' ? 'closed (final)' : c.status);
    const assignee = c.assignee == null ? 'unassigned' : c.assignee === state.agent.id ? 'assigned to me' : `assigned to ${c.assignee}`;
    const snoozed = c.snoozedUntil ? ` · snoozed until ${new Date(c.snoozedUntil).toLocaleString()}` : '';
    meta.append(`${c.kind === 'chat' ? 'Chat' : 'Ticket'} ${c.conversationId} · `, badge, ` · ${assignee}${snoozed}`);
  }
  const rating = $('thread-rating');
  rating.hidden = !c?.rating;
  if (c?.rating) {
    const { rating: score, comment } = c.rating;
    rating.replaceChildren(
      el('span', 'stars', `${'★'.repeat(score)}${'☆'.repeat(5 - score)}`),
      ` Customer rating: ${score} out of 5${comment ? `: “${comment}”` : ' (no comment)'}`,
    );
    rating.firstChild.setAttribute('aria-hidden', 'true');
  }
  renderSeen();
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
  const open = state.open;
  if (open && message.author === 'customer' && message.messageId && key > (open.newestCustomer?.key ?? '')) {
    open.newestCustomer = { key, id: message.messageId };
  }
  let after = list.lastElementChild;
  while (after && (after.classList.contains('pending') || after.dataset.key > key)) after = after.previousElementSibling;
  list.insertBefore(item, after ? after.nextSibling : list.firstChild);
  return item;
}

function renderMessage(message, pending, { relinked = false } = {}) {
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
  // A page's attachments carry links; an event's are bare ids (readLinks reads the links).
  const files = (message.attachments ?? pending?.files?.map((f) => ({ name: f.name, size: f.size, contentType: f.type })) ?? [])
    .map((file) => (typeof file === 'string' ? { name: 'An attached file (reading its link…)' } : file));
  if (files.length > 0) item.append(renderAttachments(files));
  if (files.some((file) => file.url)) {
    item.dataset.linksReadAt = String(Date.now());
    // A picture that fails to load (scrolled into view after its link expired, say) has
    // its message read again, once: a replacement that fails too is left as it is.
    for (const image of item.querySelectorAll('.attachments img')) {
      image.addEventListener('error', () => {
        if (!relinked || stale(item)) relink(item);
      }, { once: true });
    }
  }
  // A linked image URL is shown as a link and not loaded, so no other origin sees the
  // agent's browser; attachments are the API's own short-lived links.
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

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Pictures inline (each a link to itself), anything else as a download link. */
function renderAttachments(files) {
  const list = el('ul', 'attachments');
  list.setAttribute('aria-label', 'Attached files');
  for (const file of files) {
    const item = el('li');
    const label = file.size === undefined ? file.name : `${file.name} (${formatSize(file.size)})`;
    if (file.url && file.contentType?.startsWith('image/')) {
      const link = el('a');
      link.href = file.url;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      const image = el('img');
      image.src = file.url;
      image.alt = label;
      image.loading = 'lazy';
      link.append(image);
      item.append(link);
    } else if (file.url) {
      const link = el('a', '', label);
      link.href = file.url;
      link.download = file.name;
      link.rel = 'noopener noreferrer';
      item.append(link);
    } else {
      item.append(el('span', 'muted', label));
    }
    list.append(item);
  }
  return list;
}

/** Whether a message's links were read too long ago to follow. */
function stale(item) {
  return linksStale(Number(item.dataset.linksReadAt ?? 0));
}

/**
 * A click on a stale attachment link reads the message again and follows the new link. A
 * picture's link opens a tab: opened now, while the click still allows it, and sent to
 * the new link once read (or closed).
 */
async function followFresh(event) {
  const link = event.target.closest('.attachments a');
  const item = link?.closest('li.message');
  if (!item || !stale(item)) return;
  event.preventDefault();
  const tab = link.target === '_blank' ? window.open('', '_blank') : null;
  if (tab) tab.opener = null;
  const index = [...item.querySelectorAll('.attachments a')].indexOf(link);
  const fresh = (await relink(item))?.querySelectorAll('.attachments a')[index];
  fresh?.focus();
  if (!tab) {
    fresh?.click();
  } else if (fresh) {
    tab.location.href = fresh.href;
  } else {
    tab.close();
  }
}

/** Reads the message `item` shows again, for new links, and shows it in its place; returns the new element. */
async function relink(item) {
  const open = state.open;
  const id = item.dataset.id;
  // One read at a time per message, however many of its pictures fail.
  if (!open || !id || item.dataset.relinking) return null;
  item.dataset.relinking = 'yes';
  try {
    const message = await readMessageAgain((page) => state.client.messages(open.id, page), id, {
      previous: item.previousElementSibling?.dataset.id,
      next: item.nextElementSibling?.dataset.id,
      latest: HISTORY_PAGE,
    });
    if (state.open !== open || !item.isConnected) return null;
    if (!message) {
      announce('Cannot read the attachments\' links: the message is no longer there.');
      return null;
    }
    const fresh = renderMessage(message, null, { relinked: true });
    item.replaceWith(fresh);
    renderSeen();
    return fresh;
  } catch (error) {
    announce(`Cannot read the attachments' links: ${error.message}`);
    return null;
  } finally {
    delete item.dataset.relinking;
  }
}

/** Events name files without links: the messages are read again for theirs. */
async function readLinks(open, ids) {
  try {
    const page = await state.client.messages(open.id, { limit: HISTORY_PAGE });
    if (state.open !== open) return;
    for (const message of page.messages) {
      if (!ids.has(message.messageId)) continue;
      const old = $('messages').querySelector(`li[data-id="${CSS.escape(message.messageId)}"]`);
      old?.replaceWith(renderMessage(message, null));
    }
  } catch (error) {
    announce(`Cannot read the attachments' links: ${error.message}`);
  }
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
  const unlinked = new Set();
  for (const message of open.shown.add(messages)) {
    settle(message);
    insertMessage(message);
    if (message.attachments?.some((file) => !file.url)) unlinked.add(message.messageId);
  }
  if (stick) scrollToEnd();
  renderSeen();
  markRead();
  if (unlinked.size > 0) readLinks(open, unlinked);
}

// --- Read marks, "Seen" and typing ---------------------------------------------------

/** Whether any part of `node` is inside the history's visible area, in a visible tab. */
function onScreen(node) {
  if (!node || document.hidden) return false;
  const box = node.getBoundingClientRect();
  const view = $('history-scroll').getBoundingClientRect();
  return box.height > 0 && box.bottom > view.top && box.top < view.bottom;
}

/**
 * Moves the agents' read mark to the open conversation's newest customer message once it
 * is on screen: once per message (the key is taken before the call), forward only.
 */
async function markRead() {
  const open = state.open;
  const newest = open?.newestCustomer;
  if (!newest || newest.key <= open.markedKey) return;
  const node = $('messages').querySelector(`li[data-id="${CSS.escape(newest.id)}"]`);
  if (!onScreen(node)) return;
  const before = open.markedKey;
  open.markedKey = newest.key;
  try {
    const mark = await state.client.markRead(open.id, newest.id);
    state.learnedAt.set(open.id, performance.now());
    // Counted after the mark: a customer message stored since is counted, as it should be.
    for (const conversation of [state.list.find((c) => c.conversationId === open.id), open.conversation]) {
      if (conversation) conversation.unread = mark.unread;
    }
    const listed = state.list.find((c) => c.conversationId === open.id);
    if (listed) renderItem(listed);
  } catch (error) {
    if (open.markedKey === newest.key) open.markedKey = before;
    announce(`Cannot mark ${open.id} read: ${error.message}`);
  }
}

/** "Seen" under the agent's latest reply, once the customer's read mark reaches it. */
function renderSeen() {
  const open = state.open;
  for (const old of $('messages').querySelectorAll('.seen')) old.remove();
  const upTo = open?.conversation?.customerReadUpTo;
  if (!upTo) return;
  const replies = $('messages').querySelectorAll('li.message.agent[data-id]');
  const latest = replies[replies.length - 1];
  // Message ids sort by creation (UUIDv7), as the read marks compare them.
  if (latest && latest.dataset.id <= upTo) latest.append(el('p', 'seen', 'Seen by the customer'));
}

/** Shows (or hides) "Customer is typing…"; it hides itself unless another frame comes. */
function showTyping(typing) {
  clearTimeout(state.typingTimer);
  const line = $('typing');
  const text = typing ? 'Customer is typing…' : '';
  if (line.textContent !== text) line.textContent = text;
  if (typing) state.typingTimer = setTimeout(() => showTyping(false), TYPING_SHOWN_MS);
}

/** The reply box's input: a typing frame, at most one per TYPING_EVERY_MS. Never for a note. */
function typed() {
  const open = state.open;
  if (!open || mode() !== 'reply' || open.conversation?.status === 'closed' || !$('composer-text').value) return;
  const now = Date.now();
  if (now - open.typingSentAt < TYPING_EVERY_MS) return;
  if (state.realtime?.typing(open.id)) open.typingSentAt = now;
}

async function loadEarlier() {
  const open = state.open;
  if (!open || !open.hasEarlier || open.loadingEarlier) return;
  open.loadingEarlier = true;
  const scroll = $('history-scroll');
  try {
    // Messages that arrived live may already show a whole earlier page: one that adds
    // nothing would leave the agent at the top with nothing new, so read on.
    let added = 0;
    while (added === 0 && open.hasEarlier) {
      const page = await state.client.messages(open.id, { before: open.before, limit: HISTORY_PAGE });
      if (state.open !== open) return;
      const height = scroll.scrollHeight;
      const fresh = open.shown.add(page.messages);
      for (const message of fresh) insertMessage(message);
      added = fresh.length;
      open.before = page.nextCursor;
      open.hasEarlier = page.hasMore && Boolean(page.nextCursor);
      // Keep the messages the agent was reading where they were.
      scroll.scrollTop += scroll.scrollHeight - height;
    }
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
    files: [...$('composer-files').files],
    /** The uploads' ids, once every file is uploaded. */
    attachments: undefined,
    element: null,
  };
  pending.element = insertMessage({
    author: 'agent', agent: state.agent, message: text, internal: pending.internal,
    createdAt: Date.now(), clientMessageId: pending.clientMessageId,
  }, { pending });
  open.pending.set(pending.clientMessageId, pending);
  $('composer-text').value = '';
  $('composer-files').value = '';
  renderChosen();
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
    if (pending.files.length > 0 && !pending.attachments) {
      item.querySelector('.state').textContent = 'Uploading…';
      const ids = [];
      for (const file of pending.files) ids.push(await state.client.upload(file));
      pending.attachments = ids;
      item.querySelector('.state').textContent = 'Sending…';
    }
    const { message } = await state.client.send(pending.conversationId, pending);
    state.learnedAt.set(pending.conversationId, performance.now());
    if (state.open === open && !open.shown.has(message.messageId)) {
      open.shown.add([message]);
      settle(message);
      insertMessage(message);
    } else {
      settle(message);
    }
    if (state.open === open) renderSeen();
  } catch (error) {
    if (!open.pending.has(pending.clientMessageId)) return;
    item.classList.add('failed');
    item.classList.remove('pending');
    const reason = error.code === 'conversation_closed'
      ? 'Not sent: the conversation is closed.'
      : `Not sent: ${error.message}`;
    item.querySelector('.state').textContent = reason;
    // Said aloud either way: the agent may be in another conversation by now.
    announce(`Your ${pending.internal ? 'note' : 'reply'} in ${pending.conversationId}: ${reason}`);
    if (error.code !== 'conversation_closed') {
      const retry = el('button', 'retry', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => attempt(open, pending));
      item.querySelector('.meta').append(retry);
      // Not while the agent types: keys pressed on a focused button are shortcuts
      // (s solves, j and k move), so the next reply's letters would act on the inbox.
      if (state.open === open && !document.activeElement?.matches('textarea, input, select')) retry.focus();
    }
  }
}

/** Names the files chosen for the next message. */
function renderChosen() {
  const list = $('composer-chosen');
  list.replaceChildren(...[...$('composer-files').files].map((file) => el('li', '', `${file.name} (${formatSize(file.size)})`)));
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
    state.learnedAt.set(open.id, performance.now());
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
  // Each on its own: an inbox that fails to load must not keep the open conversation's
  // missed messages from being read back.
  try {
    await refreshInbox();
  } catch (error) {
    announce(`Catching up the inbox failed: ${error.message}`);
  }
  try {
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
        renderSeen();
        markRead();
      }
    }
  } catch (error) {
    announce(`Catching up failed: ${error.message}`);
  }
}

function onEvent(event) {
  const id = event.conversationId;
  const fromCustomer = event.data?.author === 'customer';
  if (event.type === 'message.created') {
    const message = { ...event.data };
    if (state.open?.id === id) {
      if (fromCustomer) {
        showTyping(false);
        // The open conversation's new customer message, said aloud (a screen reader
        // hears nothing of a list item added silently).
        announce(`The customer wrote: ${message.message.slice(0, 200)}`);
      }
      showMessages([message]);
    }
    const known = state.list.find((c) => c.conversationId === id);
    if (known) {
      state.learnedAt.set(id, performance.now());
      // Counted until a mark says otherwise (the open conversation's may be marked already).
      const marked = state.open?.id === id && state.open.markedKey >= messageKey(message);
      if (fromCustomer && !marked) known.unread = (known.unread ?? 0) + 1;
      // A note is neither the activity nor the preview (as the API lists it); the newest
      // message stays the preview: one stamped before it may be announced after it.
      if (message.internal !== true) {
        known.lastActivityAt = Math.max(known.lastActivityAt, message.createdAt);
        if (!known.lastMessage || message.createdAt >= known.lastMessage.createdAt) {
          known.lastMessage = { messageId: message.messageId, author: message.author, message: message.message.slice(0, 200), createdAt: message.createdAt };
        }
      }
      renderItem(known);
      state.list.sort(byActivity);
      renderList();
    }
    // A customer's message may have reopened it, and a new one is not listed yet (in the
    // inbox, or in the search's results).
    const searched = state.search?.conversations.some((c) => c.conversationId === id);
    if (!known || searched || message.author === 'customer') refreshConversation(id);
    if (message.author === 'customer') notify(id, message);
  } else if (event.type === 'conversation.status_changed' || event.type === 'conversation.assigned') {
    refreshConversation(id);
  } else if (event.type === 'conversation.read' && event.data.reader === 'customer') {
    state.learnedAt.set(id, performance.now());
    for (const conversation of conversationsOf(id)) {
      // A mark only moves forward; ids sort by creation.
      if (!conversation.customerReadUpTo || conversation.customerReadUpTo < event.data.upTo) conversation.customerReadUpTo = event.data.upTo;
    }
    if (state.open?.id === id) renderSeen();
  } else if (event.type === 'conversation.read') {
    // The agents' mark moved (here or in another agent's console): the count is read again.
    refreshConversation(id);
  } else if (event.type === 'conversation.rated') {
    const { rating, comment, ratedAt } = event.data;
    state.learnedAt.set(id, performance.now());
    for (const conversation of conversationsOf(id)) conversation.rating = { rating, comment, ratedAt };
    const known = state.list.find((c) => c.conversationId === id);
    if (known) renderItem(known);
    if (state.open?.id === id) renderHead();
  } else if (event.type === 'typing' && event.data?.from === 'customer' && state.open?.id === id) {
    showTyping(true);
  }
}

/** The copies of conversation `id` the console holds: its inbox row's and the open one's. */
function conversationsOf(id) {
  const copies = [state.list.find((c) => c.conversationId === id)];
  if (state.open?.id === id) copies.push(state.open.conversation);
  return copies.filter((c, i) => c && copies.indexOf(c) === i);
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
  $('customer-search').addEventListener('submit', (event) => {
    event.preventDefault();
    const email = $('search-email').value.trim();
    if (email) findCustomer(email);
  });
  $('search-clear').addEventListener('click', () => {
    state.search = null;
    renderSearch();
    $('search-email').value = '';
    $('search-email').focus();
  });
  $('search-more').addEventListener('click', () => searchMore());
  $('composer-files').addEventListener('change', () => renderChosen());
  // The next page is read as the agent scrolls near the end of the list.
  $('conversation-list').addEventListener('scroll', () => {
    const list = $('conversation-list');
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 400) loadMore();
  }, { passive: true });
  $('history-scroll').addEventListener('scroll', () => {
    if ($('history-scroll').scrollTop < 60) loadEarlier();
    markRead();
  }, { passive: true });
  document.addEventListener('visibilitychange', () => markRead());
  $('composer-text').addEventListener('input', () => typed());
  $('load-earlier').addEventListener('click', () => loadEarlier());
  $('messages').addEventListener('click', followFresh);
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
