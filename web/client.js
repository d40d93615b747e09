// SupportZen's browser client: one plain ES module, no dependencies, shared by the agent
// console (web/console/) and the customer messenger. It wraps the public routes the
// README documents, turns the API's error envelope into ApiError, puts an
// Idempotency-Key on every write (not on realtime tickets, which are single use anyway)
// and a client_message_id on every send, and keeps a realtime socket open with the
// README's catch-up loop ("See new messages live").

/** The cursor that reads a conversation from its first message. */
export const START_CURSOR = 'msg-00000000-0000-0000-0000-000000000000';

/** How far behind the newest shown message the catch-up cursor stays (README, step 2). */
export const CATCH_UP_MARGIN_MS = 30_000;

/**
 * A failed request: the API's error envelope, or no answer at all.
 * `code` is the envelope's `error.code` (`unauthorized`, `invalid_field`,
 * `conversation_closed`, …), or `network_error` when no answer came.
 */
export class ApiError extends Error {
  /**
   * @param {object} fields
   * @param {number} fields.status HTTP status, 0 when no answer came
   * @param {string} fields.code the envelope's error.code
   * @param {string} fields.message the envelope's error.message
   * @param {string=} fields.field the field at fault, when one is
   * @param {boolean=} fields.followUpAllowed true on conversation_closed
   * @param {string=} fields.requestId the answer's x-request-id, to quote to support
   * @param {number=} fields.retryAfter seconds, from Retry-After (429, 503)
   */
  constructor({ status, code, message, field, followUpAllowed, requestId, retryAfter }) {
    super(field ? `${message} (${code}, field ${field})` : `${message} (${code})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field ?? null;
    this.followUpAllowed = Boolean(followUpAllowed);
    this.requestId = requestId ?? null;
    this.retryAfter = retryAfter ?? null;
  }

  /** Whether sending the same request again (with its Idempotency-Key) may succeed. */
  get retryable() {
    // 429: the customer's minute of messages is used up; the same send goes through
    // after Retry-After, when the next minute opens.
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** A new random id (a UUID v4), for Idempotency-Key and client_message_id. */
export function newId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * One HTTP call to the API: JSON in, the envelope's `data` out.
 * @param {object} request
 * @param {string} request.baseUrl the API's origin ('' for the page's own)
 * @param {string} request.method
 * @param {string} request.path with its query string
 * @param {Record<string,string>} request.headers
 * @param {object=} request.body sent as JSON
 * @param {typeof fetch=} request.fetchImpl
 * @returns {Promise<any>} the envelope's data
 * @throws {ApiError}
 */
export async function call({ baseUrl, method, path, headers, body, fetchImpl = globalThis.fetch.bind(globalThis) }) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetchImpl(`${baseUrl}${path}`, init);
  } catch (cause) {
    throw new ApiError({ status: 0, code: 'network_error', message: `no answer from the API: ${cause?.message ?? cause}` });
  }
  const requestId = response.headers.get('x-request-id');
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    // Not JSON: an answer from something in between (production's API Gateway answers
    // {"message":"Unauthorized"} itself, a proxy may answer HTML).
  }
  if (response.ok && envelope?.status === 'success') return envelope.data;
  const error = envelope?.error ?? {};
  const retryAfter = Number(response.headers.get('retry-after')) || undefined;
  throw new ApiError({
    status: response.status,
    code: error.code ?? (response.status === 401 ? 'unauthorized' : response.status === 403 ? 'forbidden' : 'http_error'),
    message: error.message ?? envelope?.message ?? `HTTP ${response.status}`,
    field: error.field,
    followUpAllowed: error.follow_up_allowed,
    requestId,
    retryAfter,
  });
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const enc = encodeURIComponent;

/**
 * The customer routes (`/api/client/…`), authenticated as the README shows: the bearer
 * token is hex(HMAC-SHA256(the user's secret, their email)), which the host product's
 * server computes and hands to its page; writes carry the email in the body, reads in
 * the X-SupportZen-Email header.
 */
export class CustomerClient {
  /**
   * @param {object} options
   * @param {string} options.email the signed-in user's email
   * @param {string} options.token the user's bearer token
   * @param {string=} options.baseUrl the API's origin ('' for the page's own)
   * @param {typeof fetch=} options.fetchImpl
   */
  constructor({ email, token, baseUrl = '', fetchImpl }) {
    Object.assign(this, { email, token, baseUrl, fetchImpl });
  }

  #call(method, path, body, { idempotencyKey, read = false, idempotent = true } = {}) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (read) headers['X-SupportZen-Email'] = this.email;
    if (method === 'POST' && idempotent) headers['Idempotency-Key'] = idempotencyKey ?? newId();
    return call({ baseUrl: this.baseUrl, method, path, headers, body, fetchImpl: this.fetchImpl });
  }

  #open(path, { message, createdAt, name, planId, followUpOf, attachments, clientMessageId = newId(), idempotencyKey }) {
    return this.#call('POST', path, {
      email: this.email, message, created_at: createdAt, name, plan_id: planId,
      follow_up_of: followUpOf, client_message_id: clientMessageId,
      attachments: attachments?.length ? attachments : undefined,
    }, { idempotencyKey });
  }

  #add(path, idField, id, { message, imageUrl, attachments, clientMessageId = newId(), idempotencyKey }) {
    return this.#call('POST', path, {
      [idField]: id, email: this.email, message, image_url: imageUrl, client_message_id: clientMessageId,
      attachments: attachments?.length ? attachments : undefined,
    }, { idempotencyKey });
  }

  /**
   * Opens a live chat with its first message. `createdAt` is when the user's account was
   * created (Unix seconds, required); `name` and `planId` are stored on their profile;
   * `followUpOf` names a closed conversation this one follows.
   * @returns {Promise<{chatId: string}>}
   */
  createChat(fields) {
    return this.#open('/api/client/live/create', fields);
  }

  /**
   * Sends a message to a chat. `fields`: `message`, optional `imageUrl`, and
   * `clientMessageId` and `idempotencyKey`, each made anew when absent: pass the same
   * two again to retry a send that got no answer, and it is written at most once.
   * @returns {Promise<{chatId: string, messageId: string}>}
   */
  sendChat(chatId, fields) {
    return this.#add('/api/client/live/chat', 'chat_id', chatId, fields);
  }

  /** Opens a ticket, with the fields of createChat. @returns {Promise<{ticketId: string}>} */
  createTicket(fields) {
    return this.#open('/api/client/ticket/create', fields);
  }

  /** Adds a message to a ticket, with the fields of sendChat. @returns {Promise<{ticketId: string, messageId: string}>} */
  appendTicket(ticketId, fields) {
    return this.#add('/api/client/ticket/append', 'ticket_id', ticketId, fields);
  }

  /** The user's conversations of `kind` ('chat' or 'ticket'), newest activity first. */
  conversations({ kind, limit, cursor } = {}) {
    return this.#call('GET', `/api/client/conversations${query({ kind, limit, cursor })}`, undefined, { read: true });
  }

  /** A page of a conversation's messages: `{after}` or `{before}` a message id, or the latest. */
  messages(id, { after, before, limit } = {}) {
    return this.#call('GET', `/api/client/conversations/${enc(id)}/messages${query({ after, before, limit })}`, undefined, { read: true });
  }

  /**
   * Marks a conversation read up to a message (one the user was shown; never a note).
   * The mark only moves forward: an older one answers the mark as it is. The agents see
   * it as `customerReadUpTo` and a `conversation.read` event.
   * @returns {Promise<{conversationId: string, readUpTo: string|null, unread: number}>}
   */
  markRead(id, upTo) {
    // Repeating a mark leaves it where it is: no key needed.
    return this.#call('POST', `/api/client/conversations/${enc(id)}/read`, { up_to: upTo }, { read: true, idempotent: false });
  }

  /** A single-use ticket for the realtime socket. @returns {Promise<{ticket: string, expiresAt: number}>} */
  realtimeTicket() {
    // A ticket is worth nothing twice: no key, so no receipt is stored for it.
    return this.#call('POST', '/api/client/realtime/ticket', undefined, { read: true, idempotent: false });
  }

  /**
   * Uploads a file as the README's "Attach a file" has it: declares it, then sends it
   * with the signed form straight to the storage. Name the id it returns in a send's
   * `attachments`.
   * @param {Blob & {name?: string}} file
   * @returns {Promise<string>} the attachment id
   * @throws {ApiError} a refused declaration (`field` names it), or `upload_failed`
   */
  async upload(file) {
    const declared = await this.#call('POST', '/api/client/attachments', {
      email: this.email, name: file.name || 'file', content_type: file.type || 'application/octet-stream', size: file.size,
    }, { idempotent: false });
    const form = new FormData();
    for (const [name, value] of Object.entries(declared.upload.fields)) form.append(name, value);
    form.append('file', file);
    let response;
    try {
      response = await (this.fetchImpl ?? globalThis.fetch.bind(globalThis))(declared.upload.url, { method: 'POST', body: form });
    } catch (cause) {
      throw new ApiError({ status: 0, code: 'network_error', message: `no answer from the storage: ${cause?.message ?? cause}` });
    }
    if (!response.ok) {
      throw new ApiError({ status: response.status, code: 'upload_failed', message: `the storage refused the file (HTTP ${response.status})` });
    }
    return declared.attachmentId;
  }

  /**
   * Rates a solved conversation, 1 to 5 with an optional comment; another rating within
   * 24 hours of the first replaces it (409 `conversation_not_solved`, `rating_final`).
   * @returns {Promise<{conversationId: string, rating: {rating: number, comment: string|null, ratedAt: number}}>}
   */
  rate(id, { rating, comment }) {
    return this.#call('POST', `/api/client/conversations/${enc(id)}/rating`, {
      email: this.email, rating, comment: comment || undefined,
    });
  }
}

/**
 * The agent routes (`/api/agent/…`), authenticated by a JWT from the identity provider
 * (locally, `supportzen agents token` or the console's local sign-in).
 */
export class AgentClient {
  /**
   * @param {object} options
   * @param {() => string | Promise<string>} options.token returns the current access token
   *   (called per request, so a renewed token is used at once)
   * @param {string=} options.baseUrl the API's origin ('' for the page's own)
   * @param {typeof fetch=} options.fetchImpl
   */
  constructor({ token, baseUrl = '', fetchImpl }) {
    Object.assign(this, { token, baseUrl, fetchImpl });
  }

  async #call(method, path, body, { idempotencyKey, idempotent = true } = {}) {
    const headers = { Authorization: `Bearer ${await this.token()}` };
    if (method === 'POST' && idempotent) headers['Idempotency-Key'] = idempotencyKey ?? newId();
    return call({ baseUrl: this.baseUrl, method, path, headers, body, fetchImpl: this.fetchImpl });
  }

  /**
   * A page of the inbox, newest activity first.
   * @param {object} filters
   * @param {'chat'|'ticket'} filters.kind
   * @param {'open'|'pending'|'solved'|'closed'=} filters.status
   * @param {'me'|'none'|'any'=} filters.assignee
   * @param {number=} filters.limit 1 to 100
   * @param {string=} filters.cursor the previous page's nextCursor
   */
  inbox({ kind, status, assignee, limit, cursor }) {
    return this.#call('GET', `/api/agent/conversations${query({ kind, status, assignee, limit, cursor })}`);
  }

  /** One conversation, as in the inbox. */
  conversation(id) {
    return this.#call('GET', `/api/agent/conversations/${enc(id)}`);
  }

  /** A page of messages and notes: `{after}` or `{before}` a message id, or the latest. */
  messages(id, { after, before, limit } = {}) {
    return this.#call('GET', `/api/agent/conversations/${enc(id)}/messages${query({ after, before, limit })}`);
  }

  /**
   * A reply, or with `internal` a note customers never see. Retrying a failed send with
   * the same `idempotencyKey` and `clientMessageId` writes it at most once.
   * @returns {Promise<{conversationId: string, message: object}>}
   */
  send(id, { message, internal = false, imageUrl, attachments, clientMessageId = newId(), idempotencyKey }) {
    return this.#call('POST', `/api/agent/conversations/${enc(id)}/messages`, {
      message, internal, image_url: imageUrl, client_message_id: clientMessageId, attachments,
    }, { idempotencyKey });
  }

  /**
   * Moves a conversation to `status`; `snoozeUntil` (Unix ms, future) with 'pending' only.
   * @returns {Promise<object>} the conversation
   */
  setStatus(id, status, { snoozeUntil, idempotencyKey } = {}) {
    return this.#call('POST', `/api/agent/conversations/${enc(id)}/status`, {
      status, snooze_until: snoozeUntil,
    }, { idempotencyKey });
  }

  /** Assigns a conversation to an agent id, or unassigns it with null. */
  assign(id, assignee, { idempotencyKey } = {}) {
    return this.#call('POST', `/api/agent/conversations/${enc(id)}/assign`, { assignee }, { idempotencyKey });
  }

  /**
   * Marks a conversation read for the agents (one mark shared by the team), up to a
   * message or note. The mark only moves forward; the customer sees it as
   * `agentsReadUpTo` and a `conversation.read` event.
   * @returns {Promise<{conversationId: string, readUpTo: string|null, unread: number}>}
   */
  markRead(id, upTo) {
    return this.#call('POST', `/api/agent/conversations/${enc(id)}/read`, { up_to: upTo }, { idempotent: false });
  }

  /** A single-use ticket for the realtime socket (every conversation's events). */
  realtimeTicket() {
    return this.#call('POST', '/api/agent/realtime/ticket', undefined, { idempotent: false });
  }

  /**
   * A customer by email (any case): their profile (`email`, `name`, `planId`,
   * `accountCreatedAt`, `firstSeenAt`) and a page of their conversations of `kind`,
   * newest activity first, with `hasMore` and `nextCursor` as the inbox. 404 if no
   * customer has the email.
   */
  customer({ email, kind, limit, cursor }) {
    return this.#call('GET', `/api/agent/customers${query({ email, kind, limit, cursor })}`);
  }

  /**
   * Uploads a file (a File or Blob with a `name` and `type`) as this agent's: declares it,
   * then sends it with the signed form the answer gives. Name the returned id in a
   * send's `attachments`.
   * @returns {Promise<string>} the attachment id
   */
  async upload(file, { name = file.name, contentType = file.type } = {}) {
    const declared = await this.#call('POST', '/api/agent/attachments', {
      name, content_type: contentType, size: file.size,
    });
    await sendUploadForm(declared.upload, file, name, this.fetchImpl);
    return declared.attachmentId;
  }
}

/**
 * Sends a file with an upload form the API signed (`upload` of the attachments routes):
 * its `fields`, then the file as `file`, to its `url`.
 * @throws {ApiError} when the storage refuses it (status and its answer's text)
 */
export async function sendUploadForm(upload, file, name, fetchImpl = globalThis.fetch.bind(globalThis)) {
  const form = new FormData();
  for (const [field, value] of Object.entries(upload.fields)) form.append(field, value);
  form.append('file', file, name);
  let response;
  try {
    response = await fetchImpl(upload.url, { method: 'POST', body: form });
  } catch (cause) {
    throw new ApiError({ status: 0, code: 'network_error', message: `no answer from the file storage: ${cause?.message ?? cause}` });
  }
  if (!response.ok) {
    throw new ApiError({ status: response.status, code: 'upload_refused', message: `the file storage refused the upload (HTTP ${response.status})` });
  }
}

/**
 * The local server's socket URL for a ticket: `ws://host/ws?ticket=…` (wss for https).
 * Production's WebSocket API has its own URL (the stack's WebSocketUrl output): pass
 * `socketBase` for it.
 * @param {string} apiBase the API's origin ('' for the page's own)
 * @param {string} ticket
 * @param {string=} socketBase e.g. wss://abc.execute-api.eu-west-1.amazonaws.com/live
 */
export function socketUrl(apiBase, ticket, socketBase) {
  if (socketBase) return `${socketBase}?ticket=${enc(ticket)}`;
  const origin = apiBase || globalThis.location.origin;
  return `${origin.replace(/^http/, 'ws')}/ws?ticket=${enc(ticket)}`;
}

/**
 * Keeps one realtime socket open: gets a ticket, opens the socket, and on any close
 * waits (1 s, doubling to 30 s, with jitter; reset once a socket has stayed open) and
 * does it again. `onOpen` runs each time a socket is open, before its first event: the
 * place to catch up (README, step 2), since from then on every event arrives.
 */
export class RealtimeConnection {
  /**
   * @param {object} options
   * @param {() => Promise<{ticket: string}>} options.getTicket e.g. client.realtimeTicket()
   * @param {(ticket: string) => string} options.url e.g. (t) => socketUrl('', t)
   * @param {(event: object) => void} options.onEvent each event's envelope
   * @param {(reconnected: boolean) => void=} options.onOpen
   * @param {(state: 'connecting'|'open'|'waiting'|'stopped', detail?: any) => void=} options.onState
   * @param {typeof WebSocket=} options.WebSocketImpl
   */
  constructor({ getTicket, url, onEvent, onOpen = () => {}, onState = () => {}, WebSocketImpl = globalThis.WebSocket }) {
    Object.assign(this, { getTicket, url, onEvent, onOpen, onState, WebSocketImpl });
    this.socket = null;
    /** True until start() and after stop(): neither connecting nor reconnecting. */
    this.stopped = true;
    this.failures = 0;
    this.opened = 0;
    this.timer = null;
  }

  /** Starts connecting (and reconnecting) until stop(). */
  start() {
    this.stopped = false;
    this.#connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
    this.onState('stopped');
  }

  /**
   * Tells the other side of a conversation that this user is typing: the server passes
   * on at most one every 2 s per sender and conversation, so calling it on every keystroke is
   * fine. `false` when no socket is open (nothing is queued: typing is only a hint).
   * Receivers get `{type: 'typing', conversationId, occurredAt, data: {from, agent}}`.
   */
  typing(conversationId) {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return false;
    socket.send(JSON.stringify({ action: 'typing', conversationId }));
    return true;
  }

  /** Sends `frame` (as JSON) if a socket is open; returns whether it did. */
  send(frame) {
    if (this.socket?.readyState !== 1) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Closes the current socket as a network failure would; it reconnects as after one. */
  drop() {
    this.socket?.close(4000, 'dropped by the client');
  }

  /** The wait before the next attempt after `failures` failed ones, in ms. */
  static backoff(failures) {
    const base = Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  async #connect() {
    if (this.stopped) return;
    this.onState('connecting');
    let ticket;
    try {
      ({ ticket } = await this.getTicket());
    } catch (error) {
      this.#retry(error);
      return;
    }
    if (this.stopped) return;
    const socket = new this.WebSocketImpl(this.url(ticket));
    this.socket = socket;
    let openedAt = 0;
    socket.onopen = () => {
      openedAt = Date.now();
      this.opened += 1;
      this.onState('open');
      this.onOpen(this.opened > 1);
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.onEvent(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // A socket that stayed open a while was a success: start the backoff afresh.
      if (openedAt && Date.now() - openedAt > 10_000) this.failures = 0;
      this.#retry(close);
    };
  }

  #retry(detail) {
    if (this.stopped) return;
    this.failures += 1;
    const wait = RealtimeConnection.backoff(this.failures);
    this.onState('waiting', { wait, detail });
    this.timer = setTimeout(() => this.#connect(), wait);
  }
}

/**
 * The messages one client has shown of one conversation, and the README's catch-up
 * cursor: the newest shown message created at least 30 s before the newest shown one
 * (the start when there is none so old). Messages are told apart by messageId, so one
 * read by the catch-up and also sent on the socket is shown once.
 */
export class ShownMessages {
  constructor() {
    /** @type {Map<string, {messageId: string, createdAt: number}>} */
    this.byId = new Map();
  }

  /** Whether `messageId` has been shown. */
  has(messageId) {
    return this.byId.has(messageId);
  }

  /** Records `messages`; returns those not shown before, in the order given. */
  add(messages) {
    const fresh = [];
    for (const message of messages) {
      if (this.byId.has(message.messageId)) continue;
      this.byId.set(message.messageId, { messageId: message.messageId, createdAt: message.createdAt });
      fresh.push(message);
    }
    return fresh;
  }

  /** The `after` cursor to catch up from. */
  cursor() {
    let newest = -Infinity;
    for (const m of this.byId.values()) newest = Math.max(newest, m.createdAt);
    let best = null;
    for (const m of this.byId.values()) {
      if (m.createdAt > newest - CATCH_UP_MARGIN_MS) continue;
      if (!best || m.createdAt > best.createdAt || (m.createdAt === best.createdAt && m.messageId > best.messageId)) best = m;
    }
    return best ? best.messageId : START_CURSOR;
  }
}

/**
 * Step 2 of the catch-up loop: reads every page `after` the shown messages' cursor and
 * returns the ones not shown yet (now recorded as shown), oldest first.
 * @param {(options: {after: string}) => Promise<{messages: object[], hasMore: boolean, nextCursor: string|null}>} readPage
 * @param {ShownMessages} shown
 */
export async function catchUp(readPage, shown) {
  const fresh = [];
  let after = shown.cursor();
  for (;;) {
    const page = await readPage({ after });
    fresh.push(...shown.add(page.messages));
    if (!page.hasMore || !page.nextCursor) return fresh;
    after = page.nextCursor;
  }
}

/**
 * How long an attachment's link is followed as it was read. The API signs each for 15
 * minutes (docs/openapi.json, Attachment.url) and a conversation can stay open all day,
 * so a link read longer ago than this has its message read again first.
 */
const LINKS_FRESH_MS = 10 * 60_000;

/** Whether links read at `readAt` (ms since the epoch, 0 if never) are to be read again. */
export function linksStale(readAt) {
  return Date.now() - readAt >= LINKS_FRESH_MS;
}

/**
 * Reads message `id` again, for new attachment links: the one message after the message
 * shown before it, else the one before the message shown after it (a message written
 * late can sit between them), else the latest page.
 * @param {(options: {after?: string, before?: string, limit: number}) => Promise<{messages: object[]}>} readPage
 * @param {string} id
 * @param {{previous?: string, next?: string, latest: number}} around the neighbours' ids
 *   and the latest page's size
 * @returns {Promise<object|null>} the message, or null when none of these pages holds it
 */
export async function readMessageAgain(readPage, id, { previous, next, latest }) {
  const reads = [];
  if (previous) reads.push({ after: previous, limit: 1 });
  if (next) reads.push({ before: next, limit: 1 });
  reads.push({ limit: latest });
  for (const options of reads) {
    const found = (await readPage(options)).messages.find((message) => message.messageId === id);
    if (found) return found;
  }
  return null;
}
