// <supportzen-messenger>: SupportZen's customer messenger as one web component. A host
// page adds one tag and one element:
//
//   <script type="module" src="https://support.example.com/web/messenger.js"></script>
//   <supportzen-messenger api="https://api.example.com" email="ann@example.com"
//     token="<hex(HMAC-SHA256(secret, email)), computed by the host's server>">
//   </supportzen-messenger>
//
// Optional attributes: name, plan-id, created-at (Unix seconds; stored on the customer's
// profile when a conversation opens), socket-url (production's WebSocket API URL; locally
// the API's own /ws), strings (JSON: any of STRINGS below, for another language; the
// `strings` property takes an object too). Theme with CSS custom properties on the
// element: --supportzen-accent, --supportzen-accent-text, --supportzen-background,
// --supportzen-text, --supportzen-muted, --supportzen-font, --supportzen-radius,
// --supportzen-offset-x, --supportzen-offset-y, --supportzen-z-index.
//
// Everything renders in a shadow root whose host resets every inherited property, so the
// page's CSS neither reaches in nor is reached. Styles are a constructed style sheet, so
// a page whose Content-Security-Policy forbids inline styles still shows it. Sends carry a
// client_message_id and an Idempotency-Key, wait in a queue (kept in localStorage too)
// while the network is away, and go out in order, each exactly once; a message shows as
// sent only once the server answered.

import {
  ApiError, CustomerClient, RealtimeConnection, ShownMessages, catchUp, linksStale, newId, readMessageAgain, socketUrl,
} from './client.js';

/** Every text the messenger shows, by key; `{n}` and `{name}` are filled in. */
export const STRINGS = {
  open: 'Open support chat', close: 'Close support chat', title: 'Support',
  unread: '{n} unread', chats: 'Chats', tickets: 'Tickets', newChat: 'New chat',
  newTicket: 'New ticket', back: 'Back to conversations', empty: 'Nothing here yet.',
  compose: 'Your message', composeTicket: 'Describe your issue', placeholder: 'Write a message…',
  send: 'Send', attach: 'Attach files', remove: 'Remove {name}', earlier: 'Load earlier messages',
  you: 'You', agent: 'Support', sending: 'Sending…', queued: 'Waiting for the network…',
  failed: 'Not sent: {reason}', sent: 'Sent', seen: 'Seen', typing: '{name} is typing…',
  offline: 'You are offline. Messages will be sent when the connection is back.',
  closed: 'This conversation is closed.', followUp: 'Start a follow-up',
  rateTitle: 'How would you rate this conversation?', star: '{n} out of 5',
  comment: 'Anything to add? (optional)', rateSend: 'Send rating', rated: 'Thanks! You rated this {n} out of 5.',
  changeRating: 'Change rating', rateFailed: 'The rating was not saved: {reason}',
  status_open: 'Open', status_pending: 'Waiting for you', status_solved: 'Solved', status_closed: 'Closed',
  chat: 'Chat', ticket: 'Ticket', attachment: 'Attachment: {name}',
  loadFailed: 'The messages could not be loaded: {reason}', retry: 'Try again',
  earlierFailed: 'Earlier messages could not be loaded: {reason}',
  refused: 'Not sent yet: the sign-in was refused',
  linkFailed: 'The file could not be opened: {reason}', linkGone: 'the message is no longer there',
};

const STYLE = `
:host{all:initial!important;position:fixed!important;display:flex!important;flex-direction:column!important;align-items:flex-end!important;gap:12px!important;
right:var(--supportzen-offset-x,20px)!important;bottom:var(--supportzen-offset-y,20px)!important;z-index:var(--supportzen-z-index,2147483000)!important;
--a:var(--supportzen-accent,#0b57d0);--at:var(--supportzen-accent-text,#fff);--bg:var(--supportzen-background,#fff);
--tx:var(--supportzen-text,#1f2328);--mu:var(--supportzen-muted,#59636e);--r:var(--supportzen-radius,12px)}
*{box-sizing:border-box}
[hidden]{display:none!important}
.root,.launcher,.panel{all:initial;box-sizing:border-box;font:14px/1.45 var(--supportzen-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--tx)}
.panel{display:flex;flex-direction:column;width:360px;max-width:calc(100vw - 24px);height:540px;max-height:calc(100vh - 100px);background:var(--bg);border-radius:var(--r);box-shadow:0 8px 32px rgba(0,0,0,.22);overflow:hidden}
.panel[hidden]{display:none}
.launcher{position:relative;display:grid;place-items:center;width:56px;height:56px;border-radius:50%;background:var(--a);color:var(--at);cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25)}
.launcher svg{width:26px;height:26px;fill:currentColor}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#b3261e;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center}
.badge[hidden]{display:none}
header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--a);color:var(--at)}
header h2{flex:1;margin:0;font-size:16px;font-weight:600}
button{font:inherit;color:inherit;border:0;background:none;cursor:pointer;border-radius:8px;padding:6px 10px}
button:focus-visible,a:focus-visible,textarea:focus-visible,input:focus-visible,.launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
header button{color:var(--at);min-width:32px;min-height:32px}
.primary{background:var(--a);color:var(--at);font-weight:600}
.primary:disabled{opacity:.55;cursor:default}
.secondary{border:1px solid var(--a);color:var(--a)}
.tabs{display:flex;border-bottom:1px solid #d0d7de}
.tabs button{flex:1;border-radius:0;padding:10px;color:var(--mu)}
.tabs button[aria-selected=true]{color:var(--a);box-shadow:inset 0 -3px 0 var(--a);font-weight:600}
.scroll{flex:1;overflow-y:auto;padding:10px 12px}
ul{list-style:none;margin:0;padding:0}
.item{display:block;width:100%;text-align:left;padding:10px;border-bottom:1px solid #eaeef2;border-radius:0}
.item:hover{background:#f6f8fa}
.row{display:flex;justify-content:space-between;gap:8px}
.preview{display:block;color:var(--mu);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.dot{display:inline-block;min-width:18px;height:18px;padding:0 5px;border-radius:9px;background:var(--a);color:var(--at);font-size:11px;line-height:18px;text-align:center}
.muted{color:var(--mu);font-size:12px}
.actions{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #eaeef2}
.actions button{flex:1}
.msg{display:flex;flex-direction:column;align-items:flex-start;margin:6px 0}
.msg.mine{align-items:flex-end}
.bubble{max-width:85%;padding:8px 11px;border-radius:14px;background:#eef1f4;white-space:pre-wrap;overflow-wrap:anywhere}
.mine .bubble{background:var(--a);color:var(--at)}
.mine.pending .bubble{opacity:.7}
.bubble img{display:block;max-width:100%;max-height:180px;margin-top:6px;border-radius:8px}
.bubble a{color:inherit}
.meta{font-size:12px;color:var(--mu);margin:2px 4px}
.failed .meta{color:#b3261e}
.note{margin:8px 0;padding:8px 10px;border-radius:8px;background:#fff8c5;color:#3b2300}
.typing{min-height:20px;padding:0 14px;font-size:12px;color:var(--mu)}
form.composer{display:flex;flex-direction:column;gap:6px;padding:8px 12px 12px;border-top:1px solid #eaeef2}
.inputrow{display:flex;gap:6px;align-items:flex-end}
textarea{flex:1;min-height:40px;max-height:120px;resize:none;font:inherit;color:var(--tx);background:var(--bg);border:1px solid #8c959f;border-radius:8px;padding:8px}
.body{display:contents}
.earlier{text-align:center}
.attach{color:var(--mu);padding:8px;display:grid;place-items:center}
.chips{display:flex;flex-wrap:wrap;gap:4px}
.chip{font-size:12px;background:#eef1f4;border-radius:10px;padding:2px 4px 2px 8px}
.chip button{padding:0 6px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
fieldset{border:0;margin:0;padding:0}
legend{font-weight:600;margin-bottom:6px}
.stars{display:flex;gap:4px;margin-bottom:8px}
.stars label{display:grid;place-items:center;width:36px;height:36px;border:1px solid #8c959f;border-radius:8px;cursor:pointer}
.stars input{position:absolute;opacity:0;width:1px;height:1px}
.stars input:checked+span{font-weight:700;color:var(--at)}
.stars label:has(input:checked){background:var(--a);border-color:var(--a)}
.stars label:has(input:focus-visible){outline:3px solid #ffbf47;outline-offset:2px}
.rating{margin:10px 0;padding:10px;border:1px solid #d0d7de;border-radius:10px}
.rating textarea{width:100%;margin:6px 0}
.banner{padding:6px 12px;background:#fff8c5;color:#3b2300;font-size:12px}
.banner[hidden]{display:none}
`;

const CLIP = '<svg viewBox="0 0 24 24" aria-hidden="true" width="20" height="20"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M20 11.5l-7.8 7.8a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8"/></svg>';
const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
const STORE_PREFIX = 'supportzen-messenger';
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 5000;

/** When a message id was taken: a msg-<UUIDv7>, whose first 48 bits are Unix ms. */
function idTime(messageId) {
  const time = parseInt(messageId.slice(4, 17).replace('-', ''), 16);
  return Number.isFinite(time) ? time : Date.now();
}

/** Creates an element: `h('button', {type: 'button', onclick}, 'text', child)`. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

let sheet = null;
function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
  }
  return sheet;
}

export class SupportZenMessenger extends HTMLElement {
  static get observedAttributes() { return ['strings', 'email', 'token', 'api']; }

  #strings = { ...STRINGS };
  #shadow;
  #client = null;
  #socket = null;
  #open = false;
  #view = 'list';
  #tab = 'chat';
  #lists = { chat: [], ticket: [] };
  #current = null;
  #queue = [];
  #ids = {};
  #flushing = false;
  #retryTimer = null;
  #failures = 0;
  #lastTyping = 0;
  #typingTimer = null;
  #readRoute = true;
  #files = [];
  #els = {};
  /** Counts the element's connections: a send or read begun under an earlier one (another
   * customer's, when the host page switches users) lands nowhere. */
  #generation = 0;
  /** Between connectedCallback and disconnectedCallback: attribute changes before the
   * first connection (the parser's, on upgrade) are read by that connection. */
  #live = false;

  constructor() {
    super();
    this.#shadow = this.attachShadow({ mode: 'open' });
    this.#shadow.adoptedStyleSheets = [styles()];
  }

  /** Replaces some or all of the shown texts (see STRINGS). */
  set strings(value) {
    this.#strings = { ...STRINGS, ...(value || {}) };
    if (this.isConnected) this.#render();
  }

  get strings() { return { ...this.#strings }; }

  attributeChangedCallback(name, _old, value) {
    if (name === 'strings') {
      try { this.strings = value ? JSON.parse(value) : {}; } catch { /* not JSON: keep the texts */ }
    } else if (this.#live && _old !== value) {
      this.disconnectedCallback();
      this.connectedCallback();
    }
  }

  connectedCallback() {
    const email = this.getAttribute('email');
    const token = this.getAttribute('token');
    const api = (this.getAttribute('api') || '').replace(/\/$/, '');
    const storeKey = email && token ? `${STORE_PREFIX}:${api || location.origin}:${email}` : '';
    const another = storeKey !== this.#storeKey;
    if (another) this.#forget();
    this.#storeKey = storeKey;
    this.#live = true;
    this.#render();
    if (!storeKey) return;
    const client = new CustomerClient({ email, token, baseUrl: api });
    this.#client = client;
    // The same customer's queue in memory is the one to send (it holds the files, which
    // localStorage does not).
    if (another) this.#restore();
    this.#onOnline = () => { this.#banner(); this.#flush(); };
    this.#onOffline = () => this.#banner();
    addEventListener('online', this.#onOnline);
    addEventListener('offline', this.#onOffline);
    const socket = new RealtimeConnection({
      getTicket: async () => {
        try {
          return await client.realtimeTicket();
        } catch (error) {
          // A customer the API does not know yet (they never wrote) has nothing to hear:
          // no asking again every half minute for as long as the page is open; their
          // first message starts the socket (#settle).
          if (error instanceof ApiError && error.status === 404) socket.stop();
          throw error;
        }
      },
      url: (ticket) => socketUrl(api, ticket, this.getAttribute('socket-url') || undefined),
      onEvent: (event) => this.#onEvent(event),
      onOpen: (reconnected) => this.#onSocketOpen(reconnected),
    });
    this.#socket = socket;
    socket.start();
    this.#loadLists();
    this.#flush();
    /** When the first render finished, in ms since the page's navigation started. */
    this.firstRenderAt ??= performance.now();
    this.dispatchEvent(new CustomEvent('supportzen-ready', { bubbles: true, composed: true }));
  }

  disconnectedCallback() {
    this.#live = false;
    this.#generation += 1; // a flush under this connection stops at its next step
    this.#socket?.stop();
    this.#socket = null;
    clearTimeout(this.#retryTimer);
    removeEventListener('online', this.#onOnline);
    removeEventListener('offline', this.#onOffline);
  }

  /** Drops the last customer's queue, conversations and lists: a host page that switches
   * users on one element must not send or show one customer's messages as another's. */
  #forget() {
    this.#client = null;
    this.#queue = [];
    this.#ids = {};
    this.#current = null;
    this.#lists = { chat: [], ticket: [] };
    this.#view = 'list';
    this.#failures = 0;
    this.#files = [];
  }

  #storeKey = '';
  #onOnline = () => {};
  #onOffline = () => {};

  /** The format a text with its placeholders filled in. */
  #t(key, fill = {}) {
    return (this.#strings[key] ?? STRINGS[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => fill[name] ?? '');
  }

  // ---- The queue: in memory, mirrored to localStorage (without the files) ----

  #persist() {
    try {
      const items = this.#queue.map(({ files, ...item }) => item);
      localStorage.setItem(this.#storeKey, JSON.stringify({ queue: items, ids: this.#ids }));
    } catch { /* storage full or refused: the queue still lives in memory */ }
  }

  #restore() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.#storeKey) || 'null');
      if (saved) {
        this.#queue = (saved.queue || []).map((item) => ({ ...item, state: 'queued' }));
        this.#ids = saved.ids || {};
      }
    } catch { /* nothing usable saved */ }
  }

  #seenKey(id) { return `${this.#storeKey}:seen:${id}`; }

  /** Sends the queue's items one at a time, in order; stops at the first that fails for
   * want of a network and tries again later, with the same keys. */
  async #flush() {
    if (this.#flushing || !this.#client) return;
    const generation = this.#generation;
    const client = this.#client;
    this.#flushing = true;
    clearTimeout(this.#retryTimer);
    try {
      while (this.#queue.length) {
        if (generation !== this.#generation) return;
        const item = this.#queue[0];
        item.state = 'sending';
        this.#paintPending(item);
        try {
          const answer = await this.#send(item, client, generation);
          if (generation !== this.#generation) return;
          this.#queue.shift();
          this.#persist();
          this.#failures = 0;
          this.#settle(item, answer);
        } catch (error) {
          if (generation !== this.#generation) return;
          if (error instanceof ApiError && error.status === 401) {
            // The host page's email and token do not match (a token being replaced, or a
            // wrong one). The queue waits for the attributes to change, which connects
            // again and sends it; the host page is told, and the customer sees why.
            item.state = 'refused';
            this.#paintPending(item);
            this.dispatchEvent(new CustomEvent('supportzen-unauthorized', { bubbles: true, composed: true }));
            return;
          }
          if (!(error instanceof ApiError) || error.retryable) {
            item.state = 'queued';
            this.#paintPending(item);
            this.#failures += 1;
            const wait = Math.min(8000, 500 * 2 ** this.#failures);
            this.#retryTimer = setTimeout(() => this.#flush(), error?.retryAfter ? error.retryAfter * 1000 : wait);
            return;
          }
          // Refused for good (closed, invalid): shown as not sent, and the queue moves on.
          this.#queue.shift();
          this.#persist();
          item.state = 'failed';
          item.reason = error.message;
          this.#paintPending(item);
          if (error.code === 'conversation_closed' && this.#current?.id === this.#resolve(item.conv)) {
            this.#current.status = 'closed';
            this.#current.changedAt = Date.now();
            this.#renderFooter();
          }
        }
      }
    } finally {
      this.#flushing = false;
      if (generation === this.#generation) this.#banner();
      // A connection made meanwhile found this flush running: its turn now.
      else if (this.#live && this.#client) this.#flush();
    }
  }

  #resolve(id) { return this.#ids[id] || id; }

  /** One queued item, sent with the connection's `client`; what it learns (a new
   * conversation's id) is kept only while that connection is the element's. */
  async #send(item, client, generation) {
    // A file leaves the item only once it is uploaded: a retry after a failed upload
    // sends the rest, not a message missing them.
    while (item.files?.length) {
      if (generation !== this.#generation) throw new Error('superseded by another connection');
      item.attachments = item.attachments || [];
      item.attachments.push(await client.upload(item.files[0]));
      item.files.shift();
      if (generation === this.#generation) this.#persist();
    }
    const fields = {
      message: item.message, attachments: item.attachments,
      clientMessageId: item.clientMessageId, idempotencyKey: item.key,
    };
    if (generation !== this.#generation) throw new Error('superseded by another connection');
    if (item.op === 'create') {
      item.profile ??= this.#profile(); // an item queued before profiles were kept
      const open = { ...fields, ...item.profile, followUpOf: item.followUpOf };
      const answer = item.kind === 'chat' ? await client.createChat(open) : await client.createTicket(open);
      if (generation === this.#generation) this.#ids[item.conv] = answer.chatId || answer.ticketId;
      return answer;
    }
    const id = this.#resolve(item.conv);
    return item.kind === 'chat' ? client.sendChat(id, fields) : client.appendTicket(id, fields);
  }

  /** The customer's profile as the host page gives it, read once when a conversation is
   * asked for: every try of its create must send the same body under the same
   * Idempotency-Key (the API answers a different one with 422), so a missing `created-at`
   * falls back to when the customer wrote, not to when the retry went out. */
  #profile() {
    const planId = this.getAttribute('plan-id');
    return {
      createdAt: Number(this.getAttribute('created-at')) || Math.floor(Date.now() / 1000),
      name: this.getAttribute('name') || undefined,
      planId: planId ? Number(planId) : undefined,
    };
  }

  /** A send the server answered: its bubble is now that stored message. */
  #settle(item, answer) {
    // Stopped only for a customer the API did not know yet: it knows them now.
    if (this.#socket?.stopped) this.#socket.start();
    const id = this.#resolve(item.conv);
    if (this.#current && this.#current.id === item.conv) {
      this.#current.id = id;
      if (item.op === 'create') {
        this.#current.status = 'open';
        this.#current.shown = new ShownMessages();
      }
    }
    const el = this.#bubbleFor(item);
    const messageId = answer.messageId;
    if (el) {
      el.classList.remove('pending');
      if (messageId) {
        el.dataset.id = messageId;
        this.#current?.shown.add([{ messageId, createdAt: idTime(messageId) }]);
      }
      el.querySelector('.meta').textContent = this.#t('sent');
    }
    if (item.op === 'create' && this.#current?.id === id) {
      // The first message's id comes with the page: read it, and name the bubble by it.
      this.#client.messages(id, { limit: 30 }).then((page) => {
        for (const m of page.messages) {
          if (m.clientMessageId === item.clientMessageId && el) el.dataset.id = m.messageId;
        }
        this.#current.shown.add(page.messages);
        this.#current.oldest = page.messages[0]?.messageId;
        this.#current.loaded = true;
      }).catch(() => {});
    }
    this.#refreshLists();
  }

  #listTimer = null;

  /** Reads the lists again soon, once for a burst of events. */
  #refreshLists() {
    clearTimeout(this.#listTimer);
    this.#listTimer = setTimeout(() => this.#loadLists(), 200);
  }

  // ---- Reading ----

  async #loadLists() {
    if (!this.#client) return;
    const generation = this.#generation;
    const asked = Date.now();
    try {
      const [chats, tickets] = await Promise.all([
        this.#client.conversations({ kind: 'chat', limit: 50 }),
        this.#client.conversations({ kind: 'ticket', limit: 50 }),
      ]);
      if (generation !== this.#generation) return;
      this.#lists = { chat: chats.conversations, ticket: tickets.conversations };
    } catch {
      return;
    }
    // The conversation on screen is being read: a list read before its mark reached the
    // server must not count it again.
    const reading = this.#open && this.#view === 'conversation' && this.#current && this.#item(this.#current.id);
    if (reading && typeof reading.unread === 'number') reading.unread = 0;
    this.#renderBadge();
    if (this.#view === 'list') this.#renderBody();
    if (this.#current) {
      const item = this.#item(this.#current.id);
      // A status or rating the socket told of after this read was asked for is newer
      // than what it answers (redrawing from it would take away a rating being written).
      if (item && !(this.#current.changedAt >= asked)) {
        const current = this.#current;
        // Drawn again only when it changed: a rating being written stays as it is.
        const changed = current.status !== item.status || current.rating?.ratedAt !== item.rating?.ratedAt;
        current.status = item.status;
        current.rating = item.rating;
        current.readUpTo = item.agentsReadUpTo || current.readUpTo;
        this.#paintSeen();
        if (changed) this.#renderFooter();
      }
    }
  }

  #item(id) {
    return [...this.#lists.chat, ...this.#lists.ticket].find((c) => c.conversationId === id);
  }

  #unread(item) {
    if (typeof item.unread === 'number') return item.unread;
    const last = item.lastMessage;
    if (!last || last.author === 'customer') return 0;
    let seen = null;
    try { seen = localStorage.getItem(this.#seenKey(item.conversationId)); } catch { /* none */ }
    return !seen || last.messageId > seen ? 1 : 0;
  }

  #onSocketOpen(reconnected) {
    if (this.#current?.loaded) this.#catchUp();
    if (reconnected) this.#loadLists();
  }

  #isLocal(id) { return id.startsWith('local-'); }

  async #catchUp() {
    const current = this.#current;
    try {
      const fresh = await catchUp((page) => this.#client.messages(current.id, page), current.shown);
      if (this.#current === current) for (const m of fresh) this.#renderMessage(m);
      this.#markRead();
    } catch { /* the next open socket catches up */ }
  }

  #onEvent(event) {
    if (event.type === 'typing') {
      if (event.conversationId === this.#current?.id && event.data?.from === 'agent') {
        this.#showTyping(event.data.agent?.name || this.#t('agent'));
      }
      return;
    }
    const id = event.conversationId;
    const data = event.data || {};
    const current = this.#current && this.#current.id === id ? this.#current : null;
    if (event.type === 'message.created') {
      if (current) {
        this.#showTyping(null);
        const pending = data.clientMessageId && this.#shadow.querySelector(`.msg.pending[data-cmid="${CSS.escape(data.clientMessageId)}"]`);
        if (pending) {
          // Ours, written: the HTTP answer settles it; remember its id to show it once.
          pending.dataset.id = data.messageId;
          current.shown.add([data]);
        } else if (data.attachments?.length) {
          // Events name files by id only: read the message for its links.
          this.#catchUp();
        } else if (current.shown.add([data]).length) {
          this.#renderMessage(data);
          this.#markRead();
        }
      }
      this.#refreshLists();
    } else if (event.type === 'conversation.status_changed') {
      if (current) {
        current.status = data.status;
        current.changedAt = Date.now();
        this.#renderFooter();
      }
      this.#refreshLists();
    } else if (event.type === 'conversation.rated') {
      if (current) {
        current.rating = { rating: data.rating, comment: data.comment, ratedAt: data.ratedAt };
        current.changedAt = Date.now();
      }
    } else if (event.type === 'conversation.read' && data.reader === 'agents') {
      if (current) {
        current.readUpTo = data.upTo;
        this.#paintSeen();
      }
    }
  }

  #showTyping(name) {
    const line = this.#els.typing;
    if (!line) return;
    clearTimeout(this.#typingTimer);
    line.textContent = name ? this.#t('typing', { name }) : '';
    if (name) this.#typingTimer = setTimeout(() => { line.textContent = ''; }, TYPING_SHOWN_MS);
  }

  #markRead() {
    const current = this.#current;
    if (!current || !this.#open || this.#view !== 'conversation' || this.#isLocal(current.id)) return;
    const ids = [...current.shown.byId.keys()].sort();
    const newest = ids[ids.length - 1];
    if (!newest) return;
    try { localStorage.setItem(this.#seenKey(current.id), newest); } catch { /* none */ }
    const item = this.#item(current.id);
    if (item) {
      if (typeof item.unread === 'number') item.unread = 0;
      this.#renderBadge();
    }
    if (!this.#readRoute || current.readSent === newest) return;
    current.readSent = newest;
    this.#client.markRead(current.id, newest).then(() => this.#refreshLists(), (error) => {
      // A server without read receipts (issue 23): stop asking.
      if (error.status === 404 && error.code === 'route_not_found') this.#readRoute = false;
    });
  }

  // ---- Rendering ----

  #render() {
    const root = this.#shadow;
    root.replaceChildren();
    const badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
    const launcher = h('button', {
      class: 'launcher', type: 'button', 'aria-expanded': String(this.#open),
      'aria-label': this.#t(this.#open ? 'close' : 'open'), onclick: () => this.toggle(),
    });
    launcher.innerHTML = ICON;
    launcher.append(badge);
    const title = h('h2', { id: 'sz-title', text: this.#t('title') });
    const back = h('button', { type: 'button', 'aria-label': this.#t('back'), hidden: true, onclick: () => this.#showList() }, '←');
    const close = h('button', { type: 'button', 'aria-label': this.#t('close'), onclick: () => this.toggle(false) }, '✕');
    const banner = h('p', { class: 'banner', role: 'status', hidden: true });
    const body = h('div', { class: 'body' });
    const panel = h('section', {
      class: 'panel', role: 'dialog', 'aria-labelledby': 'sz-title', hidden: !this.#open,
      onkeydown: (e) => { if (e.key === 'Escape') this.toggle(false); },
    }, h('header', {}, back, title, close), banner, body);
    root.append(panel, launcher);
    this.#els = { launcher, badge, panel, body, back, title, banner };
    this.#renderBadge();
    this.#renderBody();
    this.#banner();
  }

  /** Opens or closes the panel (`open` forces one). */
  toggle(open = !this.#open) {
    this.#open = open;
    this.#els.panel.hidden = !open;
    this.#els.launcher.setAttribute('aria-expanded', String(open));
    this.#els.launcher.setAttribute('aria-label', this.#t(open ? 'close' : 'open'));
    if (open) {
      this.#loadLists();
      const target = this.#els.panel.querySelector('textarea, .tabs button[aria-selected=true], button');
      target?.focus();
      this.#markRead();
    } else {
      this.#els.launcher.focus();
    }
  }

  #banner() {
    const banner = this.#els.banner;
    if (!banner) return;
    const offline = navigator.onLine === false || this.#queue.some((i) => i.state === 'queued' && this.#failures > 0);
    banner.hidden = !offline;
    banner.textContent = offline ? this.#t('offline') : '';
  }

  #renderBadge() {
    const total = [...this.#lists.chat, ...this.#lists.ticket].reduce((sum, item) => sum + this.#unread(item), 0);
    const { badge, launcher } = this.#els;
    if (!badge) return;
    badge.hidden = total === 0;
    badge.textContent = total > 99 ? '99+' : String(total);
    launcher.setAttribute('aria-label', this.#t(this.#open ? 'close' : 'open') + (total ? `, ${this.#t('unread', { n: total })}` : ''));
  }

  #renderBody() {
    const { body, back, title } = this.#els;
    if (!body) return;
    back.hidden = this.#view === 'list';
    if (this.#view === 'list') {
      title.textContent = this.#t('title');
      // The list is drawn afresh whenever it is read again (a reply arrived, a mark was
      // made): the new drawing is scrolled as far as the last one was (for the same tab),
      // and the control the customer had reached with the keyboard is focused again,
      // scrolled into view if the list moved it, or their place would go back to the top.
      const focused = body.contains(this.#shadow.activeElement) ? this.#shadow.activeElement.dataset.key : undefined;
      const scrolled = body.querySelector('.scroll');
      const top = scrolled?.dataset.tab === this.#tab ? scrolled.scrollTop : 0;
      body.replaceChildren(...this.#listView());
      body.querySelector('.scroll').scrollTop = top;
      if (focused) body.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
    } else if (this.#view === 'compose') {
      title.textContent = this.#t(this.#tab === 'chat' ? 'newChat' : 'newTicket');
      body.replaceChildren(...this.#composeView());
    } else {
      body.replaceChildren(...this.#conversationView());
    }
  }

  #listView() {
    const tab = (kind, label) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': String(this.#tab === kind), 'data-key': `tab-${kind}`,
      onclick: () => { this.#tab = kind; this.#renderBody(); this.#els.body.querySelector('[aria-selected=true]')?.focus(); },
    }, this.#t(label));
    const items = this.#lists[this.#tab];
    const list = items.length
      ? h('ul', { 'aria-label': this.#t(this.#tab === 'chat' ? 'chats' : 'tickets') }, items.map((item) => {
        const unread = this.#unread(item);
        return h('li', {}, h('button', { class: 'item', type: 'button', 'data-key': `conversation-${item.conversationId}`, onclick: () => this.#openConversation(item.conversationId, item.kind) },
          h('span', { class: 'row' },
            h('strong', {}, item.kind === 'ticket' ? item.conversationId : this.#t('chat')),
            h('span', { class: 'muted' }, this.#t(`status_${item.status}`))),
          h('span', { class: 'row' },
            h('span', { class: 'preview' }, item.lastMessage?.message ?? ''),
            unread ? h('span', { class: 'dot', 'aria-label': this.#t('unread', { n: unread }) }, String(unread)) : null)));
      }))
      : h('p', { class: 'muted' }, this.#t('empty'));
    return [
      h('div', { class: 'tabs', role: 'tablist' }, tab('chat', 'chats'), tab('ticket', 'tickets')),
      h('div', { class: 'scroll', 'data-tab': this.#tab }, list),
      h('div', { class: 'actions' },
        h('button', { class: 'primary', type: 'button', 'data-key': 'new-chat', onclick: () => this.#compose('chat') }, this.#t('newChat')),
        h('button', { class: 'secondary', type: 'button', 'data-key': 'new-ticket', onclick: () => this.#compose('ticket') }, this.#t('newTicket'))),
    ];
  }

  #compose(kind, followUpOf) {
    this.#tab = kind;
    this.#view = 'compose';
    this.#followUpOf = followUpOf;
    this.#files = [];
    this.#renderBody();
    this.#els.body.querySelector('textarea')?.focus();
  }

  #followUpOf = undefined;

  #composeView() {
    return [h('div', { class: 'scroll' }), this.#composer((message, files) => {
      const conv = `local-${newId()}`;
      const followUpOf = this.#followUpOf;
      this.#current = { id: conv, kind: this.#tab, status: 'open', shown: new ShownMessages(), oldest: null };
      this.#view = 'conversation';
      this.#renderBody();
      this.#enqueueMessage({ op: 'create', kind: this.#tab, conv, message, files, followUpOf, profile: this.#profile() });
    }, this.#tab === 'ticket' ? 'composeTicket' : 'compose')];
  }

  #enqueueMessage(item) {
    const full = { key: newId(), clientMessageId: newId(), state: 'queued', at: Date.now(), ...item };
    this.#renderPending(full);
    this.#queue.push(full);
    this.#persist();
    this.#flush();
  }

  #composer(onSend, label = 'compose') {
    const area = h('textarea', {
      'aria-label': this.#t(label), placeholder: this.#t('placeholder'), rows: '2', maxlength: '10000',
      oninput: () => this.#typing(),
      onkeydown: (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } },
    });
    const chips = h('div', { class: 'chips' });
    const paintChips = () => chips.replaceChildren(...this.#files.map((file, i) => h('span', { class: 'chip' }, file.name,
      h('button', { type: 'button', 'aria-label': this.#t('remove', { name: file.name }), onclick: () => { this.#files.splice(i, 1); paintChips(); } }, '×'))));
    const picker = h('input', {
      type: 'file', multiple: true, class: 'sr', tabindex: '-1', 'aria-hidden': 'true',
      onchange: () => { this.#files.push(...picker.files); picker.value = ''; paintChips(); },
    });
    const attach = h('button', { type: 'button', class: 'attach', 'aria-label': this.#t('attach'), onclick: () => picker.click() });
    attach.innerHTML = CLIP;
    const form = h('form', {
      class: 'composer',
      onsubmit: (e) => {
        e.preventDefault();
        const text = area.value.trim();
        if (!text) return;
        const files = this.#files.splice(0);
        area.value = '';
        paintChips();
        onSend(text, files);
        area.focus();
      },
    }, chips, h('div', { class: 'inputrow' }, attach, area,
      h('button', { class: 'primary', type: 'submit' }, this.#t('send'))), picker);
    return form;
  }

  #typing() {
    const now = Date.now();
    if (!this.#current || this.#isLocal(this.#current.id) || now - this.#lastTyping < TYPING_EVERY_MS) return;
    this.#lastTyping = now;
    this.#socket?.send({ action: 'typing', conversationId: this.#current.id });
  }

  #showList() {
    this.#view = 'list';
    this.#current = null;
    this.#renderBody();
    this.#loadLists();
    this.#els.body.querySelector('.tabs [aria-selected=true]')?.focus();
  }

  async #openConversation(id, kind) {
    const item = this.#item(id);
    this.#current = {
      id, kind, status: item?.status ?? 'open', rating: item?.rating ?? null,
      readUpTo: item?.agentsReadUpTo ?? null, shown: new ShownMessages(), oldest: null, hasMore: false,
    };
    this.#view = 'conversation';
    this.#renderBody();
    const current = this.#current;
    try {
      const page = await this.#client.messages(id, { limit: 30 });
      if (this.#current !== current) return;
      current.status = page.status;
      current.loaded = true;
      current.hasMore = page.hasMore;
      current.oldest = page.messages[0]?.messageId ?? null;
      for (const m of current.shown.add(page.messages)) this.#renderMessage(m);
      this.#els.earlier.hidden = !current.hasMore;
      this.#els.log.parentElement.scrollTop = this.#els.log.parentElement.scrollHeight;
      this.#paintSeen();
      this.#renderFooter();
      this.#markRead();
    } catch (error) {
      if (this.#current !== current) return;
      // Said, with a way to try again: an empty conversation would look like no messages.
      this.#els.log.append(h('p', { class: 'muted', role: 'alert' }, this.#t('loadFailed', { reason: error.message }), ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => this.#openConversation(id, kind) }, this.#t('retry'))));
    }
    for (const pending of this.#queue.filter((q) => this.#resolve(q.conv) === id)) this.#renderPending(pending);
    this.#els.log.parentElement.querySelector('textarea')?.focus();
  }

  /** Pages in the 30 messages before the oldest shown; one page at a time, whether the
   * button or scrolling to the top asked for it. */
  async #earlier() {
    const current = this.#current;
    if (!current?.oldest || current.loading) return;
    current.loading = true;
    try {
      const scroller = this.#els.log.parentElement;
      const row = this.#els.earlier.parentElement;
      row.querySelector('[role=alert]')?.remove();
      const before = scroller.scrollHeight - scroller.scrollTop;
      let page;
      try {
        page = await this.#client.messages(current.id, { before: current.oldest, limit: 30 });
      } catch (error) {
        // Said; the button stays for another try.
        if (this.#current === current) row.append(h('p', { class: 'muted', role: 'alert' }, this.#t('earlierFailed', { reason: error.message })));
        return;
      }
      if (this.#current !== current) return;
      current.hasMore = page.hasMore;
      current.oldest = page.messages[0]?.messageId ?? current.oldest;
      for (const m of current.shown.add(page.messages)) this.#renderMessage(m);
      this.#els.earlier.hidden = !current.hasMore;
      scroller.scrollTop = scroller.scrollHeight - before;
      this.#els.earlier.focus();
    } finally {
      current.loading = false;
    }
  }

  #conversationView() {
    const current = this.#current;
    this.#els.title.textContent = current.kind === 'ticket' && !this.#isLocal(current.id) ? current.id : this.#t(current.kind);
    const earlier = h('button', { class: 'secondary', type: 'button', hidden: true, onclick: () => this.#earlier() }, this.#t('earlier'));
    const log = h('div', { role: 'log', 'aria-live': 'polite', 'aria-label': this.#t('title'), onclick: (e) => this.#followFresh(e) });
    const footer = h('div', {});
    const typing = h('p', { class: 'typing', role: 'status' });
    this.#els = { ...this.#els, log, earlier, footer, typing };
    const scroller = h('div', {
      class: 'scroll',
      onscroll: () => { if (scroller.scrollTop < 40 && current.hasMore) this.#earlier(); },
    }, h('div', { class: 'earlier' }, earlier), log, footer);
    const composer = this.#composer((message, files) => this.#enqueueMessage({ op: 'send', kind: current.kind, conv: current.id, message, files }));
    this.#els.composer = composer;
    queueMicrotask(() => this.#renderFooter());
    return [scroller, typing, composer];
  }

  #renderFooter() {
    const current = this.#current;
    const { footer, composer } = this.#els;
    if (!current || !footer) return;
    footer.replaceChildren();
    const closed = current.status === 'closed';
    if (composer) composer.hidden = closed;
    if (closed) {
      footer.append(h('div', { class: 'note', role: 'status' }, this.#t('closed'), ' ',
        h('button', { class: 'secondary', type: 'button', onclick: () => this.#compose(current.kind, current.id) }, this.#t('followUp'))));
    } else if (current.status === 'solved') {
      footer.append(this.#ratingView(current));
    }
    this.#keepBottom(footer.offsetHeight);
  }

  #ratingView(current) {
    const given = current.rating;
    if (given && !current.changing) {
      return h('div', { class: 'rating', role: 'status' }, this.#t('rated', { n: given.rating }), ' ',
        h('button', { class: 'secondary', type: 'button', onclick: () => { current.changing = true; this.#renderFooter(); } }, this.#t('changeRating')));
    }
    const error = h('p', { class: 'muted', role: 'alert' });
    const stars = [1, 2, 3, 4, 5].map((n) => h('label', {},
      h('input', { type: 'radio', name: 'sz-rating', value: String(n), checked: given?.rating === n, 'aria-label': this.#t('star', { n }) }),
      h('span', { 'aria-hidden': 'true' }, String(n))));
    const comment = h('textarea', { 'aria-label': this.#t('comment'), placeholder: this.#t('comment'), maxlength: '1000', rows: '2' });
    comment.value = given?.comment ?? '';
    const submit = h('button', { class: 'primary', type: 'submit' }, this.#t('rateSend'));
    return h('form', {
      class: 'rating',
      onsubmit: async (e) => {
        e.preventDefault();
        const picked = e.currentTarget.querySelector('input:checked');
        if (!picked) return;
        submit.disabled = true;
        try {
          const answer = await this.#client.rate(current.id, { rating: Number(picked.value), comment: comment.value.trim() });
          current.rating = answer.rating;
          current.changedAt = Date.now();
          current.changing = false;
          this.#renderFooter();
          this.#els.footer.querySelector('button')?.focus();
        } catch (err) {
          submit.disabled = false;
          error.textContent = this.#t('rateFailed', { reason: err.message });
        }
      },
    }, h('fieldset', {}, h('legend', {}, this.#t('rateTitle')), h('div', { class: 'stars' }, stars)), comment, submit, error);
  }

  #messageEl(author, text, attachments, mine) {
    const bubble = h('div', { class: 'bubble' }, text);
    for (const file of attachments || []) {
      if (!file.url) continue;
      bubble.append(file.contentType?.startsWith('image/')
        ? h('img', { src: file.url, alt: this.#t('attachment', { name: file.name }), onload: (e) => this.#keepBottom(e.target.height) })
        : h('a', { href: file.url, download: file.name, rel: 'noopener' }, h('br'), `📄 ${file.name}`));
    }
    return h('div', { class: `msg${mine ? ' mine' : ''}` },
      h('span', { class: 'sr' }, `${author}: `), bubble, h('span', { class: 'meta' }));
  }

  /** Keeps the log at its end when something above grew by `grown` pixels. */
  #keepBottom(grown) {
    const scroller = this.#els.log?.parentElement;
    if (scroller && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= grown + 80) scroller.scrollTop = scroller.scrollHeight;
  }

  #renderMessage(m, { relinked = false } = {}) {
    const log = this.#els.log;
    if (!log) return;
    const mine = m.author === 'customer';
    const author = mine ? this.#t('you') : (m.agent?.name || this.#t('agent'));
    const el = this.#messageEl(author, m.message, m.attachments, mine);
    el.dataset.id = m.messageId;
    if (m.attachments?.some((file) => file.url)) {
      el.dataset.linksReadAt = String(Date.now());
      // A picture that fails to load (its link expired, say) has its message read again,
      // once: a replacement that fails too is left as it is.
      for (const image of el.querySelectorAll('img')) {
        image.addEventListener('error', () => { if (!relinked || this.#stale(el)) this.#relink(el); }, { once: true });
      }
    }
    const meta = el.querySelector('.meta');
    meta.textContent = mine ? '' : author;
    if (m.createdAt) el.title = new Date(m.createdAt).toLocaleString();
    // In id order (ids are time-ordered), before any send still waiting.
    let before = null;
    for (let child = log.lastElementChild; child; child = child.previousElementSibling) {
      if (!child.dataset.id || child.dataset.id > m.messageId) before = child;
      else break;
    }
    log.insertBefore(el, before);
    if (!before) log.parentElement.scrollTop = log.parentElement.scrollHeight;
    this.#paintSeen();
  }

  #stale(el) { return linksStale(Number(el.dataset.linksReadAt ?? 0)); }

  /** A click on a stale attachment link reads its message again and follows the new link. */
  async #followFresh(event) {
    const link = event.target.closest('a[download]');
    const el = link?.closest('.msg[data-links-read-at]');
    if (!el || !this.#stale(el)) return;
    event.preventDefault();
    const index = [...el.querySelectorAll('a[download]')].indexOf(link);
    const fresh = (await this.#relink(el))?.querySelectorAll('a[download]')[index];
    if (!fresh) return;
    fresh.focus();
    fresh.click();
  }

  /**
   * Reads the message `el` shows again, for new links, and shows it in its place (the log
   * scrolled where it was); returns the new element. One read at a time per message,
   * however many of its pictures fail; a failure is said under it.
   */
  async #relink(el) {
    const current = this.#current;
    const id = el.dataset.id;
    if (!current || !id || !this.#client || el.dataset.relinking) return null;
    el.dataset.relinking = 'yes';
    let failure;
    try {
      const message = await readMessageAgain((page) => this.#client.messages(current.id, page), id, {
        previous: el.previousElementSibling?.dataset.id,
        next: el.nextElementSibling?.dataset.id,
        latest: 30,
      });
      if (this.#current !== current || !el.isConnected) return null;
      if (message) {
        const scroller = this.#els.log.parentElement;
        const top = scroller.scrollTop;
        el.remove();
        this.#renderMessage(message, { relinked: true });
        scroller.scrollTop = top;
        return this.#els.log.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
      }
      failure = this.#t('linkGone');
    } catch (error) {
      failure = error.message;
    } finally {
      delete el.dataset.relinking;
    }
    if (el.isConnected && !el.querySelector('.link-failed')) {
      el.append(h('p', { class: 'muted link-failed', role: 'alert' }, this.#t('linkFailed', { reason: failure })));
    }
    return null;
  }

  #bubbleFor(item) { return this.#els.log?.querySelector(`.msg[data-key="${item.key}"]`) ?? null; }

  #renderPending(item) {
    const log = this.#els.log;
    if (!log || !this.#current || this.#resolve(item.conv) !== this.#resolve(this.#current.id) || this.#bubbleFor(item)) return;
    const el = this.#messageEl(this.#t('you'), item.message, [], true);
    el.classList.add('pending');
    el.dataset.key = item.key;
    el.dataset.cmid = item.clientMessageId;
    log.append(el);
    log.parentElement.scrollTop = log.parentElement.scrollHeight;
    this.#paintPending(item);
  }

  #paintPending(item) {
    const el = this.#bubbleFor(item);
    if (!el) return;
    el.classList.toggle('failed', item.state === 'failed');
    const waiting = { sending: 'sending', refused: 'refused' }[item.state] ?? 'queued';
    el.querySelector('.meta').textContent = item.state === 'failed'
      ? this.#t('failed', { reason: item.reason })
      : this.#t(waiting);
    this.#banner();
  }

  /** "Seen" under the customer's newest message the agents have read. */
  #paintSeen() {
    const current = this.#current;
    const log = this.#els.log;
    if (!current || !log) return;
    for (const old of log.querySelectorAll('.seen')) old.remove();
    if (!current.readUpTo) return;
    const mine = [...log.querySelectorAll('.msg.mine:not(.pending)')].filter((el) => el.dataset.id && el.dataset.id <= current.readUpTo);
    const last = mine[mine.length - 1];
    if (last) last.append(h('span', { class: 'meta seen' }, this.#t('seen')));
  }
}

if (!customElements.get('supportzen-messenger')) customElements.define('supportzen-messenger', SupportZenMessenger);
